// Hashing in a second Worker (hash_worker.js, remote_sha256.js) and what
// depends on it: digests equal node:crypto however the content is split,
// flow control bounds what waits to be hashed, sessions are forgotten when
// dropped, a dead hash Worker fails the download (never hangs it), a
// FrameOpener with a late digest is complete only once it verified, and a
// download through transfer_worker.js with a hash port gets the same bytes
// and refuses the same lies.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';

import { concat, equal, hex } from '../js/bytes.js';
import { FrameOpener, FrameSealer } from '../js/frames.js';
import { serveHashes } from '../js/hash_worker.js';
import { generateIdentity } from '../js/noise.js';
import { HashClient, POOL_BYTES } from '../js/remote_sha256.js';
import { Sha256 } from '../js/sha256.js';
import { HASH_WINDOW_BYTES, attach } from '../js/transfer_worker.js';
import { startTransfer } from '../js/transfer_client.js';
import { content, relayWith } from './fake_relay.mjs';
import { handshake, sealAll } from './support.mjs';

const nodeSha = (bytes) => createHash('sha256').update(bytes).digest('hex');

// A hash "Worker" on one end of a MessageChannel, its client on the other.
function hashPair() {
  const { port1, port2 } = new MessageChannel();
  const sessions = serveHashes(port1);
  const client = new HashClient(port2);
  return { client, sessions, port1, port2, close: () => { port1.close(); port2.close(); } };
}

test('a remote SHA-256 gives node:crypto\'s digest at block boundaries and however it is split', async () => {
  const { client, close } = hashPair();
  const data = randomBytes(70_000);
  for (const n of [0, 1, 55, 56, 63, 64, 65, 128, 4096, 70_000]) {
    const bytes = data.subarray(0, n);
    for (const step of [1, 63, 64, 65, 4096, 70_000]) {
      if (step === 1 && n > 4096) continue;
      const sha = client.session();
      for (let at = 0; at < n; at += step) sha.update(bytes.subarray(at, at + step));
      assert.equal(hex(await sha.finish()), nodeSha(bytes), `n=${n} step ${step}`);
    }
  }
  close();
});

test('sessions on one port are independent, and the sender\'s bytes stay its own', async () => {
  const { client, sessions, close } = hashPair();
  const a = client.session();
  const b = client.session();
  const chunk = Uint8Array.from([1, 2, 3]);
  a.update(chunk);
  chunk[0] = 9;   // changed after update: the copy sent is what was passed
  b.update(chunk);
  assert.deepEqual([...chunk], [9, 2, 3], 'update does not detach the caller\'s buffer');
  assert.equal(hex(await a.finish()), nodeSha(Uint8Array.from([1, 2, 3])));
  assert.equal(hex(await b.finish()), nodeSha(Uint8Array.from([9, 2, 3])));
  assert.equal(sessions.size, 0, 'a finished session is forgotten');
  assert.throws(() => a.update(chunk));
  assert.throws(() => a.finish());
  close();
});

test('buffers come back from the hash worker and are reused, and only the bytes given are hashed', async () => {
  const { client, close } = hashPair();
  const a = client.session();
  a.update(new Uint8Array(1000).fill(0xaa));
  await a.drain(0);
  assert.equal(client.pooledBytes, 1000, 'the update\'s buffer came back');
  assert.equal(hex(await a.finish()), nodeSha(new Uint8Array(1000).fill(0xaa)));
  const b = client.session();
  const small = Uint8Array.from([1, 2, 3]);
  b.update(small);   // copied into the 1000-byte buffer, whose old bytes must not count
  assert.equal(client.pooledBytes, 0, 'taken from the pool');
  assert.equal(hex(await b.finish()), nodeSha(small));
  for (let i = 0; i < 40; ++i) client.session().update(new Uint8Array(512 * 1024));
  await new Promise((resolve) => setTimeout(resolve, 50));
  assert.ok(client.pooledBytes <= POOL_BYTES, `the pool stays bounded (${client.pooledBytes})`);
  close();
});

