// Incremental reader of the relay's binary event stream (docs/api.md
// §`GET /v1/transfers/{tid}/events`, "Binary event stream"), mirroring
// proto/event_stream.h's Reader. A requester that sends
// `Accept: application/vnd.sealrelay.events` gets the SSE stream's events as
// records:
//
//   record := type (u8) || id (u64, big-endian) || length (u32, big-endian) || data (length bytes)
//   type   :  0 heartbeat (id 0, no data)  1 answer  2 frame  3 end  4 error  5 gone
//
// `data` is what the SSE event's data line holds (base64 of message 2 for
// answer, JSON for end, error and gone), except for frames, which carry the
// frame's bytes: no base64 on either side. Ids are the SSE ids (answer 0,
// frame n+1, end count+1); error and gone carry 0, which is not an id (the
// stream's last id stays as it was).
//
// Feed it the body's chunks exactly as they arrive, in any split. It returns
// the events each chunk completed in the SseParser's shape, so transfer.js
// handles both formats alike: {name, id, data}, `id` the stream's last id
// after the event, `data` a string, except for a frame: a Uint8Array. A
// record's type and length are checked from its 13 header bytes before any
// of its data is kept; an unknown type, data on a heartbeat or a length over
// the limit stops the reader for good (SealrelayError `bad_event_record`,
// `event_too_large`).
//
// A frame's bytes are not copied when the whole record lies in one chunk:
// its data is a view into that chunk. A record spread over chunks is put
// together in a buffer of the reader's (one of two, used in turn, grown to
// the largest record seen). Either way a frame's data is valid only until
// the next feed() (and the caller's reuse of the chunk's memory, e.g. a BYOB
// reader's buffer): use it before reading on.
import { SealrelayError } from './bytes.js';

// The media type, requested in Accept and answered in Content-Type.
export const CONTENT_TYPE = 'application/vnd.sealrelay.events';
export const HEADER_BYTES = 13;
// Largest data accepted: a frame (1 MiB + 4 KiB at most) with room, as proto/event_stream.h.
export const DEFAULT_MAX_DATA = 2 * 1024 * 1024;

export const TYPE = Object.freeze({ heartbeat: 0, answer: 1, frame: 2, end: 3, error: 4, gone: 5 });
const NAMES = ['heartbeat', 'answer', 'frame', 'end', 'error', 'gone'];
const HAS_ID = [false, true, true, true, false, false];

// True when a response's Content-Type says it is the binary event stream.
export function isEventStream(contentType) {
  return (contentType ?? '').split(';')[0].trim().toLowerCase() === CONTENT_TYPE;
}

// One record (for tests and tools: the relay writes them in C++).
export function record(type, id, data = new Uint8Array(0)) {
  const out = new Uint8Array(HEADER_BYTES + data.length);
  const view = new DataView(out.buffer);
  view.setUint8(0, type);
  view.setBigUint64(1, BigInt(id));
  view.setUint32(9, data.length);
  out.set(data, HEADER_BYTES);
  return out;
}

export class EventStreamReader {
  #maxData;
  #decoder = new TextDecoder('utf-8');
  #header = new Uint8Array(HEADER_BYTES);
  #headerView = new DataView(this.#header.buffer);
  #headerFill = 0;
  #inData = false;
  #type = 0;
  #id = 0n;
  #length = 0;
  // A record spread over chunks: its data so far, in #buffers[#turn].
  #held = null;
  #heldFill = 0;
  #buffers = [null, null];
  #turn = 0;
  #lastId = '';
  #failed = null;

  constructor({ maxData = DEFAULT_MAX_DATA } = {}) {
    this.#maxData = maxData;
  }

  // The id to send as Last-Event-ID when reconnecting ('' if none yet).
  get lastEventId() {
    return this.#lastId;
  }

  // True when no record is half read.
  get atBoundary() {
    return this.#headerFill === 0 && !this.#inData;
  }

  // Reads `chunk` (Uint8Array) and returns the events it completed. When it
  // throws, the chunk's events before the bad record are not returned (the
  // stream is unusable anyway), as with the SseParser.
  feed(chunk) {
    if (this.#failed) throw this.#failed;
    const events = [];
    try {
      this.#read(chunk, events);
    } catch (err) {
      this.#failed = err;
      throw err;
    }
    return events;
  }

  #read(chunk, events) {
    let pos = 0;
    while (pos < chunk.length) {
      if (!this.#inData) {
        if (this.#headerFill === 0 && chunk.length - pos >= HEADER_BYTES) {
          this.#header.set(chunk.subarray(pos, pos + HEADER_BYTES));
          pos += HEADER_BYTES;
        } else {
          const take = Math.min(HEADER_BYTES - this.#headerFill, chunk.length - pos);
          this.#header.set(chunk.subarray(pos, pos + take), this.#headerFill);
          this.#headerFill += take;
          pos += take;
          if (this.#headerFill < HEADER_BYTES) return;
          this.#headerFill = 0;
        }
        this.#begin();
      }
      if (this.#held === null && chunk.length - pos >= this.#length) {
        // The whole data is in this chunk: a view, no copy.
        this.#dispatch(chunk.subarray(pos, pos + this.#length), events);
        pos += this.#length;
        continue;
      }
      if (this.#held === null) this.#hold();
      const take = Math.min(this.#length - this.#heldFill, chunk.length - pos);
      this.#held.set(chunk.subarray(pos, pos + take), this.#heldFill);
      this.#heldFill += take;
      pos += take;
      if (this.#heldFill < this.#length) return;
      const data = this.#held;
      this.#held = null;
      this.#turn ^= 1;   // the next held record goes to the other buffer: this one is being handed out
      this.#dispatch(data, events);
    }
  }

  // Checks the header just read; nothing of the data is kept before this.
  #begin() {
    const type = this.#header[0];
    if (type >= NAMES.length) {
      throw new SealrelayError('bad_event_record', `event record of unknown type ${type}; the stream is not usable`);
    }
    const length = this.#headerView.getUint32(9);
    if (length > this.#maxData) {
      throw new SealrelayError('event_too_large', `event record of ${length} bytes exceeds the limit of ` +
                               `${this.#maxData}; the stream is not usable`);
    }
    if (type === TYPE.heartbeat && length !== 0) {
      throw new SealrelayError('bad_event_record', 'a heartbeat record carries data; the stream is not usable');
    }
    this.#type = type;
    this.#id = HAS_ID[type] ? this.#headerView.getBigUint64(1) : 0n;
    this.#length = length;
    this.#inData = true;
  }

  // Starts putting a record's data together in the buffer whose turn it is.
  #hold() {
    let buffer = this.#buffers[this.#turn];
    if (buffer === null || buffer.length < this.#length) {
      buffer = new Uint8Array(this.#length);
      this.#buffers[this.#turn] = buffer;
    }
    this.#held = buffer.subarray(0, this.#length);
    this.#heldFill = 0;
  }

  #dispatch(data, events) {
    this.#inData = false;
    const type = this.#type;
    if (type === TYPE.heartbeat) return;
    if (HAS_ID[type]) this.#lastId = this.#id.toString();
    events.push({ name: NAMES[type], id: this.#lastId,
                  data: type === TYPE.frame ? data : this.#decoder.decode(data) });
  }
}
