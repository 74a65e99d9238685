// Runs one web/test/*.test.mjs file under `node --test` for ctest and turns
// its outcome into an exit code ctest understands:
//   0   every test ran and passed
//   1   a test failed, or none ran
//   77  (SKIP_RETURN_CODE) nothing failed but something was skipped, with
//       the reason printed; also when web/node_modules is not installed.
// So a test that could not run shows as skipped, never as passed.
//
// Usage: node web/test/ctest_run.mjs web/test/frames.test.mjs
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';

import { webDir } from './helpers.mjs';

const SKIP = 77;
const file = process.argv[2] && resolve(process.argv[2]);
if (!file) {
  console.error('usage: node ctest_run.mjs FILE.test.mjs');
  process.exit(2);
}

for (const needed of ['node_modules/libsodium-wrappers/package.json', 'vendor/libsodium-wrappers.mjs']) {
  if (!existsSync(join(webDir, needed))) {
    console.log(`skipped: web/${needed} is missing; run scripts/setup (npm ci in web/)`);
    process.exit(SKIP);
  }
}

const child = spawn(process.execPath, ['--test', '--test-reporter=tap', file], {
  cwd: webDir,
  stdio: ['ignore', 'pipe', 'inherit'],
});
let output = '';
child.stdout.setEncoding('utf8');
child.stdout.on('data', (text) => {
  output += text;
  process.stdout.write(text);
});
child.on('close', (code, signal) => {
  const count = (what) => Number(output.match(new RegExp(`^# ${what} (\\d+)$`, 'm'))?.[1] ?? NaN);
  const [pass, fail, skipped] = [count('pass'), count('fail'), count('skipped')];
  if (code !== 0 || signal || !(fail === 0)) {
    console.log(`ctest_run: ${file} failed (exit ${code ?? signal}, ${fail} failed)`);
    process.exit(1);
  }
  if (skipped > 0) {
    console.log(`ctest_run: ${file}: ${skipped} skipped, ${pass} passed`);
    process.exit(SKIP);
  }
  if (!(pass > 0)) {
    console.log(`ctest_run: ${file}: no test ran`);
    process.exit(1);
  }
  process.exit(0);
});