test('drain() waits until at most n bytes are left unhashed', async () => {
  const { client, close } = hashPair();
  const sha = client.session();
  for (let i = 0; i < 20; ++i) sha.update(new Uint8Array(1000));
  assert.equal(sha.pendingBytes, 20_000);
  await sha.drain(3000);
  assert.ok(sha.pendingBytes <= 3000, `pending ${sha.pendingBytes}`);
  await sha.drain(0);
  assert.equal(sha.pendingBytes, 0);
  await sha.drain(0);   // already drained: resolves at once
  const want = new Sha256();
  for (let i = 0; i < 20; ++i) want.update(new Uint8Array(1000));
  assert.equal(hex(await sha.finish()), hex(want.finish()));
  close();
});

test('a dropped session is forgotten by the hash worker', async () => {
  const { client, sessions, close } = hashPair();
  const sha = client.session();
  sha.update(new Uint8Array(10));
  await sha.drain(0);
  assert.equal(sessions.size, 1);
  sha.dispose();
  sha.dispose();   // idempotent
  await new Promise((resolve) => setTimeout(resolve, 10));
  assert.equal(sessions.size, 0);
  close();
});

test('a dead hash worker fails the digest and releases drain, now and for later sessions', async () => {
  const { client, close } = hashPair();
  const sha = client.session();
  sha.update(new Uint8Array(10));
  const digest = sha.finish();
  client.fail(new Error('gone'));
  await assert.rejects(digest, /gone/);
  const later = client.session();
  later.update(new Uint8Array(1));
  await later.drain(0);
  await assert.rejects(later.finish(), /gone/);
  close();
});

// A hasher whose digest comes when the test says so.
function lateHasher() {
  const sha = new Sha256();
  let release;
  const gate = new Promise((resolve) => { release = resolve; });
  return { update: (b) => sha.update(b), finish: () => gate.then(() => sha.finish()), release };
}

test('a FrameOpener with a late digest is complete only once the trailer verified', async () => {
  const { requesterKeys: keys, agentKeys } = handshake();
  const bytes = content(3 * 4096 + 7);
  const frames = sealAll(agentKeys, bytes, 4096);
  const hasher = lateHasher();
  const opener = new FrameOpener(keys, 0, { hasher });
  const parts = [];
  for (const f of frames.slice(0, -1)) parts.push(opener.open(f).chunk);
  assert.ok(equal(concat(...parts), bytes));
  const r = opener.open(frames.at(-1));
  assert.equal(r.kind, 'trailer');
  assert.ok(!opener.complete, 'not complete while the digest is on its way');
  assert.throws(() => opener.finish(), { code: 'truncated' });
  hasher.release();
  await r.verified;
  assert.ok(opener.complete);
  opener.finish();
  assert.throws(() => opener.open(frames[0]), { code: 'after_end' });
});

test('a FrameOpener with a late digest refuses frames after the trailer at once, and a lying trailer', async () => {
  const { requesterKeys: keys, agentKeys } = handshake();
  const bytes = content(2 * 4096);
  const frames = sealAll(agentKeys, bytes, 4096);
  const pending = new FrameOpener(keys, 0, { hasher: lateHasher() });
  for (const f of frames) pending.open(f);
  assert.throws(() => pending.open(frames[0]), { code: 'after_end' }, 'before the digest came');

  const sealer = new FrameSealer(agentKeys, 0);
  const lie = [sealer.sealChunk(bytes.subarray(0, 4096)), sealer.sealChunk(bytes.subarray(4096)),
               sealer.sealTrailerForTest(bytes.length, new Uint8Array(32))];
  for (const [what, trailer] of [['a wrong SHA-256', lie[2]],
                                 ['a wrong byte count', new FrameSealer(agentKeys, 2).sealTrailerForTest(
                                   bytes.length + 1, Sha256.digest(bytes))]]) {
    const hasher = lateHasher();
    const opener = new FrameOpener(keys, 0, { hasher });
    opener.open(lie[0]);
    opener.open(lie[1]);
    const r = opener.open(trailer);
    hasher.release();
    await assert.rejects(r.verified, { code: 'trailer_mismatch' }, what);
    assert.throws(() => opener.finish(), { code: 'trailer_mismatch' }, `${what}: the failure sticks`);
  }

  const broken = new FrameOpener(keys, 0, { hasher: { update() {}, finish: () => Promise.reject(new Error('x')) } });
  for (const f of frames.slice(0, -1)) broken.open(f);
  await assert.rejects(broken.open(frames.at(-1)).verified, { code: 'hash_failed' });
});

// ---- Through transfer_worker.js, with a hash port ----

