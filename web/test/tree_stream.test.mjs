// The folder stream's decoder (web/js/tree_stream.js, docs/protocol.md
// §4.5): a well-formed stream fed in pieces of every size reaches the
// visitor whole and in order; every receiver rule refuses as `bad_tree`
// before the visitor sees the offending record.
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { concat, utf8 } from '../js/bytes.js';
import {
  DEFAULT_MAX_ENTRIES, MAX_RECORD_BYTES, TreeDecoder, checkPath, comparePaths, encodeData, encodeDir, encodeEnd,
  encodeFile, encodeFileEnd, encodeSkip,
} from '../js/tree_stream.js';

const sha = new Uint8Array(32).fill(7);

// A visitor that records what it is told, as lines (a file's content as
// one line, however it was cut).
function recorder() {
  const seen = [];
  return {
    seen,
    onDir: (r) => seen.push(`dir ${r.path} ${r.mode.toString(8)} ${r.mtime}`),
    onFile: (r) => seen.push(`file ${r.path} ${r.size} ${r.offset}`),
    onData: (b) => {
      if (seen.at(-1).startsWith('data ')) seen[seen.length - 1] += Buffer.from(b).toString();
      else seen.push(`data ${Buffer.from(b).toString()}`);
    },
    onFileEnd: (r) => seen.push(`end ${r.status} ${r.sha256[0]}`),
    onSkip: (r) => seen.push(`skip ${r.path} ${r.reason}`),
    onEnd: (r) => seen.push(`END ${r.files} ${r.dirs} ${r.bytes} ${r.skipped}`),
  };
}

const good = concat(
  encodeDir({ path: 'a', mtime: 1700000000, mode: 0o750 }),
  encodeFile({ path: 'a/x.txt', size: 5 }), encodeData(utf8('hel')), encodeData(utf8('lo')),
  encodeFileEnd({ sha256: sha }),
  encodeDir({ path: 'a/z' }),
  encodeSkip({ path: 'a/z/link', reason: 'symlink_out' }),
  encodeFile({ path: 'a-b', size: 0 }), encodeFileEnd({ sha256: sha }),
  encodeFile({ path: 'b', size: 10 }), encodeData(utf8('par')), encodeFileEnd({ status: 'changed' }),
  encodeEnd({ files: 2, dirs: 2, bytes: 5, skipped: 2 }),
);
const goodSeen = ['dir a 750 1700000000', 'file a/x.txt 5 0', 'data hello', 'end ok 7', 'dir a/z 755 0',
                  'skip a/z/link symlink_out', 'file a-b 0 0', 'end ok 7', 'file b 10 0', 'data par', 'end changed 0',
                  'END 2 2 5 2'];

async function decode(bytes, options, piece = bytes.length) {
  const visitor = recorder();
  const decoder = new TreeDecoder(visitor, options);
  for (let at = 0; at < bytes.length; at += piece) await decoder.feed(bytes.subarray(at, at + piece));
  decoder.finish();
  return visitor.seen;
}

// The records before the bad one reach the visitor; the bad one never does.
async function refused(bytes, pattern, options) {
  const visitor = recorder();
  const decoder = new TreeDecoder(visitor, options);
  await assert.rejects(async () => {
    await decoder.feed(bytes);
    decoder.finish();
  }, (err) => err.code === 'bad_tree' && pattern.test(err.message));
  await assert.rejects(decoder.feed(new Uint8Array(1)), { code: 'bad_tree' }, 'final: every later call fails');
  return visitor.seen;
}

const end = encodeEnd({});

test('a well-formed stream reaches the visitor whole, in order, in pieces of any size', async () => {
  for (const piece of [1, 2, 5, 7, 64, good.length]) {
    assert.deepEqual(await decode(good, {}, piece), goodSeen, `pieces of ${piece}`);
  }
});

test('paths: the rule 2 refusals, and what passes', () => {
  for (const p of ['a', 'a/b', 'ü/é.txt', 'a b', '.hidden', '..x', 'x'.repeat(255), `${'d/'.repeat(127)}f`]) {
    checkPath(p);
  }
  const refusals = {
    '': /empty path/, '/a': /empty component/, 'a/': /empty component/, 'a//b': /empty component/,
    '.': /\. or \.\./, '..': /\. or \.\./, 'a/../b': /\. or \.\./, 'a/./b': /\. or \.\./,
    'a\\b': /backslash/, 'a\nb': /control/, 'a\u007fb': /control/, 'a\0b': /control|NUL/, 'a\tb': /control/,
    ['x'.repeat(256)]: /longer than 255/, [`${'d/'.repeat(128)}f`]: /deeper than 128/,
    [`${'x'.repeat(200)}/`.repeat(21)]: /longer than 4096|empty/,
  };
  for (const [p, why] of Object.entries(refusals)) {
    assert.throws(() => checkPath(p), (e) => e.code === 'bad_tree' && why.test(e.message), JSON.stringify(p));
  }
  assert.throws(() => checkPath(new Uint8Array([0x61, 0xc3, 0x28])), /not valid UTF-8/);
  assert.throws(() => checkPath(new Uint8Array([0xed, 0xa0, 0x80])), /not valid UTF-8/, 'a UTF-8 surrogate');
  assert.throws(() => checkPath(`${'x'.repeat(200)}/`.repeat(20) + 'y'.repeat(200)), /longer than 4096/);
});

