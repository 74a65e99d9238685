// The Worker protocol (transfer_worker.js + transfer_client.js) over a
// MessageChannel, as a Worker would use it: chunks arrive in order, flow
// control holds the stream back while the page is slow, errors and
// cancellation cross over with their kind and code.
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { concat, equal } from '../js/bytes.js';
import { generateIdentity } from '../js/noise.js';
import { BATCH_BYTES, WINDOW_CHUNKS, attach } from '../js/transfer_worker.js';
import { startTransfer } from '../js/transfer_client.js';
import { content, relayWith, tid } from './fake_relay.mjs';

const requester = generateIdentity();
const agentIdentity = generateIdentity();
const FILE = content(20 * 4096 + 5, 3);

// Frames go over one by one unless `batchBytes` says otherwise.
function setup(relayOptions = {}, { batchBytes = 0 } = {}) {
  const relay = relayWith({ identity: agentIdentity, files: { '/share/a.bin': FILE },
                            dirs: { '/share': [{ name: 'a.bin', type: 'file', size: 1, mtime: 1 }] }, ...relayOptions });
  const { port1, port2 } = new MessageChannel();
  const served = attach(port1, { fetch: relay.fetch, sleep: async () => {}, batchBytes });
  port2.start();
  const options = (request) => ({ relay: '', token: 'srt_test', agent: 'shop-1', agentKey: agentIdentity.publicKey,
                                  identity: requester, request });
  return { relay, port: port2, options, served, close: () => { port1.close(); port2.close(); } };
}

test('a download through the worker delivers every chunk in order, then done', async () => {
  const { port, options, close } = setup();
  const chunks = [];
  const progress = [];
  let answer = null;
  let transferId = null;
  let maxInflight = 0;
  let inflight = 0;
  const t = startTransfer(port, options({ op: 'get', path: '/share/a.bin', chunkSize: 4096 }), {
    onChunk: async (chunk) => {
      maxInflight = Math.max(maxInflight, ++inflight);
      await new Promise((resolve) => setTimeout(resolve, 2));   // a slow disk
      chunks.push(chunk);
      --inflight;
    },
    onAnswer: (a) => { answer = a; },
    onProgress: (p) => progress.push(p.bytes),
    onTransferId: (id) => { transferId = id; },
  });
  const result = await t.done;
  close();
  assert.ok(equal(concat(...chunks), FILE));
  assert.equal(result.bytes, FILE.length);
  assert.equal(answer.name, 'a.bin');
  assert.equal(transferId, tid(0));
  assert.equal(progress.at(-1), FILE.length);
  assert.ok(chunks.every((c) => c instanceof Uint8Array));
  assert.equal(maxInflight, 1, 'the client writes one chunk at a time');
  assert.ok(WINDOW_CHUNKS >= 1);
});

test('a listing comes back decoded in the result', async () => {
  const { port, options, close } = setup();
  const result = await startTransfer(port, options({ op: 'list', path: '/share' })).done;
  close();
  assert.deepEqual(result.entries, [{ name: 'a.bin', type: 'file', size: 1, mtime: 1 }]);
});

test('an integrity error crosses over with its kind and code', async () => {
  const { port, options, close } = setup({ plans: [{
    mutate: (events) => events.filter((e) => e.id !== '3'),
  }] });
  const chunks = [];
  const err = await startTransfer(port, options({ op: 'get', path: '/share/a.bin', chunkSize: 4096 }), {
    onChunk: (c) => chunks.push(c),
  }).done.then(() => null, (e) => e);
  close();
  assert.equal(err.kind, 'integrity');
  assert.equal(err.code, 'out_of_order');
  assert.equal(chunks.length, 2);
});

