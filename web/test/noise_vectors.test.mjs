// Known-answer tests: every published Noise vector for our primitives, from
// tests/vectors/ (origin and licence in its README), run the same way as
// tests/unit/crypto/noise_vectors_test.cpp: messages alternate
// initiator/responder; after the handshake the initiator sends with Split()'s
// first cipher and the responder with the second. The file is part of the
// repository, so a missing file is a failure, never a skip.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

import { HandshakeState, identityOf, patternOf } from '../js/noise.js';
import { fromHex, hex } from '../js/bytes.js';
import { repoDir } from './helpers.mjs';

// ctest passes the path (tests/unit/web/CMakeLists.txt); by hand, the same
// file in this checkout.
const vectorsFile = process.env.SEALRELAY_NOISE_VECTORS ??
  join(repoDir, 'tests', 'vectors', 'noise-25519-chachapoly-blake2b.json');

function side(v, prefix, pattern, initiator) {
  const field = (name) => v[prefix + name];
  return {
    split: null,
    hs: new HandshakeState({
      pattern,
      initiator,
      prologue: fromHex(field('prologue')),
      staticKey: field('static') ? identityOf(fromHex(field('static'))) : null,
      remoteStatic: field('remote_static') ? fromHex(field('remote_static')) : null,
      psk: field('psks') ? (assert.equal(field('psks').length, 1), fromHex(field('psks')[0])) : null,
      ephemeralForTest: identityOf(fromHex(field('ephemeral'))),
    }),
  };
}

test('every published vector for our primitives reproduces byte for byte', () => {
  assert.ok(existsSync(vectorsFile),
            `${vectorsFile} is missing; it is part of the repository (git checkout -- tests/vectors)`);
  const doc = JSON.parse(readFileSync(vectorsFile, 'utf8'));
  const covered = new Set();
  for (const v of doc.vectors) {
    const pattern = patternOf(v.protocol_name);
    assert.ok(pattern, `vector for a pattern the engine does not know: ${v.protocol_name}`);
    const init = side(v, 'init_', pattern, true);
    const resp = side(v, 'resp_', pattern, false);
    v.messages.forEach((m, i) => {
      const where = `${v.protocol_name} message ${i}`;
      const [sender, receiver] = i % 2 === 0 ? [init, resp] : [resp, init];
      const payload = fromHex(m.payload);
      let wire, got;
      if (!sender.hs.complete) {
        wire = sender.hs.writeMessage(payload);
        got = receiver.hs.readMessage(wire);
        if (sender.hs.complete) {
          assert.ok(receiver.hs.complete, where);
          assert.equal(hex(init.hs.handshakeHash), v.handshake_hash, where);
          assert.equal(hex(resp.hs.handshakeHash), v.handshake_hash, where);
          init.split = init.hs.split();
          resp.split = resp.hs.split();
        }
      } else {
        const fromInitiator = i % 2 === 0;
        const key = fromInitiator ? 'initiatorToResponder' : 'responderToInitiator';
        wire = sender.split[key].encryptWithAd(new Uint8Array(0), payload);
        got = receiver.split[key].decryptWithAd(new Uint8Array(0), wire);
      }
      assert.equal(hex(wire), m.ciphertext, where);
      assert.equal(hex(got), m.payload, where);
    });
    covered.add(pattern);
  }
  assert.deepEqual([...covered].sort(), ['IK', 'IKpsk2', 'KK', 'NN', 'XX'],
                   'every pattern the engine implements has its published vector');
});

test('knows only our primitives', () => {
  assert.equal(patternOf('Noise_IK_25519_ChaChaPoly_BLAKE2b'), 'IK');
  assert.equal(patternOf('Noise_IK_25519_AESGCM_SHA256'), null);
  assert.equal(patternOf('Noise_IX_25519_ChaChaPoly_BLAKE2b'), null);
  assert.equal(patternOf(''), null);
});