test('stream order compares component by component', () => {
  const cmp = (a, b) => Math.sign(comparePaths(utf8(a), utf8(b)));
  assert.equal(cmp('a', 'a/b'), -1, 'a folder before its contents');
  assert.equal(cmp('a/b', 'a-c'), -1, "a folder's contents before a sibling that sorts after it");
  assert.equal(cmp('a-c', 'a/b'), 1);
  assert.equal(cmp('a', 'a'), 0);
  assert.equal(cmp('B', 'a'), -1, 'bytewise');
  assert.equal(cmp('a/z', 'ab'), -1);
});

test('rule 1: unknown types, lengths outside the table, modes, offsets', async () => {
  const header = (type, length) => {
    const h = new Uint8Array(5);
    h[0] = type;
    new DataView(h.buffer).setUint32(1, length);
    return h;
  };
  await refused(header(0, 1), /unknown record type 0/);
  await refused(header(7, 1), /unknown record type 7/);
  await refused(header(1, 12), /type 1 with length 12/);
  await refused(header(2, 28 + 4097), /type 2 with length/);
  await refused(header(4, 32), /type 4 with length 32/);
  await refused(header(6, 33), /type 6 with length 33/);
  await refused(header(5, 0xffffffff), /type 5 with length/, 'a huge length is refused before any body is read');
  await refused(encodeDir({ path: 'a', mode: 0o1777 }), /mode above 0777/);
  await refused(encodeFile({ path: 'a', size: 3, mode: 0o4755 }), /mode above 0777/);
  await refused(encodeFile({ path: 'a', size: 3, offset: 4 }), /offset is beyond its size/);
  await refused(encodeFile({ path: 'a', size: 2 ** 53 }), /2\^53/);
});

