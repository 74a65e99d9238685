// base64 (strict, standard alphabet, padded), fingerprints and SHA-256,
// each against the C++ side's rules and known answers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';

import * as base64 from '../js/base64.js';
import { hex, utf8 } from '../js/bytes.js';
import { fingerprintOf, normalizeFingerprint } from '../js/fingerprint.js';
import { Sha256 } from '../js/sha256.js';

test('base64 is the standard alphabet with padding, never the URL-safe default', () => {
  assert.equal(base64.encode(Uint8Array.of(0xfb, 0xff)), '+/8=');
  assert.equal(base64.encode(new Uint8Array(0)), '');
  for (const n of [1, 2, 3, 4, 5, 100, 1000]) {
    const bytes = randomBytes(n);
    const text = base64.encode(bytes);
    assert.equal(text, bytes.toString('base64'));
    assert.deepEqual(base64.decode(text), new Uint8Array(bytes));
  }
});

const NON_CANONICAL = ['A', 'AA', 'AAA', 'AA=', '=AAA', 'A=AA', 'AA=A', 'AAA==', 'A===', '====', '-_8=', '+/9=',
                       'AB==', 'AAB=', ' AAA', 'AAA ', 'AA\nAA===', 'AAAA\n', 'AA AA', 'AAAA    ', 'AA==    ',
                       'AA\tA', 'QUJD\u00e9AAA', 'QUJDRA', 'QUJ\u0141', '\u0100AAA'];

test('base64 decoding refuses everything non-canonical, in every decoder', () => {
  for (const bad of [...NON_CANONICAL, null, 5]) assert.equal(base64.decode(bad), null, JSON.stringify(bad));
  for (const bad of NON_CANONICAL) assert.equal(base64.decodeSecret(bad), null, JSON.stringify(bad));
  for (const [name, decoder] of Object.entries(base64.decodersForTest)) {
    if (!decoder) continue;
    for (const bad of NON_CANONICAL.filter((t) => t.length % 4 === 0)) {
      assert.equal(decoder(bad), null, `${name} ${JSON.stringify(bad)}`);
    }
  }
  for (const decode of [base64.decode, base64.decodeSecret]) {
    assert.deepEqual(decode('+/8='), Uint8Array.of(0xfb, 0xff));
    assert.deepEqual(decode('QQ=='), Uint8Array.of(0x41));
    assert.deepEqual(decode('QUJD'), Uint8Array.of(0x41, 0x42, 0x43));
    assert.deepEqual(decode(''), new Uint8Array(0));
  }
});

test('decodeInto writes into the caller\'s buffer and refuses one too small', () => {
  const target = new Uint8Array(8).fill(0xee);
  assert.equal(base64.decodeInto('QUJD', target), 3);
  assert.deepEqual([...target], [0x41, 0x42, 0x43, 0xee, 0xee, 0xee, 0xee, 0xee], 'only the decoded bytes change');
  assert.equal(base64.decodeInto('', target), 0);
  assert.equal(base64.decodeInto('QUJDRA==', new Uint8Array(3)), -1, 'too small');
  assert.equal(base64.decodeInto('QUJDRA==', new Uint8Array(4)), 4, 'exactly enough');
  for (const [name, decoder] of Object.entries(base64.decodersForTest)) {
    if (!decoder || !name.endsWith('Into')) continue;
    for (const bad of NON_CANONICAL) assert.equal(decoder(bad, 16), null, `${name} ${JSON.stringify(bad)}`);
  }
});

test('every decoder agrees with node Buffer on canonical input of every length', () => {
  for (let n = 0; n < 200; ++n) {
    const bytes = randomBytes(n);
    const text = bytes.toString('base64');
    for (const [name, decoder] of Object.entries({ ...base64.decodersForTest, secret: base64.decodeSecret })) {
      if (!decoder) continue;
      assert.deepEqual(decoder(text), new Uint8Array(bytes), `${name} n=${n}`);
    }
  }
});

test('the all-zero key has the documented fingerprint', () => {
  assert.equal(fingerprintOf(new Uint8Array(32)), 'AQOA-7EMW-SAUE-QMV4-GRLR-X5KO');
  assert.match(fingerprintOf(randomBytes(32)), /^([A-Z2-7]{4}-){5}[A-Z2-7]{4}$/);
  assert.throws(() => fingerprintOf(new Uint8Array(31)), TypeError);
});

test('typed fingerprints are normalised: case, dashes and spaces', () => {
  const fp = 'AQOA-7EMW-SAUE-QMV4-GRLR-X5KO';
  for (const typed of [fp, fp.toLowerCase(), 'aqoa7emwsaueqmv4grlrx5ko', ' AQOA 7EMW-SAUE QMV4 GRLR X5KO ']) {
    assert.equal(normalizeFingerprint(typed), fp, typed);
  }
  for (const typed of ['', 'AQOA-7EMW', `${fp}A`, fp.replace('7', '1'), fp.replace('A', '\u0131'), null]) {
    assert.equal(normalizeFingerprint(typed), null, typed);
  }
});

test('SHA-256 gives the FIPS 180-4 answers and equals node:crypto at every length and split', () => {
  assert.equal(hex(Sha256.digest(new Uint8Array(0))), 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
  assert.equal(hex(Sha256.digest(utf8('abc'))), 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  assert.equal(hex(Sha256.digest(utf8('abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq'))),
               '248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1');
  for (const n of [1, 55, 56, 57, 63, 64, 65, 119, 120, 127, 128, 129, 1000, 70000]) {
    const bytes = randomBytes(n);
    const want = createHash('sha256').update(bytes).digest('hex');
    assert.equal(hex(Sha256.digest(bytes)), want, `n=${n}`);
    const s = new Sha256();
    for (let at = 0, step = 1; at < n; at += step, step = (step * 7 + 3) % 131 + 1) s.update(bytes.subarray(at, at + step));
    assert.equal(hex(s.finish()), want, `n=${n} split`);
  }
  // A view into a larger buffer at an odd offset.
  const big = randomBytes(1000);
  assert.equal(hex(Sha256.digest(new Uint8Array(big.buffer, big.byteOffset + 3, 500))),
               createHash('sha256').update(big.subarray(3, 503)).digest('hex'));
  const done = new Sha256();
  done.finish();
  assert.throws(() => done.update(new Uint8Array(1)));
});
