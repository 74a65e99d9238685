// The transfer engine of the page: one get/list/stat through the relay's
// HTTP API (docs/api.md), end-to-end encrypted (docs/protocol.md).
//
//   1. message 1 (the request, encrypted to the pinned agent key)
//      → POST /v1/transfers {"agent", "msg1"}                   → transfer_id
//   2. GET /v1/transfers/{id}/events with fetch() (the token goes in the
//      Authorization header, which EventSource cannot send), asking for the
//      binary event stream (event_stream.js: frames as their bytes, no
//      base64) and reading SSE (sse.js) from a relay that answers that:
//        answer  → finish the handshake, decode the agent's answer
//        frame   → FrameOpener.open → sink.write(plaintext), progress
//        end     → the trailer must have verified (else `truncated`)
//        error   → the relay's verdict (cancelled, expired, ...)
//        gone    → the relay no longer holds frames we need
//   3. a dropped stream (network error, body ended early, no byte for
//      idleTimeoutMs) reconnects with Last-Event-ID = the last event fully
//      processed, with exponential backoff and jitter; any progress resets
//      the attempt count.
//   4. (get, with maxResumes > 0) when the relay no longer holds the frames
//      needed (`gone`: a browser reads far ahead of what it processed, and
//      loses that when the connection breaks) or the stream is lost for good,
//      a new transfer asks for the rest (offset = the bytes verified so far)
//      with a fresh handshake; the hash carries over, so the new trailer is
//      checked against the whole file, and a file that changed meanwhile is
//      refused.
//
// Runs unchanged in a module Worker (decryption off the main thread; see
// transfer_worker.js): it needs only fetch, ReadableStream, TextDecoder,
// AbortController and timers. fetch, sleep and random are injectable for
// tests. One stream at a time (browsers allow 6 HTTP/1.1 connections per
// origin and the relay speaks HTTP/1.1).
import * as base64 from './base64.js';
import { SealrelayError, fromUtf8 } from './bytes.js';
import { CONTENT_TYPE as EVENTS_TYPE, EventStreamReader, isEventStream } from './event_stream.js';
import { FrameOpener, openerOptions } from './frames.js';
import { MAX_FRAME_BYTES, validTransferId } from './protocol.js';
import { decodeAnswer, decodeListing, encodeRequest } from './payloads.js';
import { InitiatorHandshake } from './session.js';
import { SseParser } from './sse.js';

// What a failure means to the person watching the page.
//   integrity  a frame or the trailer did not verify: the relay (or the
//              network) changed, dropped, reordered or cut the content
//   handshake  the answer is not from the pinned agent key, or the agent
//              could not read message 1 (its key is not the pinned one)
//   refused    the agent said no (not_found, not_allowed, unauthorized, ...)
//   aborted    the agent stopped mid-way (e.g. the file changed)
//   relay      the relay refused or ended the transfer (HTTP error, error event, gone)
//   network    the relay could not be reached for too long
//   cancelled  the caller cancelled
//   local      the sink (saving the content) failed
export class TransferError extends SealrelayError {
  constructor(kind, code, message, { status = null, cause = null } = {}) {
    super(code, message);
    this.name = 'TransferError';
    this.kind = kind;
    this.status = status;
    if (cause) this.cause = cause;
  }
}

// The last three: a malformed event stream (sse.js, event_stream.js), as
// the CLI's bad_stream.
const INTEGRITY_CODES = new Set(['bad_frame', 'out_of_order', 'tampered', 'after_end', 'trailer_mismatch',
                                 'truncated', 'bad_event', 'bad_event_record', 'event_too_large', 'sse_too_large']);

// Classifies an error thrown by the crypto layer, or by the sink (`local`).
function classify(err) {
  if (err instanceof TransferError) return err;
  if (!(err instanceof SealrelayError)) {
    return new TransferError('local', 'local_error', `saving the download failed: ${err?.message ?? err}`,
                             { cause: err });
  }
  const kind = err.code === 'aborted' ? 'aborted'
             : err.code === 'handshake_failed' ? 'handshake'
             : err.code === 'hash_failed' ? 'local'
             : INTEGRITY_CODES.has(err.code) ? 'integrity'
             : 'refused';
  const out = new TransferError(kind, err.code, err.message, { cause: err });
  if (err.code === 'aborted') {
    out.agentCode = err.agentCode;
    out.agentMessage = err.agentMessage;
  }
  return out;
}

