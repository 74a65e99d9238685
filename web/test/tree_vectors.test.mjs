// The page's folder-stream decoder against the C++ one: streams made by
// crypto/tree_stream.h's encoder, with what its TreeDecoder told its visitor
// (tests/unit/web/tree_vectors.cpp). web/js/tree_stream.js must tell the
// same lines and refuse exactly the same streams as bad_tree.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';

import { fromHex, hex } from '../js/bytes.js';
import { encodeRequest } from '../js/payloads.js';
import { TreeDecoder } from '../js/tree_stream.js';
import { fileExists, skip } from './helpers.mjs';

const tool = process.env.SEALRELAY_TREE_VECTORS;

function recorder() {
  const lines = [];
  const add = (line) => { lines.push(line); };
  return {
    lines,
    onDir: (r) => add(`dir ${r.path} ${r.mode.toString(8)} ${r.mtime}`),
    onFile: (r) => add(`file ${r.path} ${r.size} ${r.offset}`),
    onData: (b) => {
      if (lines.at(-1)?.startsWith('data ')) lines[lines.length - 1] += hex(b);
      else add(`data ${hex(b)}`);
    },
    onFileEnd: (r) => add(`end ${r.status} ${hex(r.sha256)}`),
    onSkip: (r) => add(`skip ${r.path} ${r.reason}`),
    onEnd: (r) => add(`END ${r.files} ${r.dirs} ${r.bytes} ${r.skipped}`),
  };
}

test('every C++ folder stream decodes to the same lines, and the same ones are refused', async (t) => {
  if (!tool) return skip(t, 'SEALRELAY_TREE_VECTORS is not set: run through ctest (it builds tree_vectors.cpp)');
  if (!fileExists(tool)) return skip(t, `${tool} does not exist: cmake --build BUILD --target web_tree_vectors`);
  const vectors = JSON.parse(execFileSync(tool, { encoding: 'utf8', maxBuffer: 64 << 20 })).streams;
  assert.ok(vectors.length >= 10, 'the vectors were not all found');
  assert.ok(vectors.some((v) => v.error === null) && vectors.some((v) => v.error === 'bad_tree'));
  for (const v of vectors) {
    const visitor = recorder();
    const decoder = new TreeDecoder(visitor, { contents: v.contents, resumePath: v.resume ?? null,
                                              maxEntries: v.max_entries });
    const bytes = fromHex(v.hex);
    let error = null;
    try {
      for (let at = 0; at < bytes.length; at += 1000) await decoder.feed(bytes.subarray(at, at + 1000));
      decoder.finish();
    } catch (err) {
      error = err.code ?? err.message;
    }
    assert.equal(error, v.error, `${v.name}: the C++ decoder said ${v.error}`);
    assert.deepEqual(visitor.lines, v.lines, `${v.name}: the visitor hears what the C++ one heard, up to any error`);
  }
});

test("a tree request's bytes are the C++ encoder's, with every field and with none", (t) => {
  if (!tool || !fileExists(tool)) return skip(t, 'SEALRELAY_TREE_VECTORS is not set or not built: run through ctest');
  const { requests } = JSON.parse(execFileSync(tool, { encoding: 'utf8', maxBuffer: 64 << 20 }));
  const request = { op: 'tree', path: '/demo/logs', chunkSize: 65536, timestampMs: 1763677025123,
                    offerCompression: true };
  assert.equal(hex(encodeRequest({ ...request, select: { include: ['*.csv', '2026/*'], exclude: ['tmp'],
                                                         newerThan: 1700000000, maxDepth: 3 },
                                   contents: false, resume: { path: 'a/b.csv', offset: 4096 } })), requests[0]);
  assert.equal(hex(encodeRequest(request)), requests[1]);
});
