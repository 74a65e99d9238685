// Test helpers: where the checkout is, and how a test says
// "skipped" with a reason instead of passing silently.
import { existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const webDir = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const repoDir = resolve(webDir, '..');

// Skips `t` with `reason` (visible in the TAP output as "# SKIP reason"),
// and, when SEALRELAY_STRICT_SKIP is set (ctest sets it), also prints a line
// the ctest SKIP_REGULAR_EXPRESSION matches, so a skipped test never shows as
// a pass.
export function skip(t, reason) {
  console.log(`SEALRELAY_SKIPPED: ${reason}`);
  t.skip(reason);
}

export function fileExists(path) {
  return existsSync(path);
}
