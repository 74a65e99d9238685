// The page's whole download pipeline in headless Chromium, without a relay
// or an agent using the machine's CPU meanwhile: what the browser alone can
// do (docs/performance.md "Browser page"). A small server here replays one
// recorded transfer at full speed: the handshake is made deterministic (a
// fixed requester ephemeral and timestamp, the page's ephemeralForTest
// option), so message 2 and the sealed frames are made once, before the
// clock starts. The page runs the real transfer_client.js / transfer_worker.js
// / hash_worker.js and writes to a file in the origin-private file system
// through a File System Access writable stream, as the page's DiskTarget does.
//
// The server answers the binary event stream when the page asks for it (as
// the relay does), else SSE. Runs alternate with the hash Worker and without
// it, so its effect shows beside the rest in the same run. Per run: MB/s from start to the verified
// last write, and CPU seconds per GiB of Chromium's renderer (page and
// Workers) and of its other processes (browser, network), from /proc.
//
// Usage: node web/test/bench_pipeline.mjs [MiB, default 256] [rounds, default 2]
//   SEALRELAY_CHROMIUM=/path/to/chromium (default /usr/bin/chromium)
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, normalize } from 'node:path';

import * as base64 from '../js/base64.js';
import { utf8 } from '../js/bytes.js';
import { CONTENT_TYPE, TYPE, record } from '../js/event_stream.js';
import { FrameSealer } from '../js/frames.js';
import { identityOf } from '../js/noise.js';
import { encodeAnswer, encodeRequest } from '../js/payloads.js';
import { InitiatorHandshake, ResponderHandshake } from '../js/session.js';
import { descendants, serveWebFile } from './bench_support.mjs';
import { webDir } from './helpers.mjs';

const mib = Number(process.argv[2] ?? 256);
const rounds = Number(process.argv[3] ?? 2);
const CHUNK = 256 * 1024;
const { chromium } = createRequire(join(webDir, 'package.json'))('playwright-core');

// ---- The recorded transfer ----

const key = (label) => identityOf(Uint8Array.from({ length: 32 }, (_, i) => (i * 7 + label) & 0xff));
const requester = key(1);
const agent = key(2);
const ephemeral = key(3);
const size = mib * 1024 * 1024;
const request = { op: 'get', path: '/bench.bin', offset: 0, chunkSize: CHUNK, timestampMs: 1 };
const initiator = InitiatorHandshake.startForTest(requester, agent.publicKey, encodeRequest(request), ephemeral);
const responder = ResponderHandshake.read(agent, initiator.message1);
const { message2, keys } = responder.answer(encodeAnswer({
  ok: true, type: 'file', name: 'bench.bin', size, mtime: 1, chunkSize: CHUNK, offset: 0, firstIndex: 0, frames: true,
}));
const content = new Uint8Array(CHUNK);
crypto.getRandomValues(content.subarray(0, 65536));
for (let at = 65536; at < CHUNK; at += 65536) content.copyWithin(at, 0, 65536);
const sealer = new FrameSealer(keys, 0);
const sealed = [];
const frames = size / CHUNK;
for (let i = 0; i < frames; ++i) sealed.push(sealer.sealChunk(content));
sealed.push(sealer.sealTrailer());
// The stream in either format, made on first use: SSE (frames in base64),
// or binary records (each frame's header, then the frame).
const frameHeader = (f, i) => {
  const header = record(TYPE.frame, i + 1);
  new DataView(header.buffer).setUint32(9, f.length);
  return header;
};
const parts = {};
const partsOf = {
  sse: () => [utf8(`event: answer\nid: 0\ndata: ${base64.encode(message2)}\n\n`),
              ...sealed.map((f, i) => utf8(`event: frame\nid: ${i + 1}\ndata: ${base64.encode(f)}\n\n`)),
              utf8(`event: end\nid: ${frames + 2}\ndata: {"frames":${frames + 1}}\n\n`)],
  binary: () => [record(TYPE.answer, 0, utf8(base64.encode(message2))),
                 ...sealed.flatMap((f, i) => [frameHeader(f, i), f]),
                 record(TYPE.end, frames + 2, utf8(`{"frames":${frames + 1}}`))],
};
const formatsServed = new Set();

// ---- The server: web/ and the relay's three routes for this transfer ----

