// Resume in the page's engine (transfer.js, maxResumes): when the relay
// loses the stream for good (`gone`, `connection_lost`), a get goes on with a
// new transfer from the verified bytes, its hash carried over
// (FrameOpener.continueFrom), into the same sink; anything else stays final.
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { concat, equal } from '../js/bytes.js';
import { FrameOpener, FrameSealer } from '../js/frames.js';
import { generateIdentity } from '../js/noise.js';
import { TransferError, runTransfer } from '../js/transfer.js';
import { FakeRelay, content, honestAgent, relayWith, tid } from './fake_relay.mjs';
import { handshake, sealAll } from './support.mjs';

const requester = generateIdentity();
const agentIdentity = generateIdentity();
const CHUNK = 4096;
const FILE = content(10 * CHUNK + 123, 11);
const files = { '/share/a.bin': FILE };
const GONE = { name: 'gone', id: '', data: '{"earliest":9}' };

function run(relay, extra = {}) {
  const sink = { parts: [], closed: false, aborted: null, opened: 0 };
  sink.write = async (chunk) => { sink.parts.push(chunk); };
  sink.close = async () => { sink.closed = true; };
  sink.abort = async (err) => { sink.aborted = err; };
  const resumes = [];
  const promise = runTransfer({
    relay: '', token: 'srt_test', agent: 'shop-1', agentKey: agentIdentity.publicKey, identity: requester,
    request: { op: 'get', path: '/share/a.bin', chunkSize: CHUNK },
    openSink: () => { ++sink.opened; return sink; },
    onResume: (r) => resumes.push(r),
    fetch: relay.fetch, sleep: async () => {}, random: () => 0.5,
    maxResumes: 3,
    ...extra,
  });
  return { promise, sink, resumes };
}

// Requests the relay received, decoded: [{offset, chunkSize}].
function posts(relay) {
  return [...relay.transfers.values()].map((t) => ({ offset: t.request.offset, chunkSize: t.request.chunkSize }));
}

async function rejection(promise) {
  const err = await promise.then(() => null, (e) => e);
  assert.ok(err instanceof TransferError, `expected a TransferError, got ${err?.stack ?? err}`);
  return err;
}

test('an opener handed over keeps the hash: the trailer of the whole file verifies', () => {
  const data = content(5 * CHUNK + 7, 3);
  const first = handshake();
  const framesA = sealAll(first.agentKeys, data, CHUNK);
  const second = handshake();
  // The agent of the resumed transfer hashes the prefix without sending it.
  const sealer = new FrameSealer(second.agentKeys, 2);
  sealer.absorbPrefix(data.subarray(0, 2 * CHUNK));
  const framesB = [];
  for (let at = 2 * CHUNK; at < data.length; at += CHUNK) framesB.push(sealer.sealChunk(data.subarray(at, at + CHUNK)));
  framesB.push(sealer.sealTrailer());

  const opener = new FrameOpener(first.requesterKeys);
  for (const f of framesA.slice(0, 2)) opener.open(f);
  const resumed = new FrameOpener(second.requesterKeys, 2);
  resumed.continueFrom(opener);
  assert.equal(resumed.totalBytes, 2 * CHUNK);
  for (const f of framesB) resumed.open(f);
  assert.ok(resumed.complete);
  assert.equal(resumed.totalBytes, data.length);
  assert.throws(() => opener.open(framesA[2]), (e) => e.code === 'bad_frame', 'the old opener is spent');
  assert.throws(() => resumed.continueFrom(new FrameOpener(first.requesterKeys)), TypeError);

  // A trailer over the rest only (an agent that skipped the prefix) is refused.
  const partial = sealAll(second.agentKeys, data.subarray(2 * CHUNK), CHUNK, 2);
  const again = new FrameOpener(first.requesterKeys);
  for (const f of framesA.slice(0, 2)) again.open(f);
  const check = new FrameOpener(second.requesterKeys, 2);
  check.continueFrom(again);
  assert.throws(() => partial.forEach((f) => check.open(f)), (e) => e.code === 'trailer_mismatch');
});

test('gone mid-download: a new transfer from the verified bytes finishes the same file', async () => {
  // First connection: the answer, 3 frames, then gone; every later one is whole.
  const relay = relayWith({ identity: agentIdentity, files,
                            plans: [{ mutate: (events) => [...events.slice(0, 4), GONE] }, {}] });
  const { promise, sink, resumes } = run(relay);
  const result = await promise;
  assert.equal(result.resumes, 1);
  assert.equal(result.bytes, FILE.length);
  assert.ok(equal(concat(...sink.parts), FILE), 'the content is whole and in order');
  assert.ok(sink.closed && !sink.aborted);
  assert.equal(sink.opened, 1, 'the same sink goes on');
  assert.deepEqual(posts(relay), [{ offset: 0, chunkSize: CHUNK }, { offset: 3 * CHUNK, chunkSize: CHUNK }]);
  assert.deepEqual(resumes.map((r) => [r.bytes, r.code]), [[3 * CHUNK, 'gone']]);
  assert.deepEqual(relay.deleted, [tid(0)], 'the lost transfer is cancelled at the relay');
  assert.deepEqual(relay.released, [tid(1)], 'the finished one is released');
});

