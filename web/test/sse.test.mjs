// The SSE parser (web/js/sse.js), table-driven, mirroring
// tests/unit/proto/sse_test.cpp: every split point, every line end, the BOM,
// the spec's field rules, and the limits.
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { SseParser, readEvents } from '../js/sse.js';
import { utf8 } from '../js/bytes.js';

// Feeds `text` (bytes) to a fresh parser in pieces of `step` bytes.
function parseAll(text, step, limits) {
  const bytes = typeof text === 'string' ? utf8(text) : text;
  const p = new SseParser(limits);
  const events = [];
  for (let i = 0; i < bytes.length; i += step) events.push(...p.feed(bytes.subarray(i, i + step)));
  return { events, parser: p };
}

const STREAM = 'event: answer\nid: 0\ndata: bXNnMg==\n\n' +
               `: hb\n\nevent: frame\nid: 1\ndata: ${'A'.repeat(5000)}\n\n` +
               'data: multi\ndata: line\n\n' +
               'event: end\nid: 2\ndata: {"frames":1}\n\n';

test('reads the relay stream at every split size', () => {
  for (const step of [1, 2, 3, 7, 64, 4096, 100000]) {
    const { events } = parseAll(STREAM, step);
    assert.deepEqual(events.map((e) => [e.name, e.id]), [['answer', '0'], ['frame', '1'], ['message', '1'],
                                                        ['end', '2']], `step ${step}`);
    assert.equal(events[0].data, 'bXNnMg==');
    assert.equal(events[1].data, 'A'.repeat(5000));
    assert.equal(events[2].data, 'multi\nline', 'the last id persists across events');
    assert.equal(events[3].data, '{"frames":1}');
  }
});

test('reads CRLF, CR and LF line ends, even when split between CR and LF', () => {
  const table = {
    LF: 'event: a\ndata: 1\n\nevent: b\ndata: 2\n\n',
    CRLF: 'event: a\r\ndata: 1\r\n\r\nevent: b\r\ndata: 2\r\n\r\n',
    CR: 'event: a\rdata: 1\r\revent: b\rdata: 2\r\r',
    mixed: 'event: a\r\ndata: 1\r\revent: b\ndata: 2\r\n\n',
  };
  for (const [kind, text] of Object.entries(table)) {
    for (let step = 1; step <= text.length; ++step) {
      const { events } = parseAll(text, step);
      assert.deepEqual(events.map((e) => [e.name, e.data]), [['a', '1'], ['b', '2']], `${kind} step ${step}`);
    }
  }
});

test('every single split point of a stream gives the same events', () => {
  const bytes = utf8('id: 9\r\nevent: frame\r\ndata: caf\u00e9 \u30d5\r\n\r\n: hb\r\ndata: x\r\n\r\n');
  const whole = parseAll(bytes, bytes.length).events;
  assert.equal(whole.length, 2);
  assert.equal(whole[0].data, 'caf\u00e9 \u30d5', 'UTF-8 decodes');
  for (let cut = 1; cut < bytes.length; ++cut) {
    const p = new SseParser();
    const events = [...p.feed(bytes.subarray(0, cut)), ...p.feed(bytes.subarray(cut))];
    assert.deepEqual(events, whole, `cut at ${cut}`);
  }
});

test('skips a leading BOM only at the start', () => {
  for (const step of [1, 2, 100]) {
    const { events } = parseAll(Uint8Array.of(0xef, 0xbb, 0xbf, ...utf8('data: x\n\n')), step);
    assert.deepEqual(events.map((e) => e.data), ['x'], `step ${step}`);
  }
  assert.equal(parseAll(Uint8Array.of(0xef, 0xbb, ...utf8('data: y\n\n')), 1).events.length, 0,
               'a broken BOM makes the first line an unknown field');
  assert.equal(parseAll(utf8('data: a\n\n\ufeffdata: b\n\n'), 1).events.length, 1, 'a BOM later is not skipped');
});

