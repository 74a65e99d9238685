// The folder download's writer (web/js/tree_saver.js) in real headless
// Chromium: folder streams (web/js/tree_stream.js) decoded into a folder of
// the origin-private file system, which stands in for the folder the person
// picks with showDirectoryPicker (the same FileSystemDirectoryHandle API; the
// dialog alone cannot be clicked headless). Serves web/ on a loopback port
// of its own; no relay needed: the relay and agent path is tests/browser's.
//   SEALRELAY_CHROMIUM=/path/to/chromium (default /usr/bin/chromium)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createServer } from 'node:http';
import { createRequire } from 'node:module';
import { join, normalize } from 'node:path';

import { serveWebFile } from './bench_support.mjs';
import { skip, webDir } from './helpers.mjs';

const chromiumPath = process.env.SEALRELAY_CHROMIUM ?? '/usr/bin/chromium';

// Runs `scenario` (a function body's name below) in a page of web/'s origin.
async function inChromium(t, run) {
  if (!existsSync(chromiumPath)) return skip(t, `${chromiumPath} is not installed (apt-get install chromium)`);
  if (!existsSync(join(webDir, 'node_modules', 'playwright-core'))) {
    return skip(t, 'web/node_modules is missing (npm ci)');
  }
  const { chromium } = createRequire(join(webDir, 'package.json'))('playwright-core');
  const server = createServer(async (req, res) => {
    const path = normalize(decodeURIComponent(new URL(req.url, 'http://x').pathname));
    if (path === '/') res.writeHead(200, { 'Content-Type': 'text/html' }).end('<!doctype html><title>t</title>');
    else await serveWebFile(path, res);
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const browser = await chromium.launch({ executablePath: chromiumPath, headless: true,
                                          args: ['--headless', '--no-sandbox', '--disable-gpu'] });
  try {
    const page = await browser.newPage();
    page.on('console', (msg) => console.log(`# [page] ${msg.text()}`));
    await page.goto(`http://127.0.0.1:${server.address().port}/`);
    return await page.evaluate(run);
  } finally {
    await browser.close();
    server.close();
  }
}

// In the page: decodes `records` (made there) into a fresh OPFS folder
// `picked`, fed in 1000-byte pieces; returns {error, summary, tree} where
// tree maps every path under the OPFS root to its text (folders: '/').
const harness = `
  const ts = await import('/js/tree_stream.js');
  const { FolderSaver, ZipSaver } = await import('/js/tree_saver.js');
  const { Sha256 } = await import('/js/sha256.js');
  const { concat, utf8 } = await import('/js/bytes.js');
  const sha = (text) => new Sha256().update(utf8(text)).finish();
  const pieces = (bytes) => Array.from({ length: Math.ceil(bytes.length / ts.MAX_DATA_BYTES) },
    (_, i) => ts.encodeData(bytes.subarray(i * ts.MAX_DATA_BYTES, (i + 1) * ts.MAX_DATA_BYTES)));
  const file = (path, text, end = { sha256: sha(text) }) => [ts.encodeFile({ path, size: utf8(text).length }),
    ...pieces(utf8(text)), ts.encodeFileEnd(end)];
  async function run(records) {
    const opfs = await navigator.storage.getDirectory();
    for await (const name of opfs.keys()) await opfs.removeEntry(name, { recursive: true });
    const picked = await opfs.getDirectoryHandle('picked', { create: true });
    const saver = new FolderSaver(picked);
    const decoder = new ts.TreeDecoder(saver);
    const bytes = concat(...records.flat());
    let error = null;
    try {
      for (let at = 0; at < bytes.length; at += 1000) await decoder.feed(bytes.subarray(at, at + 1000));
      decoder.finish();
    } catch (err) {
      error = err.code ?? err.message;
      console.log(err.message);
    }
    const tree = {};
    const walk = async (dir, prefix) => {
      for await (const [name, h] of dir.entries()) {
        if (h.kind === 'directory') { tree[prefix + name] = '/'; await walk(h, prefix + name + '/'); }
        else tree[prefix + name] = await (await h.getFile()).text();
      }
    };
    await walk(opfs, '');
    return { error, summary: saver.summary, tree };
  }
  // The same into a zip in OPFS: {error, summary, zip (bytes as a binary string), left (OPFS names after)}.
  async function runZip(records, zip64 = false, folder = null) {
    const opfs = await navigator.storage.getDirectory();
    for await (const name of opfs.keys()) await opfs.removeEntry(name, { recursive: true });
    const out = await (await opfs.getFileHandle('out.zip', { create: true })).createWritable();
    const saver = new ZipSaver(out, await opfs.getDirectoryHandle('staging', { create: true }), { zip64, folder });
    const decoder = new ts.TreeDecoder(saver);
    const bytes = concat(...records.flat());
    let error = null;
    try {
      for (let at = 0; at < bytes.length; at += 1000) await decoder.feed(bytes.subarray(at, at + 1000));
      decoder.finish();
      await saver.finish();
    } catch (err) {
      error = err.code ?? err.message;
      await saver.abort();
    }
    const zip = new Uint8Array(await (await (await opfs.getFileHandle('out.zip')).getFile()).arrayBuffer());
    let text = '';
    for (const b of zip) text += String.fromCharCode(b);
    const left = [];
    for await (const name of (await opfs.getDirectoryHandle('staging')).keys()) left.push(name);
    return { error, summary: saver.summary, zip: text, left };
  }
`;

test('a folder stream lands in the picked folder: files verified, empty folders made, skips reported', async (t) => {
  const out = await inChromium(t, new Function(`return (async () => {${harness}
    const big = 'x'.repeat(70000) + 'end';
    return run([ts.encodeDir({ path: 'a' }),
                [ts.encodeFile({ path: 'a/changing', size: 9 }), ts.encodeData(utf8('par')),
                 ts.encodeFileEnd({ status: 'changed' })],
                ts.encodeDir({ path: 'a/empty' }), file('a/one.txt', 'one'),
                ts.encodeSkip({ path: 'a/out', reason: 'symlink_out' }), file('a/zero', ''),
                ts.encodeDir({ path: 'b' }), file('b/big.txt', big), file('top.txt', 'top'),
                ts.encodeEnd({ files: 4, dirs: 3, bytes: 70009, skipped: 2 })]);
  })()`));
  if (!out) return;
  assert.equal(out.error, null);
  assert.deepEqual(out.tree, {
    picked: '/', 'picked/a': '/', 'picked/a/empty': '/', 'picked/a/one.txt': 'one', 'picked/a/zero': '',
    'picked/b': '/', 'picked/b/big.txt': `${'x'.repeat(70000)}end`, 'picked/top.txt': 'top',
  }, 'the tree, no temporary file left, nothing of the changed file');
  assert.equal(out.summary.files, 4);
  assert.equal(out.summary.dirs, 3);
  assert.deepEqual(out.summary.skipped, [{ path: 'a/changing', reason: 'changed' },
                                         { path: 'a/out', reason: 'symlink_out' }]);
  assert.deepEqual(out.summary.failed, []);
});

test('a file whose SHA-256 does not match never gets its name; the rest arrive', async (t) => {
  // Small files wait in memory, larger ones (over SMALL_FILE_BYTES) in a temporary file: both ways.
  const out = await inChromium(t, new Function(`return (async () => {${harness}
    const big = (c) => c.repeat(1536 * 1024);
    return run([file('a.txt', 'good'), file('b.txt', 'evil', { sha256: sha('good') }), file('c.txt', 'fine'),
                file('d.big', big('d')), file('e.big', big('e'), { sha256: sha(big('d')) }), ts.encodeEnd({})]);
  })()`));
  if (!out) return;
  assert.equal(out.error, null);
  assert.deepEqual(out.tree, { picked: '/', 'picked/a.txt': 'good', 'picked/c.txt': 'fine',
                               'picked/d.big': 'd'.repeat(1536 * 1024) }, 'no temporary file left either');
  assert.deepEqual(out.summary.failed.map((f) => f.path), ['b.txt', 'e.big']);
  for (const f of out.summary.failed) assert.match(f.reason, /SHA-256/);
});

test('a hostile stream is refused before anything lands outside the picked folder', async (t) => {
  const out = await inChromium(t, new Function(`return (async () => {${harness}
    const results = [];
    for (const path of ['../escape.txt', '/abs.txt', 'a\\\\..\\\\b', 'ctl\\u0007.txt', 'x/../../escape.txt']) {
      results.push(await run([file('ok.txt', 'ok'), file(path, 'bad'), ts.encodeEnd({})]));
    }
    results.push(await run([file('ok.txt', 'ok'), file('sub/inside.txt', 'no folder came first'), ts.encodeEnd({})]));
    return results;
  })()`));
  if (!out) return;
  for (const r of out) {
    assert.equal(r.error, 'bad_tree');
    assert.deepEqual(r.tree, { picked: '/', 'picked/ok.txt': 'ok' }, 'only what came before the bad record');
  }
});

// What Python's zipfile (and Info-ZIP's unzip -t) read in a zip the page
// made: {name: SHA-256 of the content} after checking every CRC.
function readZip(binary) {
  const dir = mkdtempSync(join(tmpdir(), 'sealrelay-zip-'));
  try {
    const path = join(dir, 'out.zip');
    writeFileSync(path, Buffer.from(binary, 'latin1'));
    execFileSync('unzip', ['-tq', path]);
    const script = 'import hashlib,json,sys,zipfile\nz=zipfile.ZipFile(sys.argv[1])\nassert z.testzip() is None\n' +
                   'print(json.dumps({i.filename: hashlib.sha256(z.read(i)).hexdigest() for i in z.infolist()}))';
    return JSON.parse(execFileSync('python3', ['-c', script, path], { encoding: 'utf8' }));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const zipStream = `[ts.encodeDir({ path: 'a' }), ts.encodeDir({ path: 'a/empty' }), file('a/one.txt', 'one'),
  file('a/wrong.txt', 'evil', { sha256: sha('good') }), ts.encodeSkip({ path: 'a/x', reason: 'loop' }),
  file('big', 'y'.repeat(1536 * 1024)), file('big-wrong', 'z'.repeat(1536 * 1024), { sha256: sha('good') }),
  file('bü.txt', 'x'.repeat(70000) + 'end'), file('zero', ''), ts.encodeEnd({})]`;

function hasTool(name) {
  try {
    execFileSync('sh', ['-c', `command -v ${name}`]);
    return true;
  } catch {
    return false;
  }
}

test('a folder stream as one zip: verified files only, empty folders kept, staging emptied; zip64 too', async (t) => {
  if (!hasTool('unzip') || !hasTool('python3')) return skip(t, 'unzip or python3 is missing (they read the zip back)');
  const out = await inChromium(t, new Function(`return (async () => {${harness}
    return [await runZip(${zipStream}), await runZip(${zipStream}, true),
            await runZip(${zipStream}, false, { name: 'logs' })];
  })()`));
  if (!out) return;
  const expected = { 'a/': '', 'a/empty/': '', 'a/one.txt': 'one', 'bü.txt': `${'x'.repeat(70000)}end`,
                     big: 'y'.repeat(1536 * 1024), zero: '' };
  const under = (dir) => Object.fromEntries([[`${dir}/`, ''],
                                             ...Object.entries(expected).map(([k, v]) => [`${dir}/${k}`, v])]);
  for (const [i, r] of out.entries()) {
    assert.equal(r.error, null);
    const want = Object.fromEntries(Object.entries(i === 2 ? under('logs') : expected)
      .map(([k, v]) => [k, createHash('sha256').update(v).digest('hex')]));
    assert.deepEqual(readZip(r.zip), want,
                     'the unverified a/wrong.txt never entered the zip');
    assert.deepEqual(r.summary.failed.map((f) => f.path), ['a/wrong.txt', 'big-wrong']);
    assert.deepEqual(r.left, [], 'nothing left in the staging folder');
  }
  assert.ok(out[1].zip.includes('PK\x06\x06'), 'the forced zip64 end record');
});

test('a hostile stream aborts the zip: nothing of it is kept', async (t) => {
  const out = await inChromium(t, new Function(`return (async () => {${harness}
    return runZip([file('ok.txt', 'ok'), file('../escape', 'bad'), ts.encodeEnd({})]);
  })()`));
  if (!out) return;
  assert.equal(out.error, 'bad_tree');
  assert.equal(out.zip.length, 0, 'the aborted writable left the file as it was (empty)');
  assert.deepEqual(out.left, []);
});
