// The binary event stream reader (web/js/event_stream.js), mirroring
// tests/unit/proto/event_stream_test.cpp: every split point, limits judged
// from the 13 header bytes, unknown types, heartbeats, ids, a half record.
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { concat, utf8 } from '../js/bytes.js';
import {
  CONTENT_TYPE, DEFAULT_MAX_DATA, EventStreamReader, HEADER_BYTES, TYPE, isEventStream, record,
} from '../js/event_stream.js';

const FRAME = Uint8Array.from({ length: 5000 }, (_, i) => (i * 31 + 7) & 0xff);
const STREAM = concat(
  record(TYPE.answer, 0, utf8('bXNnMg==')),
  record(TYPE.heartbeat, 0),
  record(TYPE.frame, 1, FRAME),
  record(TYPE.frame, 2, FRAME.subarray(0, 3)),
  record(TYPE.heartbeat, 0),
  record(TYPE.end, 3, utf8('{"frames":2}')),
);
const EXPECTED = [['answer', '0', 'bXNnMg=='], ['frame', '1', FRAME], ['frame', '2', FRAME.subarray(0, 3)],
                  ['end', '3', '{"frames":2}']];

// An event with its data copied: a frame's data is valid only until the next feed.
const keep = (e) => [e.name, e.id, typeof e.data === 'string' ? e.data : Uint8Array.from(e.data)];

function readAll(bytes, cuts, options) {
  const reader = new EventStreamReader(options);
  const events = [];
  let at = 0;
  for (const cut of [...cuts, bytes.length]) {
    events.push(...reader.feed(bytes.subarray(at, cut)).map(keep));
    at = cut;
  }
  return { events, reader };
}

test('reads the stream at every split size and every single cut point', () => {
  for (const step of [1, 2, 3, 7, 12, 13, 14, 64, 4096, 100000]) {
    const cuts = [];
    for (let i = step; i < STREAM.length; i += step) cuts.push(i);
    const { events, reader } = readAll(STREAM, cuts);
    assert.deepEqual(events, EXPECTED, `step ${step}`);
    assert.ok(reader.atBoundary);
    assert.equal(reader.lastEventId, '3');
  }
  for (let cut = 0; cut <= STREAM.length; ++cut) {
    assert.deepEqual(readAll(STREAM, [cut]).events, EXPECTED, `cut at ${cut}`);
  }
});

test('a record within one chunk is handed out as a view; one over chunks is put together in a reused buffer', () => {
  const reader = new EventStreamReader();
  const [frame] = reader.feed(STREAM.subarray(STREAM.indexOf(2), STREAM.length));
  assert.equal(frame.name, 'frame');
  assert.equal(frame.data.buffer, STREAM.buffer, 'a view, not a copy');

  // Three frames, each cut in two: the second goes to another buffer than
  // the first (the first may still be in use when the second begins), the
  // third back to the first's.
  const spread = new EventStreamReader();
  const buffers = [];
  for (const id of [1, 2, 3]) {
    const bytes = record(TYPE.frame, id, FRAME);
    assert.deepEqual(spread.feed(bytes.subarray(0, 100)), []);
    const [event] = spread.feed(bytes.subarray(100));
    assert.deepEqual(keep(event), ['frame', String(id), FRAME]);
    assert.notEqual(event.data.buffer, bytes.buffer);
    buffers.push(event.data.buffer);
  }
  assert.notEqual(buffers[0], buffers[1]);
  assert.equal(buffers[0], buffers[2]);
});

test('a half record is held: nothing is delivered and the last id stays', () => {
  const bytes = concat(record(TYPE.frame, 7, FRAME), record(TYPE.frame, 8, FRAME));
  const reader = new EventStreamReader();
  assert.equal(reader.feed(bytes.subarray(0, 5)).length, 0, 'half a header');
  assert.ok(!reader.atBoundary);
  assert.equal(reader.feed(bytes.subarray(5, HEADER_BYTES + 10)).length, 0, 'the header and some data');
  assert.ok(!reader.atBoundary);
  assert.equal(reader.lastEventId, '');
  const events = reader.feed(bytes.subarray(HEADER_BYTES + 10, bytes.length - 1)).map(keep);
  assert.deepEqual(events, [['frame', '7', FRAME]]);
  assert.equal(reader.lastEventId, '7', 'the held record is not counted');
  assert.ok(!reader.atBoundary);
  assert.deepEqual(reader.feed(bytes.subarray(bytes.length - 1)).map(keep), [['frame', '8', FRAME]]);
  assert.ok(reader.atBoundary);
});

