// Throughput of the page's per-byte work under node, each beside a baseline
// measured in the same run (docs/performance.md "Browser engine"):
//   frame open (XChaCha20-Poly1305 + JS SHA-256 + checks)   vs raw libsodium-wrappers decrypt
//   JS SHA-256                                              vs node:crypto SHA-256 (OpenSSL)
//   base64 decode (strict, table-driven JS)                 vs node Buffer (lenient, native)
//   SSE event -> base64 -> open, the whole receive path     vs raw decrypt
//
// Usage: node web/test/bench_frames.mjs [MiB per figure, default 128] [chunk KiB, default 256]
import { createHash } from 'node:crypto';

import sodium from '../js/sodium.js';
import * as base64 from '../js/base64.js';
import { utf8 } from '../js/bytes.js';
import { FrameOpener, FrameSealer } from '../js/frames.js';
import { Sha256 } from '../js/sha256.js';
import { SseParser } from '../js/sse.js';

const mib = Number(process.argv[2] ?? 128);
const chunkBytes = Number(process.argv[3] ?? 256) * 1024;
const count = Math.max(1, Math.floor((mib * 1024 * 1024) / chunkBytes));
const total = count * chunkBytes;

const keys = { frameKey: sodium.randombytes_buf(32), handshakeHash: sodium.randombytes_buf(64) };
const chunk = sodium.randombytes_buf(chunkBytes);
const sealer = new FrameSealer(keys, 0);
const frames = [];
for (let i = 0; i < count; ++i) frames.push(sealer.sealChunk(chunk));
const trailer = sealer.sealTrailer();

// Best of 3 runs, in MB/s (10^6 bytes per second) of plaintext.
function measure(run) {
  let best = Infinity;
  for (let round = 0; round < 3; ++round) {
    const start = performance.now();
    run();
    best = Math.min(best, performance.now() - start);
  }
  return total / 1e6 / (best / 1000);
}

const rawNonce = sodium.randombytes_buf(24);
const rawAd = sodium.randombytes_buf(74);
const rawSealed = sodium.crypto_aead_xchacha20poly1305_ietf_encrypt(chunk, rawAd, null, rawNonce, keys.frameKey);
const raw = measure(() => {
  for (let i = 0; i < count; ++i) {
    sodium.crypto_aead_xchacha20poly1305_ietf_decrypt(null, rawSealed, rawAd, rawNonce, keys.frameKey);
  }
});

const open = measure(() => {
  const opener = new FrameOpener(keys, 0);
  for (const f of frames) opener.open(f);
  opener.open(trailer);
  opener.finish();
});

const jsSha = measure(() => {
  const s = new Sha256();
  for (let i = 0; i < count; ++i) s.update(chunk);
  s.finish();
});
const nodeSha = measure(() => {
  const s = createHash('sha256');
  for (let i = 0; i < count; ++i) s.update(chunk);
  s.digest();
});

const text = base64.encode(frames[0]);
const b64 = measure(() => {
  for (let i = 0; i < count; ++i) base64.decode(text);
});
const b64Node = measure(() => {
  for (let i = 0; i < count; ++i) Buffer.from(text, 'base64');
});

// The receive path: SSE bytes as the relay writes them, parsed, decoded, opened.
const events = frames.map((f, i) => utf8(`event: frame\nid: ${i + 1}\ndata: ${base64.encode(f)}\n\n`));
events.push(utf8(`event: frame\nid: ${count + 1}\ndata: ${base64.encode(trailer)}\n\n`));
const path = measure(() => {
  const parser = new SseParser();
  const opener = new FrameOpener(keys, 0);
  for (const bytes of events) {
    for (let at = 0; at < bytes.length; at += 65536) {
      for (const e of parser.feed(bytes.subarray(at, at + 65536))) opener.open(base64.decode(e.data));
    }
  }
  opener.finish();
});

const row = (what, ours, baseWhat, base) =>
  console.log(`${what.padEnd(44)} ${ours.toFixed(0).padStart(6)} MB/s   ${baseWhat.padEnd(36)} ` +
              `${base.toFixed(0).padStart(6)} MB/s   x${(ours / base).toFixed(2)}`);
console.log(`node ${process.version}, libsodium ${sodium.SODIUM_VERSION_STRING} (libsodium-wrappers, wasm), ` +
            `${count} x ${chunkBytes / 1024} KiB = ${(total / 1048576).toFixed(0)} MiB per figure, best of 3`);
row('frame open (AEAD + JS SHA-256 + checks)', open, 'raw XChaCha20-Poly1305 decrypt', raw);
row('SHA-256, JS (web/js/sha256.js)', jsSha, 'node:crypto (OpenSSL)', nodeSha);
row('base64 decode, strict (JS table)', b64, 'node Buffer (lenient, native)', b64Node);
row('SSE parse + base64 decode + frame open', path, 'raw XChaCha20-Poly1305 decrypt', raw);