const requester = generateIdentity();
const agentIdentity = generateIdentity();
const FILE = content(40 * 4096 + 5, 7);

// The hash worker sits behind a gate: while closed, what the decryption
// worker posts to it waits, unhashed, and is counted.
function setup(relayOptions = {}, { hashWindowBytes = undefined } = {}) {
  const relay = relayWith({ identity: agentIdentity, files: { '/share/a.bin': FILE }, ...relayOptions });
  const { port1, port2 } = new MessageChannel();
  attach(port1, { fetch: relay.fetch, sleep: async () => {}, hashWindowBytes });
  port2.start();
  const hash = new MessageChannel();
  const gate = { open: true, held: [], updates: 0, handler: null };
  hash.port1.addEventListener('message', (event) => {
    if (event.data.type === 'update') ++gate.updates;
    if (gate.open) gate.handler(event);
    else gate.held.push(event);
  });
  hash.port1.start();
  gate.release = () => {
    gate.open = true;
    for (const event of gate.held.splice(0)) gate.handler(event);
  };
  const gatedPort = {
    addEventListener: (type, handler) => { gate.handler = handler; },
    postMessage: (...args) => hash.port1.postMessage(...args),
  };
  const sessions = serveHashes(gatedPort);
  port2.postMessage({ type: 'hasher', port: hash.port2 }, [hash.port2]);
  const options = { relay: '', token: 'srt_test', agent: 'shop-1', agentKey: agentIdentity.publicKey,
                    identity: requester, request: { op: 'get', path: '/share/a.bin', chunkSize: 4096 } };
  return { relay, port: port2, options, sessions, gate,
           close: () => { port1.close(); port2.close(); hash.port1.close(); } };
}

test('a download hashing in the hash worker delivers the file and verifies its trailer', async () => {
  const { port, options, sessions, gate, close } = setup();
  const chunks = [];
  const result = await startTransfer(port, options, { onChunk: (c) => chunks.push(c) }).done;
  assert.ok(equal(concat(...chunks), FILE));
  assert.equal(result.bytes, FILE.length);
  assert.equal(gate.updates, 41, 'every chunk went to the hash worker');
  await new Promise((resolve) => setTimeout(resolve, 10));
  assert.equal(sessions.size, 0, 'the session ends with the download');
  close();
});

test('flow control: at most HASH_WINDOW_BYTES (+ the frame just opened) wait to be hashed', async () => {
  const { port, options, gate, close } = setup({}, { hashWindowBytes: 5 * 4096 });
  gate.open = false;
  const chunks = [];
  const t = startTransfer(port, options, { onChunk: (c) => chunks.push(c) });
  await new Promise((resolve) => setTimeout(resolve, 100));
  assert.equal(gate.updates, 6, 'the worker waits for the hash worker');
  assert.ok(HASH_WINDOW_BYTES >= 4 * 1024 * 1024, 'by default a few MiB');
  gate.release();
  const result = await t.done;
  assert.equal(result.bytes, FILE.length);
  assert.ok(equal(concat(...chunks), FILE));
  close();
});

test('with a hash worker, a dropped frame is out_of_order, a missing trailer truncated, the session dropped', async () => {
  for (const [mutate, code] of [
    [(events) => events.filter((e) => e.id !== '5'), 'out_of_order'],
    [(events) => events.filter((e) => e.name !== 'frame' || e.id !== String(42)), 'truncated'],
  ]) {
    const { port, options, sessions, close } = setup({ plans: [{ mutate }] });
    const err = await startTransfer(port, options, { onChunk: () => {} }).done.then(() => null, (e) => e);
    assert.equal(err?.kind, 'integrity', code);
    assert.equal(err.code, code);
    await new Promise((resolve) => setTimeout(resolve, 10));
    assert.equal(sessions.size, 0, `${code}: the session was dropped`);
    close();
  }
});

test('when the hash worker dies mid-download the download fails as local, not as the relay\'s fault', async () => {
  const { port, options, close } = setup();
  const err = await startTransfer(port, options, {
    onProgress: (p) => {
      if (p.frames === 3) port.postMessage({ type: 'hasher-lost', message: 'the hash worker stopped (test)' });
    },
  }).done.then(() => null, (e) => e);
  assert.equal(err?.kind, 'local');
  assert.equal(err.code, 'hash_failed');
  close();
});
