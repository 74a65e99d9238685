// The JS session (web/js/session.js), mirroring tests/unit/crypto/session_test.cpp.
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { equal, utf8 } from '../js/bytes.js';
import { generateIdentity } from '../js/noise.js';
import { InitiatorHandshake, ResponderHandshake } from '../js/session.js';

const requester = generateIdentity();
const agent = generateIdentity();

test('both sides agree on keys and payloads and the agent learns the requester key', () => {
  const init = InitiatorHandshake.start(requester, agent.publicKey, utf8('request'));
  assert.equal(init.message1.length, 32 + 48 + 7 + 16);
  const resp = ResponderHandshake.read(agent, init.message1);
  assert.ok(equal(resp.requesterKey, requester.publicKey));
  assert.ok(equal(resp.request, utf8('request')));
  const reply = resp.answer(utf8('answer'));
  assert.equal(reply.message2.length, 32 + 6 + 16);
  const done = init.finish(reply.message2);
  assert.ok(equal(done.payload, utf8('answer')));
  assert.ok(equal(done.keys.frameKey, reply.keys.frameKey));
  assert.ok(equal(done.keys.handshakeHash, reply.keys.handshakeHash));
  assert.equal(done.keys.frameKey.length, 32);
  assert.equal(done.keys.handshakeHash.length, 64);
});

test('the request is not visible in message 1', () => {
  const marker = '/secret/path/marker-7f3a';
  const wire = Buffer.from(InitiatorHandshake.start(requester, agent.publicKey, utf8(marker)).message1);
  assert.equal(wire.indexOf(marker), -1);
});

test('message 1 for another agent key is refused', () => {
  const other = generateIdentity();
  const init = InitiatorHandshake.start(requester, other.publicKey, utf8('r'));
  assert.throws(() => ResponderHandshake.read(agent, init.message1), { code: 'handshake_failed' });
});

test('an answer from another key, to another message 1, or altered is refused', () => {
  const impostor = generateIdentity();
  const init = InitiatorHandshake.start(requester, agent.publicKey, utf8('r'));
  // The impostor cannot read message 1; it answers a message 1 addressed to it.
  const forImpostor = InitiatorHandshake.start(requester, impostor.publicKey, utf8('r'));
  const fake = ResponderHandshake.read(impostor, forImpostor.message1).answer(utf8('a'));
  assert.throws(() => init.finish(fake.message2), { code: 'handshake_failed' });

  const other = InitiatorHandshake.start(requester, agent.publicKey, utf8('r'));
  const answerToOther = ResponderHandshake.read(agent, other.message1).answer(utf8('a'));
  const init2 = InitiatorHandshake.start(requester, agent.publicKey, utf8('r'));
  assert.throws(() => init2.finish(answerToOther.message2), { code: 'handshake_failed' });

  const init3 = InitiatorHandshake.start(requester, agent.publicKey, utf8('r'));
  const good = ResponderHandshake.read(agent, init3.message1).answer(utf8('a')).message2;
  for (const at of [0, 31, 32, good.length - 1]) {
    const fresh = InitiatorHandshake.start(requester, agent.publicKey, utf8('r'));
    const reply = ResponderHandshake.read(agent, fresh.message1).answer(utf8('a')).message2;
    const bad = Uint8Array.from(reply);
    bad[at] ^= 1;
    assert.throws(() => fresh.finish(bad), { code: 'handshake_failed' }, `byte ${at}`);
  }
  assert.throws(() => init3.finish(good.subarray(0, 40)), { code: 'handshake_failed' });
  assert.throws(() => init3.finish(good), { code: 'handshake_failed' }, 'a failed finish poisons the handshake');
});

test('an altered message 1 is refused, and a low-order ephemeral key too', () => {
  const init = InitiatorHandshake.start(requester, agent.publicKey, utf8('r'));
  for (const at of [0, 40, init.message1.length - 1]) {
    const bad = Uint8Array.from(init.message1);
    bad[at] ^= 1;
    assert.throws(() => ResponderHandshake.read(agent, bad), { code: 'handshake_failed' }, `byte ${at}`);
  }
  const lowOrder = Uint8Array.from(init.message1);
  lowOrder.fill(0, 0, 32);
  assert.throws(() => ResponderHandshake.read(agent, lowOrder), { code: 'handshake_failed' });
  assert.throws(() => ResponderHandshake.read(agent, init.message1.subarray(0, 50)), { code: 'handshake_failed' });
});

test('misuse is refused', () => {
  assert.throws(() => InitiatorHandshake.start(requester, new Uint8Array(31), utf8('r')), TypeError);
  assert.throws(() => InitiatorHandshake.start({ privateKey: new Uint8Array(3) }, agent.publicKey, utf8('r')), TypeError);
});
