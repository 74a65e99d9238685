// Interop with the C++ side (crypto/): tests/unit/web/interop_fixture.cpp
// runs real handshakes with a fixed ephemeral and seals frames with the C++
// FrameSealer; this test rebuilds message 1 in JavaScript from the same keys
// and checks it is byte-identical, finishes the handshake with the C++
// message 2, and opens every C++ frame with the JS FrameOpener. The other
// way, the fixture reads message 1s and answers made in JS: padded payloads
// (docs/protocol.md §4.4) are accepted and bad padding refused alike.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';

import * as base64 from '../js/base64.js';
import { concat, equal, fromHex, hex, utf8 } from '../js/bytes.js';
import { fingerprintOf } from '../js/fingerprint.js';
import { FrameOpener, openerOptions } from '../js/frames.js';
import { loadZstd } from '../js/zstd.js';
import { identityOf } from '../js/noise.js';
import { decodeAnswer, decodeListing, decodeRequest, encodeAnswer, encodeRequest } from '../js/payloads.js';
import { FLAG_COMPRESSED, PAYLOAD_BUCKET_BYTES } from '../js/protocol.js';
import { InitiatorHandshake } from '../js/session.js';
import { Sha256 } from '../js/sha256.js';
import { fileExists, skip } from './helpers.mjs';

const fixturePath = process.env.SEALRELAY_INTEROP_FIXTURE;

function loadFixture(t) {
  if (!fixturePath) {
    skip(t, 'SEALRELAY_INTEROP_FIXTURE is not set: run through ctest (it builds tests/unit/web/interop_fixture.cpp)');
    return null;
  }
  if (!fileExists(fixturePath)) {
    skip(t, `${fixturePath} does not exist: build it first (cmake --build BUILD --target web_interop_fixture)`);
    return null;
  }
  return JSON.parse(execFileSync(fixturePath, { encoding: 'utf8', maxBuffer: 64 << 20 }));
}

const b64 = (text) => {
  const out = base64.decode(text);
  assert.ok(out, `fixture value is not canonical base64: ${text.slice(0, 40)}`);
  return out;
};

test('JS and C++ interoperate byte for byte: handshakes, payloads, frames', async (t) => {
  const fx = loadFixture(t);
  if (!fx) return;
  const requester = identityOf(fromHex(fx.requester.private));
  const agent = identityOf(fromHex(fx.agent.private));
  assert.equal(hex(requester.publicKey), fx.requester.public);
  assert.equal(hex(agent.publicKey), fx.agent.public);
  assert.equal(base64.encode(agent.publicKey), fx.agent.public_b64);
  assert.equal(fingerprintOf(requester.publicKey), fx.requester.fingerprint);
  assert.equal(fingerprintOf(agent.publicKey), fx.agent.fingerprint);

  const names = [];
  for (const s of fx.sessions) {
    names.push(s.name);
    const where = `session ${s.name}`;
    // The request payload: the JS encoder writes the C++ bytes exactly.
    const r = s.request;
    const request = encodeRequest({ op: r.op, path: r.path, offset: r.offset, chunkSize: r.chunk_size,
                                    timestampMs: r.ts, offerCompression: r.offer_compression });
    assert.equal(base64.encode(request), s.request_payload, `${where}: request payload`);
    assert.equal(request.length % PAYLOAD_BUCKET_BYTES, 0, `${where}: request padded to the bucket`);
    assert.deepEqual(decodeRequest(request), { op: r.op, path: r.path, offset: r.offset, chunkSize: r.chunk_size,
                                               timestampMs: r.ts, offerCompression: r.offer_compression });

    // Message 1 rebuilt in JS with the same keys and ephemeral.
    const ephemeral = identityOf(fromHex(s.ephemeral.private));
    const initiator = InitiatorHandshake.startForTest(requester, agent.publicKey, request, ephemeral);
    assert.equal(base64.encode(initiator.message1), s.message1, `${where}: message 1`);

    // The C++ message 2 finishes the JS handshake with the same keys.
    const { payload, keys } = initiator.finish(b64(s.message2));
    assert.equal(base64.encode(payload), s.answer_payload, `${where}: answer payload`);
    assert.equal(payload.length % PAYLOAD_BUCKET_BYTES, 0, `${where}: answer padded to the bucket`);
    assert.equal(hex(keys.frameKey), s.frame_key, `${where}: frame key`);
    assert.equal(hex(keys.handshakeHash), s.handshake_hash, `${where}: h`);
    const answer = decodeAnswer(payload);
    assert.equal(base64.encode(encodeAnswer(answer)), s.answer_payload, `${where}: answer re-encoded`);
    if (!answer.ok) {
      assert.equal(answer.error, 'not_allowed');
      assert.equal(s.frames.length, 0);
      continue;
    }

    // Every C++ frame opens in JS; the content and its SHA-256 match.
    // The compressed session: the C++ agent's zstd frames open with zstd.js.
    const opener = new FrameOpener(keys, answer.firstIndex, openerOptions(answer, { decompressor: await loadZstd() }));
    const flags = s.frames.map((f) => b64(f)[1]);
    assert.equal(flags.some((f) => f & FLAG_COMPRESSED), answer.compression, `${where}: compressed frames`);
    const prefix = b64(s.prefix);
    assert.equal(prefix.length, answer.offset, where);
    opener.absorbPrefix(prefix);
    const parts = [];
    let error = null;
    for (const frame of s.frames) {
      try {
        const out = opener.open(b64(frame));
        if (out.kind === 'data') parts.push(out.chunk);
      } catch (err) {
        error = err;
        break;
      }
    }
    const received = concat(...parts);
    assert.equal(received.length, s.expect.content_bytes, where);
    if (s.expect.error === null) {
      assert.equal(error, null, `${where}: ${error?.message}`);
      opener.finish();
      assert.ok(opener.complete);
      assert.ok(equal(received, b64(s.content)), `${where}: content`);
      assert.equal(hex(Sha256.digest(concat(prefix, received))), s.content_sha256, `${where}: SHA-256`);
    } else {
      assert.equal(error?.code, s.expect.error, where);
      assert.equal(error.agentCode, s.expect.agent_code);
      assert.equal(error.agentMessage, s.expect.agent_message);
      assert.throws(() => opener.finish(), { code: 'aborted' });
    }
    if (s.listing) assert.deepEqual(decodeListing(received), s.listing, `${where}: listing`);
  }
  assert.deepEqual(names, ['file', 'resume', 'abort', 'list', 'compressed', 'refusal']);
});

