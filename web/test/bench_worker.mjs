// bench_browser.mjs's Worker: runs bench_core.mjs inside headless Chromium,
// with Chromium's own SHA-256 (WebCrypto, one-shot per chunk) and base64
// (atob, lenient, to a binary string) as the baselines, and posts the rows.
// Its CPU clock is a round trip to bench_browser.mjs, which reads /proc.
import { runBench } from './bench_core.mjs';

const clockWaiters = new Map();
let nextClock = 1;
function cpuClock() {
  return new Promise((resolve) => {
    const id = nextClock++;
    clockWaiters.set(id, resolve);
    globalThis.postMessage({ clock: id });
  });
}

globalThis.addEventListener('message', async (event) => {
  if (event.data.clock) {
    clockWaiters.get(event.data.clock)(event.data.ms);
    clockWaiters.delete(event.data.clock);
    return;
  }
  const { mib, chunkKiB } = event.data;
  try {
    const result = await runBench({
      mib,
      chunkKiB,
      cpuClock,
      log: (line) => globalThis.postMessage({ log: line }),
      baselines: {
        sha256What: 'WebCrypto digest (one-shot per chunk)',
        sha256: async (chunks) => {
          for (const c of chunks) await crypto.subtle.digest('SHA-256', c);
        },
        base64What: 'atob (lenient, to a binary string)',
        base64: (texts) => {
          for (const t of texts) atob(t);
        },
      },
    });
    globalThis.postMessage({ result });
  } catch (err) {
    globalThis.postMessage({ error: `${err.message}\n${err.stack}` });
  }
});
globalThis.postMessage({ ready: true });
