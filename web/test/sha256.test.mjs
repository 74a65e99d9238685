// web/js/sha256.js: the FIPS 180-4 examples, node:crypto at every length
// around the padding and block boundaries, every way of splitting a message
// into updates, and views at odd offsets into larger buffers.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import test from 'node:test';

import { hex, utf8 } from '../js/bytes.js';
import { Sha256 } from '../js/sha256.js';

const nodeSha = (bytes) => createHash('sha256').update(bytes).digest('hex');

test('SHA-256 gives the FIPS 180-4 / NIST example digests', () => {
  const vectors = [
    ['', 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855'],
    ['abc', 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad'],
    ['abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq',
     '248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1'],
    ['abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu',
     'cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1'],
  ];
  for (const [text, want] of vectors) assert.equal(hex(Sha256.digest(utf8(text))), want, JSON.stringify(text));
  // One million times 'a', fed in uneven pieces.
  const s = new Sha256();
  const piece = new Uint8Array(999).fill(0x61);
  let left = 1_000_000;
  while (left > 0) {
    const n = Math.min(left, piece.length);
    s.update(piece.subarray(0, n));
    left -= n;
  }
  assert.equal(hex(s.finish()), 'cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0');
});

test('SHA-256 equals node:crypto at every length from 0 to 300 and around larger block boundaries', () => {
  const lengths = [];
  for (let n = 0; n <= 300; ++n) lengths.push(n);
  for (const base of [1024, 4096, 65536, 262144]) for (let d = -65; d <= 65; d += 1) lengths.push(base + d);
  const data = randomBytes(262144 + 65);
  for (const n of lengths) {
    const bytes = data.subarray(0, n);
    assert.equal(hex(Sha256.digest(bytes)), nodeSha(bytes), `n=${n}`);
  }
});

test('SHA-256 gives the same digest however the message is split into updates', () => {
  const data = randomBytes(200);
  // Every single split point of messages at the padding boundaries.
  for (const n of [55, 56, 63, 64, 65, 119, 120, 127, 128, 129, 200]) {
    const bytes = data.subarray(0, n);
    const want = nodeSha(bytes);
    for (let cut = 0; cut <= n; ++cut) {
      const s = new Sha256().update(bytes.subarray(0, cut)).update(bytes.subarray(cut));
      assert.equal(hex(s.finish()), want, `n=${n} cut at ${cut}`);
    }
    // Byte by byte, and with empty updates between.
    const s = new Sha256();
    for (let i = 0; i < n; ++i) s.update(bytes.subarray(i, i + 1)).update(new Uint8Array(0));
    assert.equal(hex(s.finish()), want, `n=${n} byte by byte`);
  }
  // Many pieces of varying sizes across a larger message.
  const big = randomBytes(300_000);
  for (const seed of [1, 7, 63, 64, 65, 4093]) {
    const s = new Sha256();
    for (let at = 0, step = seed; at < big.length; at += step, step = ((step * 31 + 17) % 70_001) + 1) {
      s.update(big.subarray(at, at + step));
    }
    assert.equal(hex(s.finish()), nodeSha(big), `pieces from seed ${seed}`);
  }
});

test('SHA-256 reads only its view of a larger buffer, at any offset', () => {
  const big = randomBytes(5000);
  for (const offset of [1, 2, 3, 5, 63, 64, 65]) {
    for (const n of [0, 1, 64, 1000, 4000]) {
      const view = new Uint8Array(big.buffer, big.byteOffset + offset, n);
      assert.equal(hex(Sha256.digest(view)), nodeSha(big.subarray(offset, offset + n)), `offset ${offset} n=${n}`);
    }
  }
});

test('a finished SHA-256 cannot be used again', () => {
  const done = new Sha256();
  done.finish();
  assert.throws(() => done.update(new Uint8Array(1)));
  assert.throws(() => done.finish());
});
