// Frames: round trips and every way a lying relay can change a stream, each
// refused with its error code (docs/protocol.md §3, crypto/frames.h).
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { FrameOpener, FrameSealer } from '../js/frames.js';
import { concat, equal } from '../js/bytes.js';
import { Sha256 } from '../js/sha256.js';
import {
  FLAG_ERROR, FLAG_FINAL, FRAME_HEADER_BYTES, FRAME_NONCE_OFFSET, MAX_ABORT_BYTES, MAX_CHUNK_BYTES,
  MAX_FRAME_BYTES,
} from '../js/protocol.js';
import { content, handshake, sealAll } from './support.mjs';

const CHUNK = 4096;

// Opens `frames` in order; returns {content, error} where error is the code
// of the first failure (open or finish), or null.
function openAll(keys, frames, firstIndex = 0, prefix = null) {
  const opener = new FrameOpener(keys, firstIndex);
  if (prefix) opener.absorbPrefix(prefix);
  const parts = [];
  try {
    for (const f of frames) {
      const r = opener.open(f);
      if (r.kind === 'data') parts.push(r.chunk);
      else assert.equal(r.kind, 'trailer');
    }
    opener.finish();
    return { content: concat(...parts), error: null, opener };
  } catch (err) {
    assert.equal(err.name, 'SealrelayError', err.stack);
    return { content: concat(...parts), error: err.code, opener, err };
  }
}

const { requesterKeys: keys, agentKeys } = handshake();

test('the agent and the requester derive the same transfer keys', () => {
  assert.ok(equal(keys.frameKey, agentKeys.frameKey));
  assert.ok(equal(keys.handshakeHash, agentKeys.handshakeHash));
});

test('content of every shape round-trips and the trailer verifies', () => {
  for (const n of [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 5 * CHUNK, 5 * CHUNK + 17]) {
    const bytes = content(n, n + 1);
    const frames = sealAll(agentKeys, bytes, CHUNK);
    assert.equal(frames.length, Math.ceil(n / CHUNK) + 1, `n=${n}`);
    const r = openAll(keys, frames);
    assert.equal(r.error, null, `n=${n}`);
    assert.ok(equal(r.content, bytes), `n=${n}`);
    assert.equal(r.opener.totalBytes, n);
    assert.ok(r.opener.complete);
  }
});

test('a frame is 50 bytes longer than its plaintext and carries its index and a fresh nonce', () => {
  const sealer = new FrameSealer(agentKeys, 7);
  const a = sealer.sealChunk(content(100));
  const b = sealer.sealChunk(content(100));
  assert.equal(a.length, 150);
  assert.deepEqual([...a.subarray(0, 10)], [1, 0, 0, 0, 0, 0, 0, 0, 0, 7]);
  assert.deepEqual([...b.subarray(0, 10)], [1, 0, 0, 0, 0, 0, 0, 0, 0, 8]);
  assert.ok(!equal(a.subarray(FRAME_NONCE_OFFSET, FRAME_HEADER_BYTES), b.subarray(FRAME_NONCE_OFFSET, FRAME_HEADER_BYTES)));
});

test('a largest chunk (1 MiB) round-trips', () => {
  const bytes = content(MAX_CHUNK_BYTES + 5);
  const frames = sealAll(agentKeys, bytes, MAX_CHUNK_BYTES);
  assert.equal(frames[0].length, MAX_FRAME_BYTES);
  const r = openAll(keys, frames);
  assert.equal(r.error, null);
  assert.ok(equal(r.content, bytes));
});

test('a resumed transfer starts at first_index and covers the prefix in its trailer', () => {
  const bytes = content(10 * CHUNK + 3);
  const offset = 4 * CHUNK;
  const sealer = new FrameSealer(agentKeys, 4);
  sealer.absorbPrefix(bytes.subarray(0, offset));
  const frames = [];
  for (let at = offset; at < bytes.length; at += CHUNK) frames.push(sealer.sealChunk(bytes.subarray(at, at + CHUNK)));
  frames.push(sealer.sealTrailer());
  const r = openAll(keys, frames, 4, bytes.subarray(0, offset));
  assert.equal(r.error, null);
  assert.ok(equal(concat(bytes.subarray(0, offset), r.content), bytes));
  // Without the prefix the trailer does not match; from index 0 the order is wrong.
  assert.equal(openAll(keys, frames, 4).error, 'trailer_mismatch');
  assert.equal(openAll(keys, frames, 0).error, 'out_of_order');
});