// A drop worth reconnecting for; never escapes run().
class Retry extends Error {
  constructor(message, { delayMs = null, status = null, cause = null } = {}) {
    super(message);
    this.delayMs = delayMs;
    this.status = status;   // the HTTP status that said "not now", or null (network)
    if (cause) this.cause = cause;
  }
}

export const DEFAULTS = Object.freeze({
  relay: '',                 // base URL; '' = the page's own origin
  idleTimeoutMs: 60_000,     // the relay sends a heartbeat every 15 s by default
  maxReconnects: 8,          // consecutive attempts without progress
  backoffMs: 500,            // first delay, doubled per attempt, with jitter
  maxBackoffMs: 30_000,
  cancelOnAbort: true,       // DELETE the transfer when the caller aborts
  maxResumes: 0,             // get: new transfers from the verified offset after gone / connection_lost
});

const offersCompression = (o) => Boolean(o.decompressor) && o.request?.op !== 'stat';  // docs/protocol.md §3.1
// Errors after which a get may resume with a new transfer (step 4 above).
const RESUMABLE_CODES = new Set(['gone', 'connection_lost']);

// Runs one transfer. options:
//   relay, token               base URL and requester token
//   agent, agentKey            agent id and its pinned 32-byte public key
//   identity                   {privateKey, publicKey} of this requester
//   request                    {op, path, offset?, chunkSize?, and a tree's select?,
//                              contents?, resume?} (ts is set here)
//   openSink(answer)           → {write(chunk), close(), abort(err)} (each may be async);
//                              called once the agent accepted, before any content
//   onAnswer(answer), onProgress({transferId, bytes, size, frames}),
//   onTransferId(id), onResume({bytes, code, message})   optional callbacks
//   maxResumes                 see step 4 (default 0: never)
//   makeHasher()               → the running SHA-256 for the content (FrameOpener's
//                              `hasher`, e.g. a RemoteSha256); default a Sha256 in this thread
//   decompressor               zstd.js's, to offer compression (get, list); null: not offered
//   signal                     AbortSignal to cancel
//   stampFloor, onStamp(ms)    message 1's timestamp is max(now(), stampFloor), and each
//                              resume's is above the one before; onStamp gets each one
//                              used, for the caller to keep (the agent refuses a
//                              timestamp it has seen, or far below the newest)
//   fetch, sleep, random, now  injectable for tests
// Resolves {transferId, answer, bytes, frames, resumes}; rejects with
// TransferError (the sink is aborted first).
export async function runTransfer(options) {
  const o = { ...DEFAULTS, ...options };
  let prior = null;
  let floor = o.stampFloor ?? 0;
  for (let resumes = 0; ; ++resumes) {
    const run = new TransferRun(o, prior, floor);
    floor = run.stamp + 1;
    try {
      return { ...(await run.run()), resumes };
    } catch (err) {
      prior = resumes < o.maxResumes ? run.resumePoint(err) : null;
      if (!prior) {
        await Promise.resolve(run.sink?.abort?.(err)).catch(() => {});
        throw err;
      }
      o.onResume?.({ bytes: prior.opener.totalBytes, code: err.code, message: err.message });
    }
  }
}

// A directory listing: runs a `list` and decodes the listing document.
export async function listDirectory(options) {
  const parts = [];
  const sink = { write: (chunk) => parts.push(chunk) };
  const result = await runTransfer({ ...options, request: { ...options.request, op: 'list' }, openSink: () => sink });
  const doc = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  parts.reduce((at, p) => (doc.set(p, at), at + p.length), 0);
  try {
    return { ...result, entries: decodeListing(doc) };
  } catch (err) {
    throw new TransferError('refused', err.code, `the agent sent an unreadable listing: ${err.message}`);
  }
}

class TransferRun {
  #o;
  #fetch;
  #sleep;
  #random;
  #now;
  #hs;
  #transferId = null;
  #answer = null;
  #opener = null;
  #sink = null;
  #frames = 0;
  #lastEventId = '';
  #finished = null;     // the result, once the stream said end
  #prior;               // {opener, answer, sink} of the transfer this one resumes, or null
  stamp;                // message 1's timestamp (unix ms)
  // Memory reused from frame to frame and read to read (made on first use):
  // {frame: a decoded SSE frame, read: the body's bytes (a BYOB reader's buffer)}.
  #buffers = { frame: null, read: null };

