// The transfer engine (web/js/transfer.js) against an in-process relay with
// a real JS agent behind it (fake_relay.mjs): the happy path, reconnects
// with Last-Event-ID, and every failure reported with its kind and code;
// each against a relay that answers the binary event stream and one that
// answers only SSE.
import { test as nodeTest } from 'node:test';
import assert from 'node:assert/strict';

import { concat, equal } from '../js/bytes.js';
import { generateIdentity } from '../js/noise.js';
import { TransferError, listDirectory, runTransfer } from '../js/transfer.js';
import { FakeRelay, content, honestAgent, relayWith as anyRelayWith, tid } from './fake_relay.mjs';
import { TYPE, record } from '../js/event_stream.js';

const requester = generateIdentity();
const agentIdentity = generateIdentity();
const FILE = content(10 * 4096 + 123, 7);
const files = { '/share/a.bin': FILE };
const dirs = { '/share': [{ name: 'a.bin', type: 'file', size: FILE.length, mtime: 1 },
                          { name: 'sub', type: 'dir', size: 0, mtime: 2 }] };

// A sink collecting chunks, recording close/abort.
function memorySink() {
  const sink = { parts: [], closed: false, aborted: null };
  sink.write = async (chunk) => { sink.parts.push(chunk); };
  sink.close = async () => { sink.closed = true; };
  sink.abort = async (err) => { sink.aborted = err; };
  sink.bytes = () => concat(...sink.parts);
  return sink;
}

function options(relay, extra = {}) {
  const sink = memorySink();
  const sleeps = [];
  return {
    sink,
    sleeps,
    opts: {
      relay: '',
      token: 'srt_test',
      agent: 'shop-1',
      agentKey: agentIdentity.publicKey,
      identity: requester,
      request: { op: 'get', path: '/share/a.bin', chunkSize: 4096 },
      openSink: () => sink,
      fetch: relay.fetch,
      sleep: async (ms) => { sleeps.push(ms); },
      random: () => 0.5,
      ...extra,
    },
  };
}

async function rejects(promise, kind, code) {
  const err = await promise.then(() => null, (e) => e);
  assert.ok(err instanceof TransferError, `expected a TransferError, got ${err?.stack ?? err}`);
  assert.equal(err.kind, kind, err.message);
  assert.equal(err.code, code, err.message);
  return err;
}

