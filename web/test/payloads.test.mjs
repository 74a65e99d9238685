// Payloads (web/js/payloads.js), mirroring tests/unit/crypto/payloads_test.cpp:
// round trips, refusals with the same codes as the C++ decoder, and the
// padding of requests and answers (docs/protocol.md §4.4).
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { fromUtf8, utf8 } from '../js/bytes.js';
import { generateIdentity } from '../js/noise.js';
import {
  decodeAnswer, decodeListing, decodeRequest, encodeAnswer, encodeListing, encodeRequest,
} from '../js/payloads.js';
import { MAX_NOISE_MESSAGE_BYTES, MAX_PATH_BYTES, PAYLOAD_BUCKET_BYTES } from '../js/protocol.js';
import { InitiatorHandshake, ResponderHandshake } from '../js/session.js';

const request = { op: 'get', path: '/photos/2026/a.jpg', offset: 0, chunkSize: 262144, timestampMs: 1763677025123,
                  offerCompression: false };
// The JSON of a padded payload: its text without the trailing spaces, after
// checking that they fill the bucket.
function json(bytes) {
  assert.equal(bytes.length % PAYLOAD_BUCKET_BYTES, 0, 'a whole bucket');
  const text = fromUtf8(bytes);
  const trimmed = text.replace(/ +$/, '');
  assert.ok(text.length - trimmed.length < PAYLOAD_BUCKET_BYTES, 'the least padding');
  return trimmed;
}

const accepted = { ok: true, type: 'file', name: 'a.jpg', size: 1048576, mtime: 1763670000, chunkSize: 262144,
                   offset: 0, firstIndex: 0, frames: true, compression: false, files: 0 };

test('a request encodes as the C++ encoder does (sorted keys) and round-trips', () => {
  assert.equal(json(encodeRequest(request)),
               '{"chunk_size":262144,"offset":0,"op":"get","path":"/photos/2026/a.jpg","ts":1763677025123,"v":1}');
  assert.deepEqual(decodeRequest(encodeRequest(request)), request);
  assert.deepEqual(decodeRequest(utf8('{"v":1,"op":"list","path":"/s","ts":5}')),
                   { op: 'list', path: '/s', offset: 0, chunkSize: 258048, timestampMs: 5, offerCompression: false },
                   'defaults');
});

test('answers and refusals round-trip', () => {
  assert.deepEqual(decodeAnswer(encodeAnswer(accepted)), accepted);
  assert.equal(json(encodeAnswer({ ok: false, error: 'not_found', message: 'no such file in this share' })),
               '{"error":"not_found","message":"no such file in this share","ok":false,"v":1}');
  assert.deepEqual(decodeAnswer(utf8('{"v":1,"ok":false,"error":"busy"}')), { ok: false, error: 'busy', message: '' });
});

test('unknown fields are ignored; other versions are unsupported_version', () => {
  assert.deepEqual(decodeAnswer(utf8(JSON.stringify({ ...JSON.parse(json(encodeAnswer(accepted))), extra: [1] }))),
                   accepted);
  assert.throws(() => decodeRequest(utf8('{"v":2,"op":"get","path":"/a","ts":1}')), { code: 'unsupported_version' });
});