  constructor(o, prior = null, stampFloor = 0) {
    this.#o = o;
    this.#prior = prior;
    this.#fetch = o.fetch ?? globalThis.fetch.bind(globalThis);
    this.#sleep = o.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
    this.#random = o.random ?? Math.random;
    this.#now = o.now ?? Date.now;
    const request = prior ? { ...o.request, offset: prior.opener.totalBytes, chunkSize: prior.answer.chunkSize }
                          : o.request;
    this.stamp = (prior ? null : request.timestampMs) ?? Math.max(this.#now(), stampFloor);
    o.onStamp?.(this.stamp);
    const payload = encodeRequest({ ...request, timestampMs: this.stamp, offerCompression: offersCompression(o) });
    this.#hs = o.ephemeralForTest
      ? InitiatorHandshake.startForTest(o.identity, o.agentKey, payload, o.ephemeralForTest)
      : InitiatorHandshake.start(o.identity, o.agentKey, payload);
  }

  // The sink content goes to (for the caller to abort when giving up).
  get sink() {
    return this.#sink ?? this.#prior?.sink ?? null;
  }

  async run() {
    try {
      this.#checkCancelled();
      this.#transferId = await this.#create();
      this.#o.onTransferId?.(this.#transferId);
      const result = await this.#stream();
      await this.#sink?.close?.();
      await this.#releaseOnRelay();
      return result;
    } catch (raw) {
      // Every failure cancels the transfer at the relay, which then drops its
      // frames and frees the agent's slot (and a resume starts a new one):
      // otherwise they stay taken until the relay's timeouts.
      const err = classify(raw);
      if (err.kind !== 'cancelled' || this.#o.cancelOnAbort) await this.cancelOnRelay();
      throw err;
    }
  }

  // {opener, answer, sink} for a new transfer to resume this one after
  // `err`, or null when it cannot: not a get, no content yet, or an error
  // other than the relay losing the stream (integrity errors are final).
  resumePoint(err) {
    if (this.#o.request.op !== 'get' || !RESUMABLE_CODES.has(err.code) || !this.#opener || !this.#sink ||
        this.#opener.complete) {
      return null;
    }
    return { opener: this.#opener, answer: this.#prior?.answer ?? this.#answer, sink: this.#sink };
  }

  // POST /v1/transfers; returns the transfer id. Retried only when the
  // relay said "not now" (429, 502-504) and so never saw message 1: a
  // message 1 that may have reached the agent is never sent twice (its
  // replay guard would refuse it anyway).
  async #create() {
    const body = JSON.stringify({ agent: this.#o.agent, msg1: base64.encode(this.#hs.message1) });
    for (let attempt = 1; ; ++attempt) {
      let response;
      try {
        response = await this.#request('/v1/transfers', {
          method: 'POST',
          headers: { 'Content-Type': 'application/json' },
          body,
        });
      } catch (err) {
        if (!(err instanceof Retry)) throw err;
        if (err.status === null || attempt > this.#o.maxReconnects) {
          throw new TransferError('network', err.status === null ? 'unreachable' : 'busy',
                                  `could not start the transfer: ${err.message}`, { status: err.status,
                                                                                   cause: err.cause ?? err });
        }
        await this.#pause(err.delayMs ?? this.#backoff(attempt));
        continue;
      }
      const json = await this.#json(response);
      if (!validTransferId(json?.transfer_id)) {
        throw new TransferError('relay', 'bad_response', 'the relay answered without a usable transfer_id');
      }
      return json.transfer_id;
    }
  }

  async #stream() {
    let attempt = 0;
    for (;;) {
      const before = this.#frames + (this.#answer ? 1 : 0);
      try {
        await this.#connectOnce();
        if (this.#finished) return this.#finished;
        throw new Retry('the event stream ended before the transfer did');
      } catch (err) {
        if (!(err instanceof Retry)) throw err;
        this.#checkCancelled();
        if (this.#frames + (this.#answer ? 1 : 0) > before) attempt = 0;
        if (++attempt > this.#o.maxReconnects) {
          throw new TransferError('network', 'connection_lost', `lost the relay's event stream ${attempt - 1} times ` +
                                  `without progress: ${err.message}`, { cause: err.cause ?? err });
        }
        await this.#pause(err.delayMs ?? this.#backoff(attempt));
      }
    }
  }

  #backoff(attempt) {
    const ceiling = Math.min(this.#o.maxBackoffMs, this.#o.backoffMs * 2 ** (attempt - 1));
    return ceiling / 2 + (this.#random() * ceiling) / 2;
  }

  async #pause(ms) {
    const signal = this.#o.signal;
    if (!signal) return this.#sleep(ms);
    await Promise.race([this.#sleep(ms), new Promise((resolve) => signal.addEventListener('abort', resolve,
                                                                                        { once: true }))]);
    this.#checkCancelled();
  }

  // One GET of the event stream, read until it ends. Returns normally when
  // the body ends (finished or not); throws Retry for drops. The relay
  // answers the binary stream, or SSE if it has none: the Content-Type says.
  async #connectOnce() {
    const headers = { Accept: `${EVENTS_TYPE}, text/event-stream` };
    if (this.#lastEventId !== '') headers['Last-Event-ID'] = this.#lastEventId;
    const idle = new AbortController();
    let timer = null;
    const arm = () => {
      clearTimeout(timer);
      timer = setTimeout(() => idle.abort(), this.#o.idleTimeoutMs);
    };
    arm();
    try {
      const response = await this.#request(`/v1/transfers/${encodeURIComponent(this.#transferId)}/events`,
                                           { headers }, idle.signal);
      if (!response.body) throw new Retry('the event stream has no body');
      const parser = isEventStream(response.headers.get('Content-Type')) ? new EventStreamReader() : new SseParser();
      const { reader, read } = bodyReader(response.body, this.#buffers);
      try {
        for (;;) {
          let next;
          arm();
          try {
            next = await read();
          } catch (cause) {
            this.#checkCancelled();
            throw new Retry(idle.signal.aborted ? `no byte from the relay for ${this.#o.idleTimeoutMs} ms`
                                                : `the event stream broke: ${cause.message}`, { cause });
          }
          // The clock runs only while waiting for the relay: a slow sink
          // (the page's disk) must not look like a dead stream.
          clearTimeout(timer);
          if (next.done) return;
          // A binary frame's data is a view into next.value (or the
          // reader's buffer): each is used up before the next read.
          for (const event of parser.feed(next.value)) {
            await this.#event(event);
            if (this.#finished) return;
          }
        }
      } finally {
        reader.cancel().catch(() => {});
      }
    } finally {
      clearTimeout(timer);
    }
  }

  async #event(event) {
    switch (event.name) {
      case 'answer':
        await this.#onAnswer(event.data);
        break;
      case 'frame':
        await this.#onFrame(event.data);
        break;
      case 'end':
        if (!this.#opener) {
          throw new TransferError('integrity', 'truncated', 'the stream ended before the agent answered');
        }
        this.#opener.finish();
        this.#finish();
        break;
      case 'error': {
        const info = parseJson(event.data);
        const code = typeof info?.error === 'string' ? info.error : 'unknown';
        const message = typeof info?.message === 'string' ? info.message : '';
        // handshake_failed here is the agent saying it could not read
        // message 1: its key is not the pinned one, or the message was altered.
        const kind = code === 'cancelled' ? 'cancelled' : code === 'handshake_failed' ? 'handshake' : 'relay';
        throw new TransferError(kind, code, `the relay ended the transfer: ${message || code}`);
      }
      case 'gone': {
        const info = parseJson(event.data);
        throw new TransferError('relay', 'gone', 'the relay no longer holds the frames this download needs ' +
                                `(oldest held: ${info?.earliest ?? 'unknown'}); start the download again`);
      }
      default:
        return;  // Unknown events are ignored (docs/api.md conventions); their id is not ours to track.
    }
    this.#lastEventId = event.id;
  }

  async #onAnswer(data) {
    if (this.#answer) throw new TransferError('integrity', 'bad_event', 'a second answer arrived');
    const message2 = base64.decode(data);
    if (!message2) throw new TransferError('integrity', 'bad_event', 'the answer is not valid base64');
    const { payload, keys } = this.#hs.finish(message2);
    let answer;
    try {
      answer = decodeAnswer(payload);
    } catch (err) {
      throw new TransferError('refused', err.code, `the agent's answer is unreadable: ${err.message}`);
    }
    if (!answer.ok) {
      throw new TransferError('refused', answer.error, answer.message || `the agent refused: ${answer.error}`);
    }
    if (answer.compression && !offersCompression(this.#o)) {
      throw new TransferError('integrity', 'bad_response', 'the agent agreed to compression that was not offered');
    }
    this.#answer = answer;
    if (this.#prior) return this.#resumeFrom(answer, keys);
    await this.#o.onAnswer?.(answer);
    if (!answer.frames) {
      this.#finish();
      return;
    }
    if (answer.offset !== 0) {
      throw new TransferError('refused', 'resume_mismatch', `the agent answered from byte ${answer.offset}, ` +
                              'but this download asked for the whole file');
    }
    this.#opener = new FrameOpener(keys, answer.firstIndex, openerOptions(answer, this.#o));
    this.#sink = (await this.#o.openSink?.(answer)) ?? null;
  }

  // The answer to a resumed request: the same file, from where the earlier
  // transfer stopped; the content goes on into the same sink.
  #resumeFrom(answer, keys) {
    const { opener, answer: first, sink } = this.#prior;
    if (answer.size !== first.size || answer.mtime !== first.mtime || answer.type !== first.type) {
      const err = new TransferError('aborted', 'changed', 'the file changed on the agent since the download ' +
                                    'started; start the download again');
      err.agentCode = 'changed';
      err.agentMessage = 'the file changed since the download started; start it again';
      throw err;
    }
    if (!answer.frames || answer.offset !== opener.totalBytes || answer.chunkSize !== first.chunkSize) {
      throw new TransferError('refused', 'resume_mismatch', `asked to resume at byte ${opener.totalBytes}, the ` +
                              `agent answered from byte ${answer.offset}`);
    }
    this.#answer = first;
    this.#opener = new FrameOpener(keys, answer.firstIndex, openerOptions(answer, { ...this.#o, makeHasher: null }));
    this.#opener.continueFrom(opener);
    this.#sink = sink;
  }

  // `data`: the frame's bytes (binary stream), or its base64 (SSE).
  async #onFrame(data) {
    if (!this.#opener) throw new TransferError('integrity', 'bad_event', 'a frame arrived before the answer');
    // The opener keeps nothing of the frame (libsodium copies the
    // ciphertext, the plaintext is new), so SSE frames are all decoded into
    // the same buffer.
    let frame = data;
    if (typeof data === 'string') {
      this.#buffers.frame ??= new Uint8Array(MAX_FRAME_BYTES);
      const n = base64.decodeInto(data, this.#buffers.frame);
      if (n < 0) throw new TransferError('integrity', 'bad_frame', 'a frame is not valid base64 (or too large)');
      frame = this.#buffers.frame.subarray(0, n);
    }
    const result = this.#opener.open(frame);
    ++this.#frames;
    // The trailer verified what arrived; it must also be what the answer
    // announced (a resumed run counts the earlier transfer's bytes too). A
    // tree's size is its files' content, an estimate for progress: the
    // stream's records are checked by tree_stream.js instead.
    if (this.#o.request.op !== 'tree' && (this.#opener.totalBytes > this.#answer.size ||
        (result.kind !== 'data' && this.#opener.totalBytes !== this.#answer.size))) {
      throw new TransferError('integrity', 'size_mismatch', `the agent announced ${this.#answer.size} bytes but ` +
                              `sent ${result.kind === 'data' ? 'more' : this.#opener.totalBytes}`);
    }
    if (result.kind === 'data') {
      await this.#sink?.write?.(result.chunk);
      this.#o.onProgress?.({ transferId: this.#transferId, bytes: this.#opener.totalBytes, size: this.#answer.size,
                             frames: this.#frames });
    } else if (result.verified) {
      await result.verified;   // the digest from a hasher in another Worker
    }
  }

  #finish() {
    this.#finished = { transferId: this.#transferId, answer: this.#answer, bytes: this.#opener?.totalBytes ?? 0,
                       frames: this.#frames };
  }

  // fetch with the token; HTTP errors become TransferError, or Retry for
  // the ones worth waiting out (429, 502, 503, 504) and network errors.
  async #request(path, init, extraSignal = null) {
    const signals = [this.#o.signal, extraSignal].filter(Boolean);
    const signal = signals.length === 0 ? undefined : signals.length === 1 ? signals[0] : anySignal(signals);
    let response;
    try {
      response = await this.#fetch(`${this.#o.relay}${path}`, {
        ...init,
        headers: { ...init.headers, Authorization: `Bearer ${this.#o.token}` },
        cache: 'no-store',
        signal,
      });
    } catch (cause) {
      this.#checkCancelled();
      throw new Retry(extraSignal?.aborted ? `no answer from the relay for ${this.#o.idleTimeoutMs} ms`
                                           : `the relay is unreachable: ${cause.message}`, { cause });
    }
    if (response.ok) return response;
    const info = await this.#json(response, false);
    const code = typeof info?.error === 'string' ? info.error : `http_${response.status}`;
    const message = typeof info?.message === 'string' ? info.message : `HTTP ${response.status}`;
    if ([429, 502, 503, 504].includes(response.status)) {
      const after = Number(response.headers.get('Retry-After'));
      throw new Retry(`${code}: ${message}`, { delayMs: Number.isFinite(after) && after > 0 ? after * 1000 : null,
                                               status: response.status });
    }
    throw new TransferError('relay', code, message, { status: response.status });
  }

  async #json(response, strict = true) {
    let text;
    try {
      text = await response.text();
    } catch (cause) {
      if (!strict) return null;
      throw new Retry(`the relay's answer broke off: ${cause.message}`, { cause });
    }
    const json = parseJson(text);
    if (json === null && strict) throw new TransferError('relay', 'bad_response', 'the relay answered with no JSON');
    return json;
  }

  #checkCancelled() {
    if (this.#o.signal?.aborted) throw new TransferError('cancelled', 'cancelled', 'the download was cancelled');
  }

  // Best effort, once the result is safe: the relay may drop the frames it
  // kept for a resume now rather than at the transfer's TTL (docs/api.md,
  // DELETE ?done=1). The agent is not told.
  async #releaseOnRelay() {
    try {
      await this.#fetch(`${this.#o.relay}/v1/transfers/${encodeURIComponent(this.#transferId)}?done=1`, {
        method: 'DELETE',
        headers: { Authorization: `Bearer ${this.#o.token}` },
      });
    } catch {
      // It expires anyway.
    }
  }

  // Best effort: tell the relay (and so the agent) to stop.
  async cancelOnRelay() {
    if (!this.#transferId) return;
    try {
      await this.#fetch(`${this.#o.relay}/v1/transfers/${encodeURIComponent(this.#transferId)}`, {
        method: 'DELETE',
        headers: { Authorization: `Bearer ${this.#o.token}` },
      });
    } catch {
      // The relay expires abandoned transfers anyway.
    }
  }
}