// Message 1's timestamp: from the caller's floor (the page's per-agent
// clock, keystore.js RequestClock), and each resume's above the one before,
// even with the wall clock stepped back: the agent's replay guard refuses a
// timestamp it has seen. Each one used is reported for the page to keep.
test('a resumed transfer stamps message 1 above the one before, from the floor', async () => {
  const relay = relayWith({ identity: agentIdentity, files,
                            plans: [{ mutate: (events) => [...events.slice(0, 4), GONE] }, {}] });
  const used = [];
  let clock = 5_000_000;
  const { promise } = run(relay, { stampFloor: 7_000_000, onStamp: (s) => used.push(s), now: () => (clock -= 90_000) });
  assert.equal((await promise).resumes, 1);
  const stamps = [...relay.transfers.values()].map((t) => t.request.timestampMs);
  assert.deepEqual(stamps, [7_000_000, 7_000_001]);
  assert.deepEqual(used, stamps);

  // With the wall clock ahead of the floor, the wall clock counts.
  const ahead = relayWith({ identity: agentIdentity, files });
  const { promise: p2 } = run(ahead, { stampFloor: 10, now: () => 1_700_000_000_000 });
  await p2;
  assert.deepEqual([...ahead.transfers.values()].map((t) => t.request.timestampMs), [1_700_000_000_000]);
});

test('a stream lost for good (connection_lost) also resumes', async () => {
  const relay = relayWith({ identity: agentIdentity, files,
                            plans: [{ events: 3, end: 'error' }, { events: 0, end: 'error' }, { events: 0, end: 'error' },
                                    {}] });
  const { promise, sink } = run(relay, { maxReconnects: 2 });
  const result = await promise;
  assert.equal(result.resumes, 1);
  assert.ok(equal(concat(...sink.parts), FILE));
  assert.equal(posts(relay)[1].offset, 2 * CHUNK);
});

test('a file that changed between the transfers is refused, not stitched', async () => {
  const honest = honestAgent({ files, chunkSize: CHUNK });
  const agent = {
    identity: agentIdentity,
    framesFor: honest.framesFor,
    answerFor: (request) => ({ ...honest.answerFor(request), mtime: request.offset ? 2 : 1 }),
  };
  const relay = new FakeRelay({ agent, plans: [{ mutate: (events) => [...events.slice(0, 4), GONE] }, {}] });
  const { promise, sink } = run(relay);
  const err = await rejection(promise);
  assert.equal(err.kind, 'aborted');
  assert.equal(err.code, 'changed');
  assert.ok(sink.aborted && !sink.closed);
});

test('an agent answering from another offset is refused: resume_mismatch', async () => {
  const honest = honestAgent({ files, chunkSize: CHUNK });
  const agent = {
    identity: agentIdentity,
    framesFor: (request, keys) => honest.framesFor({ ...request, offset: 0 }, keys),
    answerFor: (request) => honest.answerFor({ ...request, offset: 0 }),
  };
  const relay = new FakeRelay({ agent, plans: [{ mutate: (events) => [...events.slice(0, 4), GONE] }, {}] });
  const err = await rejection(run(relay).promise);
  assert.equal(err.code, 'resume_mismatch');
});

test('integrity errors and refusals are final: no second transfer', async () => {
  const tamper = (events) => events.map((e, i) => (i === 2 ? { ...e, data: `${e.data.startsWith('A') ? 'B' : 'A'}${e.data.slice(1)}` } : e));
  const relay = relayWith({ identity: agentIdentity, files, plans: [{ mutate: tamper }] });
  const err = await rejection(run(relay).promise);
  assert.equal(err.kind, 'integrity');
  assert.equal(relay.transfers.size, 1);
  const missing = relayWith({ identity: agentIdentity, files: {} });
  assert.equal((await rejection(run(missing).promise)).code, 'not_found');
  assert.equal(missing.transfers.size, 1);
});

test('resumes are bounded by maxResumes; without it gone stays final', async () => {
  const always = relayWith({ identity: agentIdentity, files,
                             plans: [{ mutate: (events) => [...events.slice(0, 3), GONE] }] });
  const { promise, sink } = run(always, { maxResumes: 2 });
  const err = await rejection(promise);
  assert.equal(err.code, 'gone');
  assert.equal(always.transfers.size, 3);
  assert.ok(sink.aborted);
  const once = relayWith({ identity: agentIdentity, files,
                           plans: [{ mutate: (events) => [...events.slice(0, 3), GONE] }, {}] });
  assert.equal((await rejection(run(once, { maxResumes: 0 }).promise)).code, 'gone');
  assert.equal(once.transfers.size, 1);
});