test('malformed payloads are bad_request', () => {
  const requests = [
    'not json', '[]', '"x"', 'null', '{}', '{"v":"1","op":"get","path":"/a","ts":1}', '{"v":-1}', '{"v":1.5}',
    '{"v":1,"op":"put","path":"/a","ts":1}', '{"v":1,"op":"get","path":"","ts":1}',
    '{"v":1,"op":"get","path":"/a\\u0000b","ts":1}', `{"v":1,"op":"get","path":"/${'a'.repeat(4096)}","ts":1}`,
    '{"v":1,"op":"get","path":"/a","ts":0}', '{"v":1,"op":"get","path":"/a"}', '{"v":1,"op":"get","path":"/a","ts":"1"}',
    '{"v":1,"op":"get","path":"/a","ts":1,"offset":-1}', '{"v":1,"op":"get","path":"/a","ts":1,"chunk_size":4095}',
    '{"v":1,"op":"get","path":"/a","ts":1,"chunk_size":1048577}', '{"v":1,"op":"get","path":"/a","ts":1.5}',
    '{"v":1,"op":"get","path":"/a","ts":18446744073709551615}',
  ];
  for (const text of requests) assert.throws(() => decodeRequest(utf8(text)), { code: 'bad_request' }, text);
  assert.throws(() => decodeRequest(Uint8Array.of(0x7b, 0xff, 0x7d)), { code: 'bad_request' }, 'invalid UTF-8');

  const base = JSON.parse(json(encodeAnswer(accepted)));
  const answers = [
    { ...base, ok: 'yes' }, { v: 1, ok: false }, { v: 1, ok: false, error: '' }, { v: 1, ok: false, error: 'x'.repeat(65) },
    { v: 1, ok: false, error: 'x', message: 7 }, { ...base, type: 'link' }, { ...base, name: 5 }, { ...base, size: -1 },
    { ...base, chunk_size: 1048577 }, { ...base, chunk_size: 100 }, { ...base, offset: base.size + 1 },
    { ...base, frames: 1 }, { ...base, first_index: undefined }, { ...base, mtime: 1.5 }, { ...base, files: -1 },
    { ...base, files: '3' },
  ];
  for (const a of answers) assert.throws(() => decodeAnswer(utf8(JSON.stringify(a))), { code: 'bad_request' }, JSON.stringify(a));
  // A stat answer carries no frames, so chunk_size 0 is fine there.
  assert.equal(decodeAnswer(utf8(JSON.stringify({ ...base, frames: false, chunk_size: 0 }))).chunkSize, 0);
});

test('listings round-trip and refuse unsafe names', () => {
  const entries = [{ name: 'a.jpg', type: 'file', size: 1048576, mtime: 1763670000 },
                   { name: '2026', type: 'dir', size: 0, mtime: -5 }];
  assert.equal(fromUtf8(encodeListing(entries)),
               '{"entries":[{"mtime":1763670000,"name":"a.jpg","size":1048576,"type":"file"},' +
               '{"mtime":-5,"name":"2026","size":0,"type":"dir"}],"v":1}');
  assert.deepEqual(decodeListing(encodeListing(entries)), entries);
  for (const name of ['', '.', '..', 'a/b', 'x'.repeat(1025), 'a\0b']) {
    const doc = utf8(JSON.stringify({ v: 1, entries: [{ name, type: 'file', size: 1, mtime: 1 }] }));
    assert.throws(() => decodeListing(doc), { code: 'bad_request' }, JSON.stringify(name));
  }
  assert.throws(() => decodeListing(utf8('{"v":1,"entries":{}}')), { code: 'bad_request' });
  assert.throws(() => decodeListing(utf8('{"v":1,"entries":[1]}')), { code: 'bad_request' });
});

test('the encoder refuses requests the agent would refuse, and writes lone surrogates as U+FFFD', () => {
  for (const bad of [{ op: 'put' }, { path: '' }, { path: 'a\0' }, { offset: -1 }, { chunkSize: 1 }, { timestampMs: 0 },
                     { timestampMs: undefined }]) {
    assert.throws(() => encodeRequest({ ...request, ...bad }), TypeError, JSON.stringify(bad));
  }
  const text = fromUtf8(encodeRequest({ ...request, path: '/a\ud800b' }));
  assert.ok(text.includes('"/a\ufffdb"'), text);
});

// Padding (docs/protocol.md §4.4): what the relay can measure of messages 1
// and 2 is the bucket, not the length of the path, the name or the refusal.
const requester = generateIdentity();
const agent = generateIdentity();

function message1(payload) {
  return InitiatorHandshake.start(requester, agent.publicKey, payload).message1;
}

function message2(payload) {
  const init = InitiatorHandshake.start(requester, agent.publicKey, encodeRequest({ ...request, path: '/a' }));
  const reply = ResponderHandshake.read(agent, init.message1).answer(payload);
  assert.ok(decodeAnswer(init.finish(reply.message2).payload));
  return reply.message2;
}

test('paths of different lengths in one bucket give message 1s of equal length', () => {
  const size = (path) => message1(encodeRequest({ ...request, path })).length;
  const shortest = size('/a');
  assert.equal(size('/photos/2026/holiday in the mountains/IMG_0042.jpg'), shortest);
  assert.equal(size(`/${'p'.repeat(120)}`), shortest);
  assert.equal(shortest, 96 + PAYLOAD_BUCKET_BYTES);
  assert.equal(size(`/${'p'.repeat(300)}`), shortest + PAYLOAD_BUCKET_BYTES, 'the next bucket, as documented');
});