// Every bit of the header, a nonce bit, ciphertext bits and the tag: each
// flip is refused, and no plaintext of that frame is released.
test('a flipped bit in any field of any frame is refused', () => {
  const frames = sealAll(agentKeys, content(2 * CHUNK + 10), CHUNK);
  const fields = {
    version: [0, 1], flags: [8, 9, 10, 15], index: [16, 79], nonce: [80, 150, 271], ciphertext: [272, 300, 9000],
    tag: [-128, -1],
  };
  for (const [victim, frame] of frames.entries()) {
    const before = frames.slice(0, victim).reduce((n, f) => n + f.length - 50, 0);
    for (const [field, bits] of Object.entries(fields)) {
      for (let bit of bits) {
        if (bit < 0) bit += frame.length * 8;
        if (bit >= frame.length * 8) continue;
        const bad = Uint8Array.from(frame);
        bad[bit >> 3] ^= 0x80 >> (bit & 7);
        const copy = frames.slice();
        copy[victim] = bad;
        const r = openAll(keys, copy);
        assert.ok(['bad_frame', 'out_of_order', 'tampered'].includes(r.error),
                  `frame ${victim} ${field} bit ${bit}: ${r.error}`);
        assert.equal(r.content.length, before, `frame ${victim} ${field}: plaintext of a bad frame released`);
        const expected = field === 'version' ? 'bad_frame' : field === 'index' ? 'out_of_order' : null;
        if (expected) assert.equal(r.error, expected, `frame ${victim} ${field} bit ${bit}`);
        if (field === 'nonce' || field === 'ciphertext' || field === 'tag') assert.equal(r.error, 'tampered');
      }
    }
  }
});

test('flags: a data frame marked final, a trailer unmarked, unknown bits, ERROR without FINAL', () => {
  const frames = sealAll(agentKeys, content(CHUNK * 2), CHUNK);
  const withFlags = (frame, flags) => {
    const f = Uint8Array.from(frame);
    f[1] = flags;
    return f;
  };
  // A data frame (4096 bytes) claiming FINAL has the wrong size for a trailer.
  assert.equal(openAll(keys, [withFlags(frames[0], FLAG_FINAL)]).error, 'bad_frame');
  // The trailer stripped of FINAL: a 40-byte data frame whose AD no longer matches.
  assert.equal(openAll(keys, [frames[0], frames[1], withFlags(frames[2], 0)]).error, 'tampered');
  assert.equal(openAll(keys, [withFlags(frames[0], 0x04)]).error, 'bad_frame');
  assert.equal(openAll(keys, [withFlags(frames[0], FLAG_ERROR)]).error, 'bad_frame');
  assert.equal(openAll(keys, [withFlags(frames[0], FLAG_ERROR | FLAG_FINAL)]).error, 'tampered');
});

test('reordered, dropped and duplicated frames are out_of_order', () => {
  const frames = sealAll(agentKeys, content(4 * CHUNK), CHUNK);
  const cases = {
    swapped: [frames[0], frames[2], frames[1], frames[3], frames[4]],
    dropped: [frames[0], frames[2], frames[3], frames[4]],
    duplicated: [frames[0], frames[1], frames[1], frames[2], frames[3], frames[4]],
    'first dropped': frames.slice(1),
    'trailer early': [frames[0], frames[4]],
  };
  for (const [name, list] of Object.entries(cases)) assert.equal(openAll(keys, list).error, 'out_of_order', name);
});

test('a stream that ends before the trailer is truncated', () => {
  const frames = sealAll(agentKeys, content(3 * CHUNK), CHUNK);
  for (let n = 0; n < frames.length; ++n) {
    const r = openAll(keys, frames.slice(0, n));
    assert.equal(r.error, 'truncated', `${n} frames`);
    assert.ok(!r.opener.complete);
  }
});

test('frames cut short or padded are refused', () => {
  const frames = sealAll(agentKeys, content(2 * CHUNK), CHUNK);
  for (const cut of [1, 16, frames[0].length - 49, frames[0].length - 1]) {
    assert.ok(['bad_frame', 'tampered'].includes(openAll(keys, [frames[0].subarray(0, cut)]).error), `cut ${cut}`);
  }
  assert.equal(openAll(keys, [new Uint8Array(49)]).error, 'bad_frame');
  assert.equal(openAll(keys, [new Uint8Array(MAX_FRAME_BYTES + 1)]).error, 'bad_frame');
  assert.equal(openAll(keys, [concat(frames[0], Uint8Array.of(0))]).error, 'tampered');
  // A trailer of the wrong size.
  assert.equal(openAll(keys, [frames[0], frames[1], concat(frames[2], Uint8Array.of(0))]).error, 'bad_frame');
});