test('cancel stops the transfer and the relay is told', async () => {
  const { relay, port, options, close } = setup({ plans: [{ events: 6, end: 'stall' }] });
  const t = startTransfer(port, options({ op: 'get', path: '/share/a.bin', chunkSize: 4096 }), {
    onProgress: (p) => { if (p.frames === 3) t.cancel(); },
  });
  const err = await t.done.then(() => null, (e) => e);
  close();
  assert.equal(err.kind, 'cancelled');
  assert.deepEqual(relay.deleted, [tid(0)]);
});

test('a failing writer on the page cancels the transfer', async () => {
  const { port, options, close } = setup();
  const err = await startTransfer(port, options({ op: 'get', path: '/share/a.bin', chunkSize: 4096 }), {
    onChunk: () => { throw new Error('disk full'); },
  }).done.then(() => null, (e) => e);
  await new Promise((resolve) => setTimeout(resolve, 20));  // let the cancel reach the worker
  close();
  assert.equal(err.kind, 'local');
  assert.match(err.message, /disk full/);
});

test('flow control: the worker holds at most WINDOW_CHUNKS unacknowledged chunks', async () => {
  const { port, options, close } = setup();
  let arrived = 0;
  port.addEventListener('message', (e) => { if (e.data.type === 'chunk') ++arrived; });
  let release;
  const gate = new Promise((resolve) => { release = resolve; });
  const chunks = [];
  const t = startTransfer(port, options({ op: 'get', path: '/share/a.bin', chunkSize: 4096 }), {
    onChunk: async (c) => { await gate; chunks.push(c); },
  });
  await new Promise((resolve) => setTimeout(resolve, 100));
  assert.equal(arrived, WINDOW_CHUNKS, 'the worker waits for the page');
  release();
  await t.done;
  close();
  assert.equal(arrived, 21);
  assert.ok(equal(concat(...chunks), FILE));
});

test('frames go over joined in batches of batchBytes, the rest before done, within the window', async () => {
  assert.ok(BATCH_BYTES >= 1024 * 1024, 'batches of a few 256 KiB frames by default');
  const { port, options, close } = setup({}, { batchBytes: 3 * 4096 + 1 });
  let arrived = 0;
  port.addEventListener('message', (e) => { if (e.data.type === 'chunk') ++arrived; });
  let release;
  const gate = new Promise((resolve) => { release = resolve; });
  const sizes = [];
  const chunks = [];
  const t = startTransfer(port, options({ op: 'get', path: '/share/a.bin', chunkSize: 4096 }), {
    onChunk: async (c) => { await gate; sizes.push(c.length); chunks.push(c); },
  });
  await new Promise((resolve) => setTimeout(resolve, 100));
  assert.equal(arrived, WINDOW_CHUNKS, 'the window counts batches');
  release();
  const result = await t.done;
  close();
  assert.ok(equal(concat(...chunks), FILE));
  assert.equal(result.bytes, FILE.length);
  // 21 frames: five batches of four (16 KiB each, the first size >= 3 * 4096 + 1), then the last frame alone.
  assert.deepEqual(sizes, [16384, 16384, 16384, 16384, 16384, 5]);
});

test('with recycle, the page sends each chunk\'s memory back and the worker reuses it', async () => {
  const { port, options, served, close } = setup({}, { batchBytes: 3 * 4096 + 1 });
  const received = [];
  const copies = [];
  const result = await startTransfer(port, options({ op: 'get', path: '/share/a.bin', chunkSize: 4096 }), {
    onChunk: (c) => { received.push(c); copies.push(c.slice()); },
    recycle: true,
  }).done;
  await new Promise((resolve) => setTimeout(resolve, 10));
  close();
  assert.ok(equal(concat(...copies), FILE));
  assert.equal(result.bytes, FILE.length);
  assert.ok(received.every((c) => c.buffer.byteLength === 0), 'every chunk\'s buffer went back (detached here)');
  assert.ok(served.pooledBuffersForTest() >= 1, 'and waits in the pool for the next batches');
  assert.ok(served.pooledBuffersForTest() <= WINDOW_CHUNKS + 1, 'at most a window of them');
});
