// What tree_saver.js keeps of a folder download's problems without a file
// system (the writing itself runs in Chromium: tree_saver_browser.test.mjs).
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { FolderSaver } from '../js/tree_saver.js';

test('the summary keeps the first 1000 skipped or failed entries and counts the rest', () => {
  const saver = new FolderSaver(null);
  for (let i = 0; i < 1500; ++i) saver.onSkip({ path: `f${i}`, reason: 'loop' });
  assert.equal(saver.summary.skipped.length, 1000);
  assert.equal(saver.summary.unlisted, 500);
  assert.deepEqual(saver.summary.skipped[999], { path: 'f999', reason: 'loop' });
});

test('a file inside a folder the page could not make fails, and is listed, without touching any disk', async () => {
  const saver = new FolderSaver(null);
  await saver.onFile({ path: 'missing/x', size: 1, offset: 0, mtime: 0, mode: 0o644 });
  await saver.onData(Uint8Array.of(1));
  await saver.onFileEnd({ status: 'ok', sha256: new Uint8Array(32) });
  assert.deepEqual(saver.summary.failed, [{ path: 'missing/x', reason: 'its folder could not be created' }]);
  assert.equal(saver.summary.files, 0);
});