test('follows the spec for fields without space or value and ignores unknown ones', () => {
  const table = [
    // [stream, expected [[name, id, data]...]]
    ['data:x\nfoo: bar\ndata\n:comment\nid\n\n', [['message', '', 'x\n']]],
    ['data:  two spaces\n\n', [['message', '', ' two spaces']]],
    ['data\n\n', [['message', '', '']]],
    ['event: x\nid: 5\n\ndata: y\n\n', [['message', '5', 'y']]],
    ['event: first\nevent: second\ndata: z\n\n', [['second', '', 'z']]],
    ['data: a:b:c\n\n', [['message', '', 'a:b:c']]],
    [': only a comment\n\n', []],
    ['\n\n\n', []],
    ['data: a\n\ndata: b\n', [['message', '', 'a']]],  // an incomplete event at the end is not dispatched
    ['DATA: upper\n\n', []],
  ];
  for (const [text, expected] of table) {
    const { events } = parseAll(text, 1);
    assert.deepEqual(events.map((e) => [e.name, e.id, e.data]), expected, JSON.stringify(text));
  }
});

test('ignores ids with NUL and reads retry', () => {
  const { events, parser } = parseAll('id: 3\n\nid: a\0b\nretry: 2500\nretry: x\nretry: 1234567890123456789\ndata: z\n\n',
                                      100);
  assert.deepEqual(events.map((e) => e.id), ['3']);
  assert.equal(parser.lastEventId, '3');
  assert.equal(parser.retryMs, 2500);
  assert.equal(new SseParser().retryMs, null);
  assert.equal(new SseParser().lastEventId, '');
});

test('refuses an overlong line before buffering it, and stays failed', () => {
  const p = new SseParser({ maxLine: 16, maxData: 1024 });
  assert.deepEqual(p.feed('data: 0123456789'), []);  // 16 characters, no terminator yet
  assert.throws(() => p.feed('x'), { code: 'sse_too_large' });
  assert.throws(() => p.feed('\n\n'), { code: 'sse_too_large' }, 'errors are sticky');
  // Also when the line arrives whole in one chunk.
  assert.throws(() => new SseParser({ maxLine: 16 }).feed('data: 01234567890\n'), { code: 'sse_too_large' });
  assert.equal(new SseParser({ maxLine: 16 }).feed('data: 0123456789\n\n').length, 1);
});

test('refuses too much data in one event', () => {
  const p = new SseParser({ maxLine: 100, maxData: 10 });
  assert.equal(p.feed('data: 12345\ndata: 1234\n\n').length, 1);  // 5 + 1 + 4 = 10
  assert.throws(() => p.feed('data: 12345\ndata: 12345\n'), { code: 'sse_too_large' });
});

test('the default limits take a largest frame event (base64 of 1 MiB + 50 bytes)', () => {
  const data = 'A'.repeat(Math.ceil((1024 * 1024 + 50) / 3) * 4);
  const { events } = parseAll(`event: frame\nid: 1\ndata: ${data}\n\n`, 65536);
  assert.equal(events[0].data.length, data.length);
});

test('readEvents reads a fetch() body and cancels it when the reader stops early', async () => {
  const chunks = [STREAM.slice(0, 10), STREAM.slice(10, 200), STREAM.slice(200)].map(utf8);
  const body = new ReadableStream({
    start(controller) {
      for (const c of chunks) controller.enqueue(c);
      controller.close();
    },
  });
  const names = [];
  for await (const e of readEvents(body)) names.push(e.name);
  assert.deepEqual(names, ['answer', 'frame', 'message', 'end']);

  let cancelled = false;
  const endless = new ReadableStream({
    pull(controller) {
      controller.enqueue(utf8('data: x\n\n'));
    },
    cancel() {
      cancelled = true;
    },
  });
  let n = 0;
  for await (const e of readEvents(endless)) {
    assert.equal(e.data, 'x');
    if (++n === 3) break;
  }
  assert.ok(cancelled, 'leaving the loop cancels the body');
});
