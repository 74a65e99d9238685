// Incremental Server-Sent Events parser (WHATWG HTML §9.2) for fetch()
// response bodies, mirroring proto/sse.h's Parser: the page reads the
// relay's streams with fetch() so the token travels in a header, which
// EventSource cannot do (docs/dependencies.md §4).
//
// Feed it the body's chunks exactly as they arrive (any split, even inside a
// UTF-8 sequence or between CR and LF; CRLF, CR or LF line ends; an optional
// BOM at the very start). It returns the events each chunk completed.
// Every buffer is bounded: a line or an event's data beyond its limit stops
// the parser for good with SealrelayError `sse_too_large`. Limits count
// UTF-16 code units of the decoded text, which for the relay's ASCII events
// (base64 and JSON) are bytes.
import { SealrelayError, utf8 } from './bytes.js';

export const DEFAULT_LIMITS = Object.freeze({
  // A frame event's data line is base64 of at most 1 MiB + 50 bytes: the
  // default covers it with room to spare (as proto/sse.h).
  maxLine: 2 * 1024 * 1024,
  maxData: 2 * 1024 * 1024,
});

function tooLarge(what) {
  return new SealrelayError('sse_too_large', `SSE ${what} exceeds the parser's limit; the stream is not usable`);
}

export class SseParser {
  #limits;
  // The decoder strips a BOM at the start and carries split UTF-8
  // sequences from one chunk to the next; bad bytes become U+FFFD.
  #decoder = new TextDecoder('utf-8');
  #partial = [];          // pieces of the current unterminated line
  #partialLength = 0;
  #skipLf = false;        // the previous chunk ended in CR: drop a leading LF
  #hasData = false;       // a data field was seen in the current event
  #name = '';
  #data = '';
  #lastId = '';
  #retryMs = null;
  #failed = null;

  constructor(limits = {}) {
    this.#limits = { ...DEFAULT_LIMITS, ...limits };
  }

  // The id to send as Last-Event-ID when reconnecting ('' if none yet).
  get lastEventId() {
    return this.#lastId;
  }

  // Reconnection delay from the last valid "retry:" field, or null.
  get retryMs() {
    return this.#retryMs;
  }

  // Parses `chunk` (Uint8Array, or a string for tests) and returns the
  // events it completed: [{name, id, data}], `name` "message" when the
  // stream gave none, `id` the stream's last event id after the event.
  feed(chunk) {
    if (this.#failed) throw this.#failed;
    const bytes = typeof chunk === 'string' ? utf8(chunk) : chunk;
    const text = this.#decoder.decode(bytes, { stream: true });
    const events = [];
    try {
      this.#parse(text, events);
    } catch (err) {
      this.#failed = err;
      throw err;
    }
    return events;
  }

  #parse(text, events) {
    let pos = 0;
    if (this.#skipLf && text.length > 0) {
      this.#skipLf = false;
      if (text.charCodeAt(0) === 10) pos = 1;
    }
    // Positions of the next LF and CR at or after pos (-1: none left), each
    // searched again only once passed, so a chunk is scanned in linear time.
    let lf = -2;
    let cr = -2;
    while (pos < text.length) {
      if (lf !== -1 && lf < pos) lf = text.indexOf('\n', pos);
      if (cr !== -1 && cr < pos) cr = text.indexOf('\r', pos);
      const end = cr === -1 ? lf : lf === -1 ? cr : Math.min(lf, cr);
      if (end === -1) {
        this.#keep(text.slice(pos));
        return;
      }
      if (this.#partialLength + (end - pos) > this.#limits.maxLine) throw tooLarge('line');
      let line = text.slice(pos, end);
      if (this.#partialLength > 0) {
        this.#partial.push(line);
        line = this.#partial.join('');
        this.#partial = [];
        this.#partialLength = 0;
      }
      this.#line(line, events);
      pos = end + 1;
      if (end === cr) {
        if (pos === text.length) this.#skipLf = true;
        else if (text.charCodeAt(pos) === 10) ++pos;
      }
    }
  }

  #keep(piece) {
    if (this.#partialLength + piece.length > this.#limits.maxLine) throw tooLarge('line');
    this.#partial.push(piece);
    this.#partialLength += piece.length;
  }

  #line(text, events) {
    if (text.length === 0) {
      this.#dispatch(events);
      return;
    }
    if (text.charCodeAt(0) === 58) return;  // ":" comment (the relay's heartbeats)
    const colon = text.indexOf(':');
    const field = colon === -1 ? text : text.slice(0, colon);
    let value = colon === -1 ? '' : text.slice(colon + 1);
    if (value.charCodeAt(0) === 32) value = value.slice(1);
    switch (field) {
      case 'data': {
        const add = value.length + (this.#hasData ? 1 : 0);
        if (this.#data.length + add > this.#limits.maxData) throw tooLarge('event data');
        this.#data = this.#hasData ? `${this.#data}\n${value}` : value;
        this.#hasData = true;
        break;
      }
      case 'event':
        this.#name = value;
        break;
      case 'id':
        if (!value.includes('\0')) this.#lastId = value;
        break;
      case 'retry':
        if (/^[0-9]{1,18}$/.test(value)) this.#retryMs = Number(value);
        break;
      default:
        break;  // Unknown fields are ignored.
    }
  }

  #dispatch(events) {
    if (this.#hasData) {
      events.push({ name: this.#name === '' ? 'message' : this.#name, id: this.#lastId, data: this.#data });
    }
    this.#name = '';
    this.#data = '';
    this.#hasData = false;
  }
}

// Reads a fetch() body (ReadableStream of Uint8Array) and yields its events
// one by one. Ends when the body ends; an unterminated last event is
// dropped, as the spec says. Leaving the loop early cancels the body (which
// closes the connection). The caller keeps `parser` to read lastEventId for
// a reconnect.
export async function* readEvents(body, parser = new SseParser()) {
  const reader = body.getReader();
  let done = false;
  try {
    while (!done) {
      const next = await reader.read();
      done = next.done;
      if (!done) yield* parser.feed(next.value);
    }
  } finally {
    if (!done) await reader.cancel().catch(() => {});
    reader.releaseLock();
  }
}