test('a C++ message 2 does not finish a JS handshake with another ephemeral or agent key', (t) => {
  const fx = loadFixture(t);
  if (!fx) return;
  const requester = identityOf(fromHex(fx.requester.private));
  const agent = identityOf(fromHex(fx.agent.private));
  const s = fx.sessions[0];
  const request = b64(s.request_payload);
  const fresh = InitiatorHandshake.start(requester, agent.publicKey, request);
  assert.throws(() => fresh.finish(b64(s.message2)), { code: 'handshake_failed' });
  const wrongAgent = InitiatorHandshake.startForTest(requester, requester.publicKey, request,
                                                     identityOf(fromHex(s.ephemeral.private)));
  assert.throws(() => wrongAgent.finish(b64(s.message2)), { code: 'handshake_failed' });
  const tampered = b64(s.message2);
  tampered[tampered.length - 1] ^= 1;
  const same = InitiatorHandshake.startForTest(requester, agent.publicKey, request,
                                               identityOf(fromHex(s.ephemeral.private)));
  assert.throws(() => same.finish(tampered), { code: 'handshake_failed' });
});

test('C++ reads padded payloads made in JS, and refuses bad padding as JS does', (t) => {
  const fx = loadFixture(t);
  if (!fx) return;
  const cpp = (...args) => JSON.parse(execFileSync(fixturePath, args, { encoding: 'utf8' }));
  const requester = identityOf(fromHex(fx.requester.private));
  const agentKey = fromHex(fx.agent.public);
  const readByAgent = (payload) =>
    cpp('read-message1', base64.encode(InitiatorHandshake.start(requester, agentKey, payload).message1));

  // Padded by the JS encoder, in the second bucket.
  const request = { op: 'get', path: `/share/${'p'.repeat(300)}`, offset: 7, chunkSize: 65536, timestampMs: 5 };
  const padded = encodeRequest(request);
  assert.equal(padded.length, 2 * PAYLOAD_BUCKET_BYTES);
  assert.deepEqual(readByAgent(padded), { ok: true, payload_bytes: padded.length, op: 'get', path: request.path,
                                          offset: 7, chunk_size: 65536, ts: 5 });
  // Unpadded, as from a page before padding.
  const older = utf8('{"chunk_size":65536,"offset":0,"op":"get","path":"/a","ts":5,"v":1}');
  assert.equal(readByAgent(older).path, '/a');
  // Anything but spaces after the object: the same refusal on both sides.
  for (const tail of ['\0'.repeat(8), '    \0', '\0xyz}', '\t\t', '\n', '  x  ']) {
    const bad = utf8(`{"op":"get","path":"/a","ts":5,"v":1}${tail}`);
    const got = readByAgent(bad);
    assert.equal(got.ok, false, JSON.stringify(tail));
    assert.throws(() => decodeRequest(bad), { code: got.code, message: got.message }, JSON.stringify(tail));
  }

  // Answers padded by the JS encoder, read by the C++ requester.
  const accepted = { ok: true, type: 'file', name: 'a.jpg', size: 10, mtime: 5, chunkSize: 4096, offset: 0,
                     firstIndex: 0, frames: true };
  const answer = encodeAnswer(accepted);
  assert.equal(answer.length % PAYLOAD_BUCKET_BYTES, 0);
  assert.deepEqual(cpp('decode-answer', base64.encode(answer)), {
    ok: true, accepted: true, type: 'file', name: 'a.jpg', size: 10, mtime: 5, chunk_size: 4096, offset: 0,
    first_index: 0, frames: true,
  });
  const refusal = encodeAnswer({ ok: false, error: 'busy', message: 'too many transfers' });
  assert.deepEqual(cpp('decode-answer', base64.encode(refusal)),
                   { ok: true, accepted: false, error: 'busy', message: 'too many transfers' });
  const zeroPadded = concat(utf8('{"error":"busy","message":"","ok":false,"v":1}'), new Uint8Array(8));
  assert.equal(cpp('decode-answer', base64.encode(zeroPadded)).code, 'bad_request');
});