const server = createServer(async (req, res) => {
  const path = normalize(decodeURIComponent(new URL(req.url, 'http://x').pathname));
  if (path === '/') {
    res.writeHead(200, { 'Content-Type': 'text/html' }).end('<!doctype html><title>pipeline</title>');
  } else if (path === '/v1/transfers' && req.method === 'POST') {
    res.writeHead(201, { 'Content-Type': 'application/json' }).end('{"transfer_id":"t_bench","state":"requested"}');
  } else if (path === '/v1/transfers/t_bench/events') {
    const binary = (req.headers.accept ?? '').includes(CONTENT_TYPE);
    formatsServed.add(binary ? 'binary' : 'SSE');
    res.writeHead(200, { 'Content-Type': binary ? CONTENT_TYPE : 'text/event-stream', 'Cache-Control': 'no-store' });
    const format = binary ? 'binary' : 'sse';
    parts[format] ??= partsOf[format]();
    for (const part of parts[format]) {
      if (!res.write(part)) await new Promise((resolve) => res.once('drain', resolve));
      if (res.destroyed) return;
    }
    res.end();
  } else if (path.startsWith('/v1/transfers/')) {
    res.writeHead(200, { 'Content-Type': 'application/json' }).end('{}');
  } else {
    await serveWebFile(path, res);
  }
});
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
const origin = `http://127.0.0.1:${server.address().port}`;

// ---- CPU of Chromium's processes (descendants of this one), from /proc ----

function chromiumCpuSeconds() {
  const out = { renderer: 0, other: 0 };
  for (const { pid, cmdline } of descendants()) {
    if (!cmdline.includes('chrom')) continue;
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      out[cmdline.includes('--type=renderer') ? 'renderer' : 'other'] += (Number(f[11]) + Number(f[12])) / 100;
    } catch {
      // Gone meanwhile.
    }
  }
  return out;
}

// ---- The runs ----

const profile = mkdtempSync(join(tmpdir(), 'sealrelay-pipeline-'));
const context = await chromium.launchPersistentContext(profile, {
  executablePath: process.env.SEALRELAY_CHROMIUM ?? '/usr/bin/chromium',
  headless: true,
  args: ['--headless', '--no-sandbox', '--disable-gpu'],
});
const gib = size / 1024 ** 3;
const results = { true: [], false: [] };
try {
  const page = context.pages()[0] ?? await context.newPage();
  page.on('pageerror', (err) => console.error(`page error: ${err.message}`));
  await page.goto(`${origin}/`);
  for (let round = 0; round < rounds; ++round) {
    for (const hashWorker of [true, false]) {
      const before = chromiumCpuSeconds();
      const ms = await page.evaluate(async ({ origin, hashWorker, options }) => {
        const { openTransferWorker, startTransfer } = await import('/js/transfer_client.js');
        const worker = await openTransferWorker(new URL('/js/transfer_worker.js', origin),
                                                hashWorker ? new URL('/js/hash_worker.js', origin) : null);
        const bytes = (a) => Uint8Array.from(a);
        const root = await navigator.storage.getDirectory();
        const writable = await (await root.getFileHandle('bench.bin', { create: true })).createWritable();
        const start = performance.now();
        const t = startTransfer(worker, {
          ...options,
          relay: origin,
          agentKey: bytes(options.agentKey),
          identity: { privateKey: bytes(options.identity.privateKey), publicKey: bytes(options.identity.publicKey) },
          ephemeralForTest: { privateKey: bytes(options.ephemeralForTest.privateKey),
                              publicKey: bytes(options.ephemeralForTest.publicKey) },
        }, { onChunk: (chunk) => writable.write(chunk), recycle: true });
        await t.done;
        await writable.close();
        const elapsed = performance.now() - start;
        worker.terminate();
        return elapsed;
      }, {
        origin,
        hashWorker,
        options: {
          token: 'srt_bench', agent: 'bench', agentKey: [...agent.publicKey],
          identity: { privateKey: [...requester.privateKey], publicKey: [...requester.publicKey] },
          ephemeralForTest: { privateKey: [...ephemeral.privateKey], publicKey: [...ephemeral.publicKey] },
          request,
        },
      });
      const after = chromiumCpuSeconds();
      const run = { mbs: size / 1e6 / (ms / 1000), renderer: (after.renderer - before.renderer) / gib,
                    other: (after.other - before.other) / gib };
      results[hashWorker].push(run);
      console.log(`${hashWorker ? 'with the hash Worker   ' : 'without the hash Worker'} ${run.mbs.toFixed(0).padStart(5)} MB/s; ` +
                  `CPU-s per GiB: renderer ${run.renderer.toFixed(1)}, browser and network ${run.other.toFixed(1)}`);
    }
  }
} finally {
  await context.close();
  rmSync(profile, { recursive: true, force: true });
  server.close();
}
const best = (runs) => Math.max(...runs.map((r) => r.mbs));
console.log(`${mib} MiB in ${CHUNK / 1024} KiB frames, ${rounds} round(s), event stream served as ` +
            `${[...formatsServed].join(' and ')}; best with / without the hash Worker: ` +
            `${best(results.true).toFixed(0)} / ${best(results.false).toFixed(0)} MB/s ` +
            `(x${(best(results.true) / best(results.false)).toFixed(2)})`);
