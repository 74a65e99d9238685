// The measurements of the page's per-byte work, shared by
// bench_frames.mjs (node) and bench_browser.mjs (a Worker in headless
// Chromium, through bench_worker.mjs), each figure beside a baseline
// measured in the same run (docs/performance.md "Browser engine").
//
// runBench({mib, chunkKiB, baselines, cpuClock, log}) resolves to rows
// {what, ours, baseWhat, base} in MB of plaintext (10^6 bytes) per second of
// CPU time, best of 3: on a machine shared with builds, wall time says more
// about the neighbours than about the code. `cpuClock()` (may be async)
// returns the CPU milliseconds used so far by the thread measured (its
// process: nothing else runs there meanwhile); without it, wall time.
// `baselines` brings what only one engine has:
//   sha256(chunks)       native SHA-256 over the chunks (may be async)
//   sha256What           its name
//   base64(texts)        a native base64 decoder over the texts
//   base64What           its name
import sodium from '../js/sodium.js';
import * as base64 from '../js/base64.js';
import { utf8 } from '../js/bytes.js';
import { FrameOpener, FrameSealer } from '../js/frames.js';
import { MAX_FRAME_BYTES } from '../js/protocol.js';
import { Sha256 } from '../js/sha256.js';
import { SseParser } from '../js/sse.js';

// Pieces the SSE bytes are fed in: about what a network read hands over.
const READ_BYTES = 65536;

export async function runBench({ mib = 128, chunkKiB = 256, baselines = {}, cpuClock = null,
                                  log = () => {} } = {}) {
  const clock = cpuClock ?? (() => performance.now());
  const chunkBytes = chunkKiB * 1024;
  const count = Math.max(1, Math.floor((mib * 1024 * 1024) / chunkBytes));
  const total = count * chunkBytes;

  const keys = { frameKey: sodium.randombytes_buf(32), handshakeHash: sodium.randombytes_buf(64) };
  const chunk = sodium.randombytes_buf(chunkBytes);
  const chunks = Array.from({ length: count }, () => chunk);
  const sealer = new FrameSealer(keys, 0);
  const frames = [];
  for (let i = 0; i < count; ++i) frames.push(sealer.sealChunk(chunk));
  const trailer = sealer.sealTrailer();
  // The SSE bytes as the relay writes them.
  const events = frames.map((f, i) => utf8(`event: frame\nid: ${i + 1}\ndata: ${base64.encode(f)}\n\n`));
  events.push(utf8(`event: frame\nid: ${count + 1}\ndata: ${base64.encode(trailer)}\n\n`));
  const texts = frames.map((f) => base64.encode(f));

  // Best of 3 runs, in MB of plaintext per second (of CPU time, with a cpuClock).
  async function measure(what, run) {
    let best = Infinity;
    for (let round = 0; round < 3; ++round) {
      const start = await clock();
      await run();
      best = Math.min(best, (await clock()) - start);
    }
    const mbs = total / 1e6 / (best / 1000);
    log(`${what}: ${mbs.toFixed(0)} MB/s`);
    return mbs;
  }
  const rows = [];
  const row = (what, ours, baseWhat, base) => rows.push({ what, ours, baseWhat, base });

  const rawNonce = sodium.randombytes_buf(24);
  const rawAd = sodium.randombytes_buf(74);
  const rawSealed = sodium.crypto_aead_xchacha20poly1305_ietf_encrypt(chunk, rawAd, null, rawNonce, keys.frameKey);
  const raw = await measure('raw decrypt', () => {
    for (let i = 0; i < count; ++i) {
      sodium.crypto_aead_xchacha20poly1305_ietf_decrypt(null, rawSealed, rawAd, rawNonce, keys.frameKey);
    }
  });

  const open = await measure('frame open', () => {
    const opener = new FrameOpener(keys, 0);
    for (const f of frames) opener.open(f);
    opener.open(trailer);
    opener.finish();
  });
  row('frame open (AEAD + SHA-256 + checks)', open, 'raw XChaCha20-Poly1305 decrypt', raw);

  const jsSha = await measure('SHA-256 JS', () => {
    const s = new Sha256();
    for (const c of chunks) s.update(c);
    s.finish();
  });
  if (baselines.sha256) {
    row('SHA-256, JS (web/js/sha256.js)', jsSha, baselines.sha256What,
        await measure(baselines.sha256What, () => baselines.sha256(chunks)));
  }

  const b64 = await measure('base64 decode', () => {
    for (const t of texts) if (!base64.decode(t)) throw new Error('bad base64');
  });
  if (baselines.base64) {
    row(`base64 decode, strict (${base64.decodersForTest.native ? 'Uint8Array.fromBase64' : 'JS table'})`, b64,
        baselines.base64What, await measure(baselines.base64What, () => baselines.base64(texts)));
  }

  const decoder = new TextDecoder();
  const sse = await measure('SSE parse', () => {
    const parser = new SseParser();
    for (const bytes of events) {
      for (let at = 0; at < bytes.length; at += READ_BYTES) parser.feed(bytes.subarray(at, at + READ_BYTES));
    }
  });
  const textDecode = await measure('TextDecoder', () => {
    for (const bytes of events) {
      for (let at = 0; at < bytes.length; at += READ_BYTES) decoder.decode(bytes.subarray(at, at + READ_BYTES),
                                                                            { stream: true });
    }
  });
  row('SSE parse (web/js/sse.js)', sse, 'TextDecoder over the same bytes', textDecode);

  // As the page's Worker does it (transfer.js): every frame decoded into one buffer.
  const frameBuffer = new Uint8Array(MAX_FRAME_BYTES);
  const path = await measure('receive path', () => {
    const parser = new SseParser();
    const opener = new FrameOpener(keys, 0);
    for (const bytes of events) {
      for (let at = 0; at < bytes.length; at += READ_BYTES) {
        for (const e of parser.feed(bytes.subarray(at, at + READ_BYTES))) {
          opener.open(frameBuffer.subarray(0, base64.decodeInto(e.data, frameBuffer)));
        }
      }
    }
    opener.finish();
  });
  row('SSE parse + base64 decode + frame open', path, 'raw XChaCha20-Poly1305 decrypt', raw);
  return { rows, count, chunkBytes, total, sodiumVersion: sodium.SODIUM_VERSION_STRING,
           clock: cpuClock ? 'CPU time' : 'wall time' };
}

export function formatRows(rows) {
  return rows.map(({ what, ours, baseWhat, base }) =>
    `${what.padEnd(44)} ${ours.toFixed(0).padStart(6)} MB/s   ${baseWhat.padEnd(36)} ` +
    `${base.toFixed(0).padStart(6)} MB/s   x${(ours / base).toFixed(2)}`).join('\n');
}