test('rule 1: DATA and FILE_END in the wrong place, anything inside a file, after END, or no END', async () => {
  await refused(encodeData(utf8('x')), /DATA outside a file/);
  await refused(concat(encodeFile({ path: 'a', size: 2 }), encodeData(utf8('xyz'))), /beyond the file's size/);
  await refused(concat(encodeFile({ path: 'a', size: 4, offset: 2 }), encodeData(utf8('xyz'))), /beyond/);
  assert.deepEqual(await refused(concat(encodeFile({ path: 'a', size: 2 }), encodeData(utf8('x')),
                                        encodeFileEnd({ sha256: sha })), /before all of the file/),
                   ['file a 2 0', 'data x']);
  await refused(encodeFileEnd({}), /FILE_END outside a file/);
  for (const inside of [encodeDir({ path: 'b' }), encodeFile({ path: 'b', size: 0 }),
                        encodeSkip({ path: 'b', reason: 'loop' }), end]) {
    await refused(concat(encodeFile({ path: 'a', size: 1 }), inside), /inside a file/);
  }
  await refused(concat(encodeFile({ path: 'a', size: 1 }), encodeData(utf8('x')),
                       encodeFileEnd({ status: 'ok' }).fill(9, 5, 6)),
                /unknown file status 9/);
  await refused(concat(end, encodeDir({ path: 'a' })), /after the END/);
  await refused(concat(end, new Uint8Array(1)), /after the END/);
  await refused(encodeDir({ path: 'a' }), /ended before its END/);
  await refused(concat(end.subarray(0, 3)), /ended before its END/);
  await refused(encodeSkip({ path: 'a', reason: 'loop' }).fill(0, 5, 6), /unknown skip reason 0/);
  await refused(encodeSkip({ path: 'a', reason: 'loop' }).fill(9, 5, 6), /unknown skip reason 9/);
});

test('a stream without contents: FILE stands alone, DATA or FILE_END or an offset is refused', async () => {
  const listing = concat(encodeDir({ path: 'd' }), encodeFile({ path: 'd/f', size: 9 }),
                         encodeFile({ path: 'e', size: 1 }), end);
  assert.deepEqual(await decode(listing, { contents: false }),
                   ['dir d 755 0', 'file d/f 9 0', 'file e 1 0', 'END 0 0 0 0']);
  await refused(concat(encodeFile({ path: 'f', size: 9 }), encodeData(utf8('x'))), /DATA outside/, { contents: false });
  await refused(concat(encodeFile({ path: 'f', size: 9 }), encodeFileEnd({})), /FILE_END outside/, { contents: false });
  await refused(encodeFile({ path: 'f', size: 9, offset: 1 }), /offset in a stream without contents/,
                { contents: false });
});

test('rule 2: a bad path in any record is refused before the visitor sees it', async () => {
  assert.deepEqual(await refused(concat(encodeDir({ path: 'a' }), encodeFile({ path: 'a/../../etc/passwd', size: 0 })),
                                 /\. or \.\./), ['dir a 755 0']);
  await refused(encodeDir({ path: '/etc' }), /empty component/);
  await refused(encodeSkip({ path: 'a\u0001', reason: 'bad_name' }), /control/, 'SKIP paths too');
  const invalid = concat(encodeFile({ path: 'ab', size: 0 }));
  invalid[5 + 28] = 0xff;
  await refused(invalid, /not valid UTF-8/);
});

test('rule 3: stream order, and every path under a folder of the current branch', async () => {
  await refused(concat(encodeFile({ path: 'b', size: 0 }), encodeFileEnd({}), encodeDir({ path: 'a' })),
                /stream order/);
  await refused(concat(encodeDir({ path: 'a' }), encodeDir({ path: 'a' })), /stream order/, 'a repeat');
  await refused(encodeFile({ path: 'a/x', size: 0 }), /folder did not come before/);
  await refused(concat(encodeDir({ path: 'a' }), encodeDir({ path: 'b' }), encodeFile({ path: 'b/c/d', size: 0 })),
                /folder did not come before/);
  // A FILE is not a folder: nothing may be placed "inside" it.
  await refused(concat(encodeFile({ path: 'a', size: 0 }), encodeFileEnd({}), encodeDir({ path: 'a/b' })),
                /folder did not come before/);
  // A folder left behind is closed: going back into it is out of order.
  await refused(concat(encodeDir({ path: 'a' }), encodeDir({ path: 'b' }), encodeDir({ path: 'a/c' })), /stream order/);
});

test("a resumed stream may start inside the folders above resume.path, and only those", async () => {
  const resumed = concat(encodeFile({ path: 'a/b/f', size: 4, offset: 3 }), encodeData(utf8('x')),
                         encodeFileEnd({ sha256: sha }), encodeFile({ path: 'a/g', size: 0 }), encodeFileEnd({}), end);
  assert.deepEqual(await decode(resumed, { resumePath: 'a/b/f' }),
                   ['file a/b/f 4 3', 'data x', 'end ok 7', 'file a/g 0 0', 'end ok 0', 'END 0 0 0 0']);
  await refused(resumed, /folder did not come before/, { resumePath: 'a/c' });
  await refused(resumed, /folder did not come before/);
  assert.throws(() => new TreeDecoder(recorder(), { resumePath: '../x' }), { code: 'bad_tree' });
});

test("rule 4: more records with a path than the receiver's limit", async () => {
  const three = concat(encodeDir({ path: 'a' }), encodeDir({ path: 'b' }),
                       encodeSkip({ path: 'c', reason: 'loop' }), end);
  assert.equal((await decode(three, { maxEntries: 3 })).length, 4);
  assert.deepEqual(await refused(three, /more than 2 entries/, { maxEntries: 2 }), ['dir a 755 0', 'dir b 755 0']);
  assert.equal(DEFAULT_MAX_ENTRIES, 1_000_000);
});

test("a visitor's error stops the decoder and is returned as it is", async () => {
  const visitor = { ...recorder(), onFile: () => { throw new Error('disk full'); } };
  const decoder = new TreeDecoder(visitor);
  await assert.rejects(decoder.feed(good), /disk full/);
  await assert.rejects(decoder.feed(end), /disk full/);
  assert.throws(() => decoder.finish(), /disk full/);
});

test('memory: a non-DATA record is gathered in at most MAX_RECORD_BYTES; DATA passes through', async () => {
  const longest = encodeFile({ path: `${'x'.repeat(255)}/`.repeat(15) + 'y'.repeat(255), size: 0 });
  assert.ok(longest.length <= MAX_RECORD_BYTES);
  // The parent folders are missing, so this is refused, but only after the whole record was read and checked.
  await refused(longest, /folder did not come before/);
  const sizes = [];
  const visitor = { ...recorder(), onData: (b) => sizes.push(b.length) };
  const decoder = new TreeDecoder(visitor);
  const big = concat(encodeFile({ path: 'f', size: 65536 }), encodeData(new Uint8Array(65536)));
  await decoder.feed(big.subarray(0, 1000));
  await decoder.feed(big.subarray(1000));
  assert.deepEqual(sizes, [1000 - 5 - 29 - 5, 65536 - (1000 - 5 - 29 - 5)], 'DATA handed over as it arrives');
});