test('the length is judged from the header, before any data arrives; errors are sticky', () => {
  const header = (length) => {
    const r = record(TYPE.frame, 1);
    new DataView(r.buffer).setUint32(9, length);
    return r;
  };
  const big = new EventStreamReader();
  assert.throws(() => big.feed(header(DEFAULT_MAX_DATA + 1)), { code: 'event_too_large' });
  assert.throws(() => big.feed(record(TYPE.end, 2)), { code: 'event_too_large' }, 'sticky');
  assert.throws(() => new EventStreamReader().feed(header(0xffffffff)), { code: 'event_too_large' });
  // Up to the limit is fine; the header alone says so.
  const small = new EventStreamReader({ maxData: 16 });
  assert.deepEqual(small.feed(record(TYPE.frame, 1, FRAME.subarray(0, 16))).map(keep),
                   [['frame', '1', FRAME.subarray(0, 16)]]);
  assert.deepEqual(small.feed(header(17).subarray(0, HEADER_BYTES - 1)), [], 'not judged before the whole header');
  assert.throws(() => small.feed(header(17).subarray(HEADER_BYTES - 1)), { code: 'event_too_large' });
  const atLimit = new EventStreamReader();
  assert.deepEqual(atLimit.feed(header(DEFAULT_MAX_DATA)), [], 'exactly the limit is accepted (and waits for its data)');
  assert.ok(!atLimit.atBoundary);
});

test('an unknown type, or a heartbeat with data, stops the reader', () => {
  for (const type of [6, 7, 255]) {
    const reader = new EventStreamReader();
    assert.throws(() => reader.feed(concat(record(TYPE.answer, 0, utf8('x')), record(type, 1))),
                  { code: 'bad_event_record' }, `type ${type}`);
    assert.throws(() => reader.feed(record(TYPE.end, 2)), { code: 'bad_event_record' }, 'sticky');
  }
  const reader = new EventStreamReader();
  assert.throws(() => reader.feed(record(TYPE.heartbeat, 0, new Uint8Array(1)).subarray(0, HEADER_BYTES)),
                { code: 'bad_event_record' }, 'judged from the header');
  // A heartbeat's id means nothing: ignored, as the C++ reader does.
  const lenient = new EventStreamReader();
  assert.deepEqual(lenient.feed(concat(record(TYPE.heartbeat, 9), record(TYPE.end, 1, utf8('{}')))).map(keep),
                   [['end', '1', '{}']]);
});

test('error and gone carry no id: the stream keeps its last one', () => {
  const reader = new EventStreamReader();
  const events = reader.feed(concat(record(TYPE.error, 0, utf8('{"error":"expired"}')),
                                    record(TYPE.answer, 0, utf8('bXNnMg==')),
                                    record(TYPE.frame, 5, FRAME.subarray(0, 40)),
                                    record(TYPE.gone, 0, utf8('{"earliest":3}')),
                                    record(TYPE.error, 77, utf8('{"error":"cancelled"}')))).map(keep);
  assert.deepEqual(events.map(([name, id]) => [name, id]),
                   [['error', ''], ['answer', '0'], ['frame', '5'], ['gone', '5'], ['error', '5']]);
  assert.equal(events[3][2], '{"earliest":3}');
  assert.equal(reader.lastEventId, '5');
});

test('ids are the full 64 bits; text data is UTF-8', () => {
  const reader = new EventStreamReader();
  const [event] = reader.feed(record(TYPE.end, 2n ** 64n - 1n, utf8('{"m":"caf\u00e9"}')));
  assert.equal(event.id, '18446744073709551615');
  assert.equal(event.data, '{"m":"caf\u00e9"}');
});

test('the media type is recognised from the Content-Type', () => {
  assert.ok(isEventStream(CONTENT_TYPE));
  assert.ok(isEventStream('Application/Vnd.Sealrelay.Events; charset=binary'));
  for (const other of ['text/event-stream', 'application/vnd.sealrelay.events2', '', null, undefined]) {
    assert.ok(!isEventStream(other), String(other));
  }
});