// Every test below, against a relay that answers `binary` (the binary event
// stream when asked) or SSE only.
function suite(binary) {
  const format = binary ? 'binary' : 'SSE';
  const test = (name, fn) => nodeTest(`${name} [${format}]`, fn);
  const relayWith = (args) => anyRelayWith({ binary, ...args });

  test('downloads a file: content verified, progress reported, token only in a header', async () => {
    const relay = relayWith({ identity: agentIdentity, files });
    const progress = [];
    let answer = null;
    const { opts, sink } = options(relay, { onProgress: (p) => progress.push(p), onAnswer: (a) => { answer = a; } });
    const result = await runTransfer(opts);
    assert.ok(equal(sink.bytes(), FILE));
    assert.ok(sink.closed);
    assert.equal(sink.aborted, null);
    assert.equal(result.bytes, FILE.length);
    assert.equal(result.frames, 12);
    assert.equal(answer.name, 'a.bin');
    assert.equal(progress.length, 11);
    assert.deepEqual(progress.at(-1), { transferId: tid(0), bytes: FILE.length, size: FILE.length, frames: 11 });
    for (const r of relay.requests) {
      assert.equal(r.headers.get('Authorization'), 'Bearer srt_test');
      assert.ok(!r.url.includes('srt_'), 'no token in a URL');
    }
    assert.equal(relay.requests[1].headers.get('Accept'), 'application/vnd.sealrelay.events, text/event-stream');
    assert.deepEqual(relay.lastEventIds, [null]);
  });

  test('every split of the event stream into body chunks gives the same result', async () => {
    for (const split of [1, 7, 100, 1 << 20]) {
      const relay = relayWith({ identity: agentIdentity, files: { '/share/a.bin': FILE.subarray(0, 5000) },
                                plans: [{ split }] });
      const { opts, sink } = options(relay);
      await runTransfer(opts);
      assert.ok(equal(sink.bytes(), FILE.subarray(0, 5000)), `split ${split}`);
    }
  });

  test('a dropped stream reconnects with Last-Event-ID and loses nothing', async () => {
    for (const end of ['close', 'error']) {
      const relay = relayWith({ identity: agentIdentity, files,
                                plans: [{ events: 3, end }, { events: 0, end }, { events: 5, end }, {}] });
      const { opts, sink, sleeps } = options(relay);
      await runTransfer(opts);
      assert.ok(equal(sink.bytes(), FILE), end);
      // answer = 0, frames 1..12 (the trailer is 12), end 13: the first stream gave 0,1,2, the second nothing.
      assert.deepEqual(relay.lastEventIds, [null, '2', '2', '7'], end);
      // Backoff after a drop: 500 ms, then doubled only while nothing arrives.
      assert.deepEqual(sleeps, [375, 750, 375], end);
    }
  });

  test('a drop before the answer reconnects without Last-Event-ID', async () => {
    const relay = relayWith({ identity: agentIdentity, files, plans: [{ events: 0, end: 'error' }, {}] });
    const { opts, sink } = options(relay);
    await runTransfer(opts);
    assert.ok(equal(sink.bytes(), FILE));
    assert.deepEqual(relay.lastEventIds, [null, null]);
  });

  test('a stalled stream is abandoned after idleTimeoutMs and resumed', async () => {
    const relay = relayWith({ identity: agentIdentity, files, plans: [{ events: 4, end: 'stall' }, {}] });
    const { opts, sink } = options(relay, { idleTimeoutMs: 50 });
    await runTransfer(opts);
    assert.ok(equal(sink.bytes(), FILE));
    assert.deepEqual(relay.lastEventIds, [null, '3']);
  });

  test('a sink slower than idleTimeoutMs does not count as a dead stream', async () => {
    const relay = relayWith({ identity: agentIdentity, files: { '/share/a.bin': FILE.subarray(0, 3 * 4096) } });
    const { opts, sink } = options(relay, { idleTimeoutMs: 30 });
    const write = sink.write;
    sink.write = async (chunk) => {
      await new Promise((resolve) => setTimeout(resolve, 60));
      await write(chunk);
    };
    await runTransfer(opts);
    assert.ok(equal(sink.bytes(), FILE.subarray(0, 3 * 4096)));
    assert.deepEqual(relay.lastEventIds, [null], 'no reconnect');
  });

  test('a relay that keeps dropping without progress gives up: network / connection_lost', async () => {
    const relay = relayWith({ identity: agentIdentity, files, plans: [{ events: 2, end: 'error' }, { events: 0 }] });
    const { opts, sink, sleeps } = options(relay, { maxReconnects: 3 });
    await rejects(runTransfer(opts), 'network', 'connection_lost');
    assert.equal(relay.lastEventIds.length, 4);
    assert.equal(sleeps.length, 3);
    assert.ok(sink.aborted && !sink.closed);
  });

  test('a tampered frame is an integrity error; nothing of it reaches the sink', async () => {
    const relay = relayWith({
      identity: agentIdentity, files,
      plans: [{ mutate: (events) => events.map((e) => (e.id === '3' ? { ...e, data: flip(e.data) } : e)) }],
    });
    const { opts, sink } = options(relay);
    const err = await rejects(runTransfer(opts), 'integrity', 'tampered');
    assert.equal(sink.bytes().length, 2 * 4096);
    assert.equal(sink.aborted, err);
    assert.ok(!sink.closed);
  });

  test('every failure cancels the transfer at the relay, not only a cancel', async () => {
    const tampered = relayWith({
      identity: agentIdentity, files,
      plans: [{ mutate: (events) => events.map((e) => (e.id === '3' ? { ...e, data: flip(e.data) } : e)) }],
    });
    await rejects(runTransfer(options(tampered).opts), 'integrity', 'tampered');
    assert.deepEqual(tampered.deleted, [tid(0)], 'the tampered transfer is cancelled');
    assert.deepEqual(tampered.released, []);

    const refusing = relayWith({ identity: agentIdentity, files });
    await rejects(runTransfer(options(refusing, { request: { op: 'get', path: '/share/nope' } }).opts),
                  'refused', 'not_found');
    assert.deepEqual(refusing.deleted, [tid(0)], 'a refused transfer is cancelled');
  });

  test("a byte count other than the answer's size is an integrity error", async () => {
    for (const delta of [1, -1]) {
      const agent = honestAgent({ files });
      const honest = agent.answerFor;
      agent.answerFor = (request) => ({ ...honest(request), size: FILE.length + delta });
      const relay = new FakeRelay({ agent: { identity: agentIdentity, ...agent }, binary });
      const { opts, sink } = options(relay);
      await rejects(runTransfer(opts), 'integrity', 'size_mismatch');
      assert.ok(sink.aborted && !sink.closed, `announced ${delta > 0 ? 'more' : 'less'} than sent`);
      assert.ok(sink.bytes().length <= FILE.length + delta, 'no byte beyond the announced size reached the sink');
      assert.deepEqual(relay.deleted, [tid(0)]);
    }
  });

  test("a transfer id not of the relay's form is refused before it is used in a URL", async () => {
    for (const bad of ['../../v1/agents', 't_0', `t_${'A'.repeat(32)}`, 42]) {
      const relay = relayWith({ identity: agentIdentity, files });
      const fetch = async (url, init) => {
        const response = await relay.fetch(url, init);
        if (init?.method !== 'POST') return response;
        return new Response(JSON.stringify({ transfer_id: bad, state: 'requested' }), { status: 201 });
      };
      await rejects(runTransfer({ ...options(relay).opts, fetch }), 'relay', 'bad_response');
      assert.deepEqual(relay.requests.map((r) => r.method), ['POST'], `nothing sent with ${bad}`);
    }
  });

  test('a relay that drops, reorders, truncates or replays frames is caught', async () => {
    const cases = {
      dropped: [(events) => events.filter((e) => e.id !== '4'), 'out_of_order'],
      reordered: [(events) => { const out = events.slice(); [out[2], out[3]] = [out[3], out[2]]; return out; },
                  'out_of_order'],
      'trailer removed': [(events) => events.filter((e) => e.id !== '12'), 'truncated'],
      'stream cut after a frame, then end': [(events) => [...events.slice(0, 5), events.at(-1)], 'truncated'],
      'frame replayed': [(events) => [...events.slice(0, 3), events[2], ...events.slice(3)], 'out_of_order'],
      // (binary: its UTF-8 goes as the frame, of an impossible size)
      'not base64': [(events) => events.map((e) => (e.id === '2' ? { ...e, data: 'not base64!' } : e)), 'bad_frame'],
    };
    for (const [name, [mutate, code]] of Object.entries(cases)) {
      const relay = relayWith({ identity: agentIdentity, files, plans: [{ mutate }] });
      const { opts } = options(relay);
      await rejects(runTransfer(opts), 'integrity', code).catch((e) => assert.fail(`${name}: ${e.message}`));
    }
  });

  test('frames spliced in from another transfer are tampered', async () => {
    const relay = relayWith({ identity: agentIdentity, files });
    const first = options(relay);
    await runTransfer(first.opts);
    const other = relay.transfers.get(tid(0)).events;
    relay.plans = [{ mutate: (events) => events.map((e) => (e.id === '2' ? other[2] : e)) }];
    await rejects(runTransfer(options(relay).opts), 'integrity', 'tampered');
  });

  test('an answer that is not from the pinned agent is a handshake error', async () => {
    // The relay cannot read message 1 (it is encrypted to the agent's key), so
    // its best lie is a message 2 from another handshake: its own key, or the
    // real agent answering another message 1.
    const { InitiatorHandshake, ResponderHandshake } = await import('../js/session.js');
    const base64 = await import('../js/base64.js');
    const impostor = generateIdentity();
    for (const key of [impostor, agentIdentity]) {
      const other = InitiatorHandshake.start(requester, key.publicKey, new Uint8Array([123, 125]));
      const lie = ResponderHandshake.read(key, other.message1).answer(new Uint8Array([123, 125])).message2;
      const relay = relayWith({ identity: agentIdentity, files, plans: [{
        mutate: (events) => events.map((e) => (e.name === 'answer' ? { ...e, data: base64.encode(lie) } : e)),
      }] });
      const { opts, sink } = options(relay);
      await rejects(runTransfer(opts), 'handshake', 'handshake_failed');
      assert.equal(sink.parts.length, 0);
    }
  });

  test("the agent's refusal, and its abort, are reported as such", async () => {
    const relay = relayWith({ identity: agentIdentity, files });
    const { opts, sink } = options(relay, { request: { op: 'get', path: '/share/nope' } });
    const err = await rejects(runTransfer(opts), 'refused', 'not_found');
    assert.equal(err.message, 'no such file in this share');
    assert.equal(sink.parts.length, 0);

    // An agent that stops after one chunk: an abort frame sealed with the transfer's keys.
    const { FrameSealer } = await import('../js/frames.js');
    const agent = honestAgent({ files });
    agent.framesFor = (request, keys) => {
      const sealer = new FrameSealer(keys, 0);
      return [sealer.sealChunk(FILE.subarray(0, 4096)), sealer.sealAbort('changed', 'the file changed')];
    };
    const aborting = new FakeRelay({ agent: { identity: agentIdentity, ...agent }, binary });
    const abortErr = await rejects(runTransfer(options(aborting).opts), 'aborted', 'aborted');
    assert.equal(abortErr.agentCode, 'changed');
    assert.equal(abortErr.agentMessage, 'the file changed');
  });

  test("the relay's error and gone events end the transfer", async () => {
    const table = [
      [{ name: 'error', id: '', data: '{"error":"expired","message":"the agent did not answer"}' }, 'relay', 'expired'],
      [{ name: 'error', id: '', data: '{"error":"cancelled"}' }, 'cancelled', 'cancelled'],
      [{ name: 'error', id: '', data: 'garbage' }, 'relay', 'unknown'],
      [{ name: 'gone', id: '', data: '{"earliest":5}' }, 'relay', 'gone'],
      [{ name: 'error', id: '', data: '{"error":"handshake_failed","message":"unknown requester key"}' }, 'handshake',
       'handshake_failed'],
    ];
    for (const [event, kind, code] of table) {
      const relay = relayWith({ identity: agentIdentity, files,
                                plans: [{ mutate: (events) => [...events.slice(0, 3), event] }] });
      await rejects(runTransfer(options(relay).opts), kind, code);
    }
  });

  if (!binary) test('unknown events and comments are ignored', async () => {
    const relay = relayWith({ identity: agentIdentity, files, plans: [{
      mutate: (events) => events.flatMap((e) => [e, { raw: ': comment\n\nevent: future\nid: 99\ndata: {}\n\n' }]),
    }, {}] });
    const { opts, sink } = options(relay);
    await runTransfer(opts);
    assert.ok(equal(sink.bytes(), FILE));
  });

  test('a malformed event stream is an integrity error, not retried; a record is judged by its header', async () => {
    // The binary stream: an unknown type, a heartbeat with data, and the
    // header of a record over the limit with no data after it (the reader
    // must not wait for it). SSE: an event over the parser's limit.
    const tooLong = record(TYPE.frame, 3);
    new DataView(tooLong.buffer).setUint32(9, 2 * 1024 * 1024 + 1);
    const table = binary
      ? [[record(9, 3), 'bad_event_record'], [record(TYPE.heartbeat, 0, new Uint8Array(1)), 'bad_event_record'],
         [tooLong, 'event_too_large']]
      : [[`event: frame\nid: 3\ndata: ${'A'.repeat(2 * 1024 * 1024 + 1)}\n\n`, 'sse_too_large']];
    for (const [raw, code] of table) {
      const relay = relayWith({ identity: agentIdentity, files,
                                plans: [{ mutate: (events) => [...events.slice(0, 3), { raw }], end: 'stall' }] });
      const { opts, sink } = options(relay);
      await rejects(runTransfer(opts), 'integrity', code);
      assert.equal(relay.lastEventIds.length, 1, `${code}: not retried`);
      // (at most the two frames before it: a chunk with a bad record gives no event)
      assert.ok(sink.bytes().length <= 2 * 4096, code);
      assert.ok(sink.aborted, code);
    }
  });

  test('HTTP errors: 404 is final, 503 with Retry-After is waited out', async () => {
    const relay = relayWith({ identity: agentIdentity, files });
    const err = await rejects(runTransfer(options(relay, { agent: 'shop-9' }).opts), 'relay', 'unknown_agent');
    assert.equal(err.status, 404);
    const wrongToken = await rejects(runTransfer(options(relay, { token: 'srt_bad' }).opts), 'relay', 'unauthorized');
    assert.equal(wrongToken.status, 401);

    // "Not now" from the relay: the transfer was not created, so message 1 is sent again after Retry-After.
    const busy = relayWith({ identity: agentIdentity, files, postStatus: [503, 429] });
    const { opts, sink, sleeps } = options(busy);
    await runTransfer(opts);
    assert.ok(equal(sink.bytes(), FILE));
    assert.deepEqual(sleeps, [2000, 2000]);
    const posts = busy.requests.filter((r) => r.method === 'POST');
    assert.equal(posts.length, 3);

    const saturated = relayWith({ identity: agentIdentity, files, postStatus: [503, 503, 503] });
    await rejects(runTransfer(options(saturated, { maxReconnects: 2 }).opts), 'network', 'busy');

    // Unreachable: message 1 is not sent twice.
    let calls = 0;
    const down = async () => { ++calls; throw new TypeError('fetch failed'); };
    await rejects(runTransfer(options(busy, { fetch: down }).opts), 'network', 'unreachable');
    assert.equal(calls, 1);
  });

  test('cancelling stops the download and tells the relay', async () => {
    const relay = relayWith({ identity: agentIdentity, files, plans: [{ events: 4, end: 'stall' }] });
    const controller = new AbortController();
    const { opts, sink } = options(relay, {
      signal: controller.signal,
      onProgress: (p) => { if (p.frames === 3) controller.abort(); },
    });
    await rejects(runTransfer(opts), 'cancelled', 'cancelled');
    assert.deepEqual(relay.deleted, [tid(0)]);
    assert.deepEqual(relay.released, [], 'a cancelled download is not a finished one');
    assert.ok(sink.aborted && !sink.closed);
  });

  test('a listing is decoded; a stat answers without frames', async () => {
    const relay = relayWith({ identity: agentIdentity, files, dirs });
    const { opts } = options(relay, { request: { path: '/share' } });
    const listing = await listDirectory(opts);
    assert.deepEqual(listing.entries, dirs['/share']);

    const { opts: statOpts, sink } = options(relay, { request: { op: 'stat', path: '/share/a.bin' } });
    const result = await runTransfer(statOpts);
    assert.equal(result.answer.size, FILE.length);
    assert.equal(result.answer.frames, false);
    assert.equal(sink.parts.length, 0);
  });

  function flip(b64) {
    const i = 60;
    const c = b64[i] === 'A' ? 'B' : 'A';
    return b64.slice(0, i) + c + b64.slice(i + 1);
  }

  test('over real HTTP on loopback with the real fetch: headers, streaming body, drop and resume', async (t) => {
    const { createServer } = await import('node:http');
    const relay = relayWith({ identity: agentIdentity, files, plans: [{ events: 5, end: 'error', split: 3000 }, {}] });
    const server = createServer(async (req, res) => {
      const chunks = [];
      for await (const c of req) chunks.push(c);
      const response = await relay.fetch(req.url, {
        method: req.method, headers: req.headers, body: chunks.length ? Buffer.concat(chunks).toString() : undefined,
      });
      res.writeHead(response.status, Object.fromEntries(response.headers));
      try {
        // Each write is flushed before the next, so a cut below loses only what was not sent.
        for await (const c of response.body) await new Promise((resolve) => res.write(c, resolve));
        res.end();
      } catch {
        res.destroy();  // the plan's network error: cut the connection mid-stream
      }
    });
    await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
    t.after(() => server.close());
    const { opts, sink } = options(relay, { relay: `http://127.0.0.1:${server.address().port}`, fetch: undefined,
                                            sleep: undefined, backoffMs: 10 });
    const result = await runTransfer(opts);
    assert.ok(equal(sink.bytes(), FILE));
    assert.equal(result.frames, 12);
    assert.deepEqual(relay.lastEventIds, [null, '4']);
    assert.ok(relay.requests.every((r) => r.headers.get('authorization') === 'Bearer srt_test'));
  });
}

suite(true);
suite(false);