test('a trailer that lies about the byte count or the hash is trailer_mismatch', () => {
  const bytes = content(3 * CHUNK);
  const lie = (total, digest) => {
    const sealer = new FrameSealer(agentKeys, 0);
    const frames = [];
    for (let at = 0; at < bytes.length; at += CHUNK) frames.push(sealer.sealChunk(bytes.subarray(at, at + CHUNK)));
    frames.push(sealer.sealTrailerForTest(total, digest));
    return frames;
  };
  const digest = Sha256.digest(bytes);
  const other = Uint8Array.from(digest);
  other[31] ^= 1;
  assert.equal(openAll(keys, lie(bytes.length, digest)).error, null);
  assert.equal(openAll(keys, lie(bytes.length + 1, digest)).error, 'trailer_mismatch');
  assert.equal(openAll(keys, lie(bytes.length - 1, digest)).error, 'trailer_mismatch');
  assert.equal(openAll(keys, lie(bytes.length, other)).error, 'trailer_mismatch');
  assert.equal(openAll(keys, lie(2n ** 64n - 1n, digest)).error, 'trailer_mismatch');
});

test('a frame spliced in from another transfer or sealed with another key is tampered', () => {
  const other = handshake();
  const mine = sealAll(agentKeys, content(2 * CHUNK, 1), CHUNK);
  const theirs = sealAll(other.agentKeys, content(2 * CHUNK, 2), CHUNK);
  assert.equal(openAll(keys, [mine[0], theirs[1], mine[2]]).error, 'tampered');
  assert.equal(openAll(keys, [theirs[0]]).error, 'tampered');
  // Same key, other h: the AD binds the handshake hash.
  const otherH = { frameKey: agentKeys.frameKey, handshakeHash: other.agentKeys.handshakeHash };
  assert.equal(openAll(keys, sealAll(otherH, content(10), CHUNK)).error, 'tampered');
  // Same h, other key.
  const otherKey = { frameKey: other.agentKeys.frameKey, handshakeHash: agentKeys.handshakeHash };
  assert.equal(openAll(keys, sealAll(otherKey, content(10), CHUNK)).error, 'tampered');
});

test('anything after the trailer is after_end', () => {
  const frames = sealAll(agentKeys, content(CHUNK), CHUNK);
  const next = new FrameSealer(agentKeys, 2).sealChunk(content(5));
  assert.equal(openAll(keys, [...frames, next]).error, 'after_end');
  assert.equal(openAll(keys, [...frames, frames[1]]).error, 'after_end');
});

test('an abort frame is reported as aborted with the agent reason, and nothing follows it', () => {
  const sealer = new FrameSealer(agentKeys, 0);
  const frames = [sealer.sealChunk(content(CHUNK)), sealer.sealAbort('changed', 'the file changed while it was sent')];
  assert.throws(() => sealer.sealChunk(content(1)));
  const r = openAll(keys, frames);
  assert.equal(r.error, 'aborted');
  assert.equal(r.err.agentCode, 'changed');
  assert.equal(r.err.agentMessage, 'the file changed while it was sent');
  assert.match(r.err.message, /the file changed while it was sent \(changed\)/);
  assert.equal(r.content.length, CHUNK);
  // A reason too long is cut to a short one, still an abort.
  const long = new FrameSealer(agentKeys, 0).sealAbort('x'.repeat(100), 'y'.repeat(MAX_ABORT_BYTES));
  const r2 = openAll(keys, [long]);
  assert.equal(r2.error, 'aborted');
  assert.equal(r2.err.agentCode, 'x'.repeat(64));
});

test('after the first error every call fails the same way', () => {
  const frames = sealAll(agentKeys, content(2 * CHUNK), CHUNK);
  const opener = new FrameOpener(keys, 0);
  assert.throws(() => opener.open(frames[1]), { code: 'out_of_order' });
  assert.throws(() => opener.open(frames[0]), { code: 'out_of_order' });
  assert.throws(() => opener.finish(), { code: 'out_of_order' });
});

test('the sealer refuses misuse', () => {
  const sealer = new FrameSealer(agentKeys, 0);
  assert.throws(() => sealer.sealChunk(new Uint8Array(0)));
  assert.throws(() => sealer.sealChunk(new Uint8Array(MAX_CHUNK_BYTES + 1)));
  sealer.sealTrailer();
  assert.throws(() => sealer.sealTrailer());
  assert.throws(() => new FrameOpener({ frameKey: new Uint8Array(31), handshakeHash: new Uint8Array(64) }, 0));
});