test('names and refusal reasons in one bucket give message 2s of equal length', () => {
  const reference = message2(encodeAnswer({ ...accepted, name: 'a' })).length;
  assert.equal(message2(encodeAnswer({ ...accepted, name: 'holiday in the mountains, day 3 (the long walk) - IMG_0042.jpg' }))
    .length, reference);
  for (const [error, message] of [['not_found', 'no such file in this share'],
                                  ['not_allowed', "outside the shares or this requester's scope"],
                                  ['unauthorized', "this requester's key is not in authorized_requesters"],
                                  ['busy', 'too many transfers; try again later']]) {
    assert.equal(message2(encodeAnswer({ ok: false, error, message })).length, reference, error);
  }
});

test('an unpadded payload from an older peer is accepted', () => {
  assert.equal(decodeRequest(utf8('{"chunk_size":65536,"offset":0,"op":"get","path":"/a","ts":5,"v":1}')).path, '/a');
  assert.equal(decodeAnswer(utf8('{"error":"not_found","message":"no such file","ok":false,"v":1}')).error, 'not_found');
});

test('padding other than spaces is refused', () => {
  const requestText = '{"op":"get","path":"/a","ts":5,"v":1}';
  const answerText = '{"error":"not_found","message":"","ok":false,"v":1}';
  for (const tail of ['\0'.repeat(8), '    \0', '\0xyz}', '\t\t', '\n', '   \r\n  ', '  x  ', ' {} ']) {
    assert.throws(() => decodeRequest(utf8(requestText + tail)), { code: 'bad_request' }, JSON.stringify(tail));
    assert.throws(() => decodeAnswer(utf8(answerText + tail)), { code: 'bad_request' }, JSON.stringify(tail));
  }
  assert.equal(decodeRequest(utf8(requestText + ' '.repeat(1000))).path, '/a', 'any number of spaces');
});

test('the largest request fits in message 1', () => {
  // Every byte a control character: JSON writes each as \u00XX, six bytes.
  const path = `/${'\x01'.repeat(MAX_PATH_BYTES - 1)}`;
  const largest = encodeRequest({ op: 'stat', path, offset: Number.MAX_SAFE_INTEGER, chunkSize: 1048576,
                                  timestampMs: Number.MAX_SAFE_INTEGER });
  assert.equal(largest.length, 6 * MAX_PATH_BYTES + PAYLOAD_BUCKET_BYTES);
  const wire = message1(largest);
  assert.equal(wire.length, 96 + largest.length);
  assert.ok(wire.length <= MAX_NOISE_MESSAGE_BYTES);
  assert.equal(decodeRequest(ResponderHandshake.read(agent, wire).request).path, path);
});

test("a tree request carries select, contents and resume only when they say something; the answer's files", () => {
  const tree = { ...request, op: 'tree', path: '/share/logs' };
  assert.equal(json(encodeRequest(tree)),
               '{"chunk_size":262144,"offset":0,"op":"tree","path":"/share/logs","ts":1763677025123,"v":1}');
  assert.equal(json(encodeRequest({ ...tree, select: { include: ['*.csv'], exclude: ['tmp'], newerThan: 1700000000,
                                                         maxDepth: 3 },
                                    contents: false, resume: { path: 'a/b.csv', offset: 4096 } })),
               '{"chunk_size":262144,"contents":false,"offset":0,"op":"tree","path":"/share/logs",' +
               '"resume":{"offset":4096,"path":"a/b.csv"},' +
               '"select":{"exclude":["tmp"],"include":["*.csv"],"max_depth":3,"newer_than":1700000000},' +
               '"ts":1763677025123,"v":1}');
  assert.equal(json(encodeRequest({ ...request, select: { include: ['x'] } })).includes('select'), false,
               'tree fields only on a tree request');
  for (const bad of [{ select: { maxDepth: 0 } }, { select: { maxDepth: 129 } }, { select: { include: ['a\nb'] } },
                     { select: { include: Array(65).fill('x') } }, { select: { exclude: ['x'.repeat(8193)] } },
                     { resume: { path: '../x', offset: 0 } }, { resume: { path: 'x', offset: -1 } }]) {
    assert.throws(() => encodeRequest({ ...tree, ...bad }), JSON.stringify(bad));
  }
  const answer = { ...accepted, type: 'dir', name: 'logs', size: 7000, files: 3 };
  assert.match(json(encodeAnswer(answer)), /"files":3/);
  assert.deepEqual(decodeAnswer(encodeAnswer(answer)), answer);
});
