// Payloads (web/js/payloads.js), mirroring tests/unit/crypto/payloads_test.cpp:
// round trips, and refusals with the same codes as the C++ decoder.
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { fromUtf8, utf8 } from '../js/bytes.js';
import {
  decodeAnswer, decodeListing, decodeRequest, encodeAnswer, encodeListing, encodeRequest,
} from '../js/payloads.js';

const request = { op: 'get', path: '/photos/2026/a.jpg', offset: 0, chunkSize: 262144, timestampMs: 1763677025123 };
const accepted = { ok: true, type: 'file', name: 'a.jpg', size: 1048576, mtime: 1763670000, chunkSize: 262144,
                   offset: 0, firstIndex: 0, frames: true };

test('a request encodes as the C++ encoder does (sorted keys) and round-trips', () => {
  assert.equal(fromUtf8(encodeRequest(request)),
               '{"chunk_size":262144,"offset":0,"op":"get","path":"/photos/2026/a.jpg","ts":1763677025123,"v":1}');
  assert.deepEqual(decodeRequest(encodeRequest(request)), request);
  assert.deepEqual(decodeRequest(utf8('{"v":1,"op":"list","path":"/s","ts":5}')),
                   { op: 'list', path: '/s', offset: 0, chunkSize: 258048, timestampMs: 5 }, 'defaults');
});

test('answers and refusals round-trip', () => {
  assert.deepEqual(decodeAnswer(encodeAnswer(accepted)), accepted);
  assert.equal(fromUtf8(encodeAnswer({ ok: false, error: 'not_found', message: 'no such file in this share' })),
               '{"error":"not_found","message":"no such file in this share","ok":false,"v":1}');
  assert.deepEqual(decodeAnswer(utf8('{"v":1,"ok":false,"error":"busy"}')), { ok: false, error: 'busy', message: '' });
});

test('unknown fields are ignored; other versions are unsupported_version', () => {
  assert.deepEqual(decodeAnswer(utf8(JSON.stringify({ ...JSON.parse(fromUtf8(encodeAnswer(accepted))), extra: [1] }))),
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

  const base = JSON.parse(fromUtf8(encodeAnswer(accepted)));
  const answers = [
    { ...base, ok: 'yes' }, { v: 1, ok: false }, { v: 1, ok: false, error: '' }, { v: 1, ok: false, error: 'x'.repeat(65) },
    { v: 1, ok: false, error: 'x', message: 7 }, { ...base, type: 'link' }, { ...base, name: 5 }, { ...base, size: -1 },
    { ...base, chunk_size: 1048577 }, { ...base, chunk_size: 100 }, { ...base, offset: base.size + 1 },
    { ...base, frames: 1 }, { ...base, first_index: undefined }, { ...base, mtime: 1.5 },
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
