// Throughput of the page's per-byte work under node, each beside a baseline
// measured in the same run (docs/performance.md "Browser engine"); the
// measurements are bench_core.mjs's, which bench_browser.mjs runs in
// headless Chromium:
//   frame open (XChaCha20-Poly1305 + JS SHA-256 + checks)   vs raw libsodium-wrappers decrypt
//   JS SHA-256                                              vs node:crypto SHA-256 (OpenSSL)
//   base64 decode (strict)                                  vs node Buffer (lenient, native)
//   SSE parse                                               vs TextDecoder over the same bytes
//   SSE event -> base64 -> open, the whole receive path     vs raw decrypt
//
// Usage: node web/test/bench_frames.mjs [MiB per figure, default 128] [chunk KiB, default 256]
import { createHash } from 'node:crypto';

import { formatRows, runBench } from './bench_core.mjs';

const mib = Number(process.argv[2] ?? 128);
const chunkKiB = Number(process.argv[3] ?? 256);

// CPU time of this process (the benchmark runs on its main thread).
const cpuClock = () => {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
};

const { rows, count, chunkBytes, total, sodiumVersion, clock } = await runBench({
  mib,
  chunkKiB,
  cpuClock,
  baselines: {
    sha256What: 'node:crypto (OpenSSL)',
    sha256: (chunks) => {
      const s = createHash('sha256');
      for (const c of chunks) s.update(c);
      s.digest();
    },
    base64What: 'node Buffer (lenient, native)',
    base64: (texts) => {
      for (const t of texts) Buffer.from(t, 'base64');
    },
  },
});
console.log(`node ${process.version}, libsodium ${sodiumVersion} (libsodium-wrappers, wasm), ` +
            `${count} x ${chunkBytes / 1024} KiB = ${(total / 1048576).toFixed(0)} MiB per figure, best of 3, MB per second of ${clock}`);
console.log(formatRows(rows));
