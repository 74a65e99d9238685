// The page's per-byte work (bench_core.mjs) measured in a module Worker of
// headless Chromium, where the page's download runs: Chromium's V8 and its
// Uint8Array.fromBase64 instead of node's (docs/performance.md "Browser
// engine"). Serves web/ on a loopback port of its own; no relay needed.
//
// Figures are per second of CPU time of Chromium's renderer processes (read
// from /proc by this script, nanoseconds from schedstat, at the Worker's
// request before and after each run): the page's main thread idles
// meanwhile, so that is the Worker's time (and its garbage collector's), and
// other processes on a busy machine do not count.
//
// Usage: node web/test/bench_browser.mjs [MiB per figure, default 128] [chunk KiB, default 256]
//   SEALRELAY_CHROMIUM=/path/to/chromium (default /usr/bin/chromium)
import { readFileSync, readdirSync } from 'node:fs';
import { createServer } from 'node:http';
import { createRequire } from 'node:module';
import { join, normalize } from 'node:path';

import { descendants, serveWebFile } from './bench_support.mjs';
import { webDir } from './helpers.mjs';

const mib = Number(process.argv[2] ?? 128);
const chunkKiB = Number(process.argv[3] ?? 256);
const { chromium } = createRequire(join(webDir, 'package.json'))('playwright-core');

// CPU milliseconds used so far by every thread of the renderers.
function rendererCpuMs() {
  let ns = 0;
  for (const { pid, cmdline } of descendants()) {
    if (!cmdline.includes('--type=renderer')) continue;
    let tids = [];
    try {
      tids = readdirSync(`/proc/${pid}/task`);
    } catch {
      continue;
    }
    for (const tid of tids) {
      try {
        ns += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
      } catch {
        // The thread ended meanwhile; its time is lost to the figure (rare, small).
      }
    }
  }
  return ns / 1e6;
}

const server = createServer(async (req, res) => {
  const path = normalize(decodeURIComponent(new URL(req.url, 'http://x').pathname));
  if (path === '/') {
    res.writeHead(200, { 'Content-Type': 'text/html' }).end('<!doctype html><title>bench</title>');
    return;
  }
  await serveWebFile(path, res);
});
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
const origin = `http://127.0.0.1:${server.address().port}`;

const browser = await chromium.launch({
  executablePath: process.env.SEALRELAY_CHROMIUM ?? '/usr/bin/chromium',
  headless: true,
  args: ['--headless', '--no-sandbox', '--disable-gpu'],
});
try {
  const page = await browser.newPage();
  page.on('console', (msg) => console.log(`[page] ${msg.text()}`));
  await page.exposeFunction('benchCpuMs', rendererCpuMs);
  await page.goto(`${origin}/`);
  const version = browser.version();
  const out = await page.evaluate(({ mib, chunkKiB }) => new Promise((resolve) => {
    const worker = new Worker('/test/bench_worker.mjs', { type: 'module' });
    worker.onerror = (e) => resolve({ error: e.message || 'the worker failed to load' });
    worker.onmessage = async (e) => {
      if (e.data.ready) worker.postMessage({ mib, chunkKiB });
      else if (e.data.clock) worker.postMessage({ clock: e.data.clock, ms: await globalThis.benchCpuMs() });
      else if (e.data.log) console.log(e.data.log);
      else resolve(e.data);
    };
  }), { mib, chunkKiB });
  if (out.error) throw new Error(out.error);
  const { formatRows } = await import('./bench_core.mjs');
  const { rows, count, chunkBytes, total, sodiumVersion, clock } = out.result;
  console.log(`Chromium ${version} (headless, module Worker), libsodium ${sodiumVersion} (libsodium-wrappers, wasm), ` +
              `${count} x ${chunkBytes / 1024} KiB = ${(total / 1048576).toFixed(0)} MiB per figure, best of 3, MB per second of ${clock}`);
  console.log(formatRows(rows));
} finally {
  await browser.close();
  server.close();
}
