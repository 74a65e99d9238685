// Compressed frames in the page (docs/protocol.md §3.1): the zstd decoder of
// zstd.js inside FrameOpener, and the offer and decision in the payloads.
// The compressed fixtures were made with `zstd -1 --no-check` (the page has
// no encoder); the C++ agent's own frames are checked in interop.test.mjs.
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { FrameOpener, FrameSealer, openerOptions } from '../js/frames.js';
import { concat, equal, utf8 } from '../js/bytes.js';
import { decodeAnswer, decodeRequest, encodeAnswer, encodeRequest } from '../js/payloads.js';
import { FLAG_COMPRESSED } from '../js/protocol.js';
import { loadZstd } from '../js/zstd.js';
import { handshake } from './support.mjs';

const fromB64 = (s) => Uint8Array.from(Buffer.from(s, 'base64'));
// 4096 rows "date,sku,amount\n" (64 KiB), and the same with one letter
// changed in each row; 1 MiB of zeros.
const ROWS = utf8('date,sku,amount\n'.repeat(4096));
const ROWS_Z = fromB64('KLUv/WAA/8UAAIBkYXRlLHNrdSxhbW91bnQKAQDa/6PPJQ==');
const OTHER_ROWS_Z = fromB64('KLUv/WAA/8UAAIBkYXRlLHNrdSxhbW91blQKAQDa/6PPJQ==');
const MIB_OF_ZEROS_Z = fromB64('KLUv/YBIAAAQAFQAABAAAAEA+/85wAICABAAAgAQAAIAEAACABAAAgAQAAIAEAADABAA');

const CHUNK = 65536;

async function openAll(keys, frames, { chunkBytes = CHUNK, agreed = true } = {}) {
  const decompressor = agreed ? await loadZstd() : null;
  const opener = new FrameOpener(keys, 0, { chunkBytes, decompressor });
  const parts = [];
  try {
    for (const f of frames) {
      const r = opener.open(f);
      if (r.kind === 'data') parts.push(r.chunk);
    }
    opener.finish();
    return { content: concat(...parts), error: null };
  } catch (err) {
    return { content: null, error: err.code };
  }
}

test('a compressed frame opens to its content and the trailer verifies it', async () => {
  const { agentKeys: agent, requesterKeys: requester } = handshake();
  const sealer = new FrameSealer(agent);
  const frames = [sealer.sealCompressedForTest(ROWS, ROWS_Z), sealer.sealCompressedForTest(ROWS, ROWS_Z),
                  sealer.sealChunk(utf8('tail')), sealer.sealTrailer()];
  assert.equal(frames[0][1], FLAG_COMPRESSED);
  const { content, error } = await openAll(requester, frames);
  assert.equal(error, null);
  assert.ok(equal(content, concat(ROWS, ROWS, utf8('tail'))));
});

test('a compressed frame that would expand past the chunk is an integrity error, nothing released', async () => {
  const { agentKeys: agent, requesterKeys: requester } = handshake();
  const sealer = new FrameSealer(agent);
  const frames = [sealer.sealCompressedForTest(new Uint8Array(1 << 20), MIB_OF_ZEROS_Z), sealer.sealTrailer()];
  assert.equal((await openAll(requester, frames, { chunkBytes: 4096 })).error, 'bad_frame');
  // One byte short of the content is refused too; exactly the content passes.
  assert.equal((await openAll(requester, frames, { chunkBytes: (1 << 20) - 1 })).error, 'bad_frame');
  assert.equal((await openAll(requester, frames, { chunkBytes: 1 << 20 })).error, null);
});

test("a lying agent's compressed frame that decompresses to other bytes is caught by the hash", async () => {
  const { agentKeys: agent, requesterKeys: requester } = handshake();
  const sealer = new FrameSealer(agent);
  const frames = [sealer.sealCompressedForTest(ROWS, OTHER_ROWS_Z), sealer.sealTrailer()];
  assert.equal((await openAll(requester, frames)).error, 'trailer_mismatch');
});

test('compressed frames are refused unless the answer agreed compression; bad zstd is bad_frame', async () => {
  const { agentKeys: agent, requesterKeys: requester } = handshake();
  let sealer = new FrameSealer(agent);
  const frames = [sealer.sealCompressedForTest(ROWS, ROWS_Z), sealer.sealTrailer()];
  assert.equal((await openAll(requester, frames, { agreed: false })).error, 'bad_frame');
  sealer = new FrameSealer(agent);
  const garbage = [sealer.sealCompressedForTest(ROWS, utf8('not zstd at all')), sealer.sealTrailer()];
  assert.equal((await openAll(requester, garbage)).error, 'bad_frame');
  sealer = new FrameSealer(agent);
  const big = [sealer.sealChunk(new Uint8Array(CHUNK + 1)), sealer.sealTrailer()];
  assert.equal((await openAll(requester, big)).error, 'bad_frame', 'a data frame over the chunk size');
});

test('openerOptions hands the decompressor over only when the answer agreed', async () => {
  const d = await loadZstd();
  assert.equal(openerOptions({ chunkSize: 4096, compression: false }, { decompressor: d }).decompressor, null);
  assert.equal(openerOptions({ chunkSize: 4096, compression: true }, { decompressor: d }).decompressor, d);
  assert.equal(openerOptions({ chunkSize: 4096, compression: true }, { decompressor: d }).chunkBytes, 4096);
});

test('the offer and the decision encode as the C++ encoders do and are left out when off', () => {
  const request = { op: 'get', path: '/a', offset: 0, chunkSize: 4096, timestampMs: 5 };
  const text = (bytes) => new TextDecoder().decode(bytes).trimEnd();
  assert.equal(text(encodeRequest(request)), '{"chunk_size":4096,"offset":0,"op":"get","path":"/a","ts":5,"v":1}');
  assert.equal(text(encodeRequest({ ...request, offerCompression: true })),
               '{"chunk_size":4096,"compress":["zstd"],"offset":0,"op":"get","path":"/a","ts":5,"v":1}');
  assert.equal(decodeRequest(encodeRequest({ ...request, offerCompression: true })).offerCompression, true);
  assert.equal(decodeRequest(utf8('{"v":1,"op":"get","path":"/a","ts":5,"compress":["lz9","zstd"]}'))
    .offerCompression, true);
  assert.throws(() => decodeRequest(utf8('{"v":1,"op":"get","path":"/a","ts":5,"compress":"zstd"}')),
                { code: 'bad_request' });
  const answer = { ok: true, type: 'file', name: 'a', size: 1, mtime: 0, chunkSize: 4096, offset: 0, firstIndex: 0,
                   frames: true };
  assert.ok(!text(encodeAnswer(answer)).includes('compress'));
  assert.equal(decodeAnswer(encodeAnswer({ ...answer, compression: true })).compression, true);
  assert.throws(() => decodeAnswer(utf8(JSON.stringify({ ...answer, v: 1, chunk_size: 4096, first_index: 0,
                                                         compress: 'gzip' }))), { code: 'bad_request' });
});