// Bytes read from the event stream at a time, at most, where the body can
// be read into a buffer of ours (a byte stream: fetch() bodies in Chromium).
const READ_BYTES = 1024 * 1024;

// {reader, read()} for a fetch() body: a BYOB reader that reads into one
// buffer, reused from read to read (`buffers.read`), when the body is a byte
// stream; otherwise its default reader, which makes a new array per read.
// The caller must be done with a read's bytes before the next read (the SSE
// parser decodes them to text at once; a binary frame event's data may be a
// view of them, and is opened before the next read).
function bodyReader(body, buffers) {
  let byob = null;
  try {
    byob = body.getReader({ mode: 'byob' });
  } catch {
    const reader = body.getReader();
    return { reader, read: () => reader.read() };
  }
  const read = async () => {
    // The buffer is lent to the reader (and detached here) until a read
    // gives it back as next.value's; a read that fails or is cancelled does
    // not, and the next read gets a new one.
    const lent = buffers.read ?? new ArrayBuffer(READ_BYTES);
    buffers.read = null;
    const next = await byob.read(new Uint8Array(lent));
    if (next.value) buffers.read = next.value.buffer;
    return next;
  };
  return { reader: byob, read };
}

function parseJson(text) {
  try {
    return JSON.parse(typeof text === 'string' ? text : fromUtf8(text));
  } catch {
    return null;
  }
}

// AbortSignal.any where available (Chromium 116+, node 20.3+), else by hand.
function anySignal(signals) {
  if (typeof AbortSignal.any === 'function') return AbortSignal.any(signals);
  const controller = new AbortController();
  for (const s of signals) {
    if (s.aborted) controller.abort(s.reason);
    else s.addEventListener('abort', () => controller.abort(s.reason), { once: true });
  }
  return controller.signal;
}
