// An in-process stand-in for the relay's requester API (docs/api.md), with
// a real agent behind it (the JS ResponderHandshake and FrameSealer), so
// transfer.js can be tested under node through an injected fetch. Every
// connection to the event stream follows a plan, to play drops, stalls,
// errors and a lying relay. It answers the binary event stream when the
// client asks for it (as the relay does), or only SSE (`binary: false`, a
// relay without it).
import * as base64 from '../js/base64.js';
import { concat, fromUtf8, utf8 } from '../js/bytes.js';
import { CONTENT_TYPE, TYPE, record } from '../js/event_stream.js';
import { FrameSealer } from '../js/frames.js';
import { decodeRequest, encodeAnswer, encodeListing } from '../js/payloads.js';
import { ResponderHandshake } from '../js/session.js';
import { content } from './support.mjs';

// The relay's transfer id for the n-th transfer: its real form (base/ids.h).
export const tid = (n) => `t_${n.toString(16).padStart(32, '0')}`;

const json = (status, body, headers = {}) =>
  new Response(JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json', ...headers } });

// An honest agent serving `files` (path → bytes) and `dirs` (path → entries):
// {answerFor(request), framesFor(request, keys)}. A get with an offset is
// answered as the C++ agent does (docs/protocol.md §3 "Resume"): from the
// offset rounded down to a chunk, the prefix hashed but not sent.
export function honestAgent({ files = {}, dirs = {}, chunkSize = 4096 } = {}) {
  const documentOf = (request) => (dirs[request.path] ? encodeListing(dirs[request.path]) : files[request.path]);
  const offsetOf = (request, data) => (request.op === 'get'
    ? Math.min(data.length, Math.floor((request.offset ?? 0) / chunkSize) * chunkSize) : 0);
  return {
    answerFor(request) {
      const data = documentOf(request);
      if (!data) return { ok: false, error: 'not_found', message: 'no such file in this share' };
      const offset = offsetOf(request, data);
      return { ok: true, type: dirs[request.path] ? 'dir' : 'file', name: request.path.split('/').pop(),
               size: data.length, mtime: 1, chunkSize, offset, firstIndex: offset / chunkSize,
               frames: request.op !== 'stat' };
    },
    framesFor(request, keys) {
      const data = documentOf(request);
      if (!data || request.op === 'stat') return [];
      const offset = offsetOf(request, data);
      const sealer = new FrameSealer(keys, offset / chunkSize);
      sealer.absorbPrefix(data.subarray(0, offset));
      const frames = [];
      for (let at = offset; at < data.length; at += chunkSize) {
        frames.push(sealer.sealChunk(data.subarray(at, at + chunkSize)));
      }
      frames.push(sealer.sealTrailer());
      return frames;
    },
  };
}

export class FakeRelay {
  // agent: {identity, answerFor(request), framesFor(request, keys)}
  // plans: per event-stream connection, in order (the last one repeats):
  //   {events: max events to send (default all), end: 'close' | 'error' | 'stall',
  //    split: bytes per body chunk, mutate(events) → events}
  // Events are {name, id, data} as SSE has them (a frame's data in base64,
  // id '' for none), or {raw}: bytes sent as they are (a string for SSE, a
  // Uint8Array for the binary stream). The binary stream sends a frame's
  // bytes (its data decoded; data that is not base64 goes as its UTF-8).
  constructor({ agent, plans = [{}], token = 'srt_test', postStatus = [], binary = true }) {
    this.agent = agent;
    this.binary = binary;
    this.plans = plans;
    this.token = token;
    this.postStatus = postStatus;   // statuses to answer POST with before succeeding, e.g. [503]
    this.requests = [];             // {method, url, headers}
    this.lastEventIds = [];         // per event-stream connection
    this.deleted = [];              // cancelled transfer ids
    this.released = [];             // finished transfers released with ?done=1
    this.transfers = new Map();
    this.fetch = this.fetch.bind(this);
  }

  async fetch(url, init = {}) {
    const headers = new Headers(init.headers);
    this.requests.push({ method: init.method ?? 'GET', url, headers });
    if (init.signal?.aborted) throw new DOMException('aborted', 'AbortError');
    if (headers.get('Authorization') !== `Bearer ${this.token}`) return json(401, { error: 'unauthorized', message: 'x' });
    let m;
    if (init.method === 'POST' && url === '/v1/transfers') return this.#create(JSON.parse(init.body));
    if ((m = url.match(/^\/v1\/transfers\/([^/]+)\/events$/))) return this.#events(m[1], headers, init.signal);
    if (init.method === 'DELETE' && (m = url.match(/^\/v1\/transfers\/([^/?]+)(\?done=1)?$/))) {
      if (m[2]) {  // a release of a finished transfer (docs/api.md)
        this.released.push(m[1]);
        return json(200, { transfer_id: m[1], state: 'complete' });
      }
      this.deleted.push(m[1]);
      return json(200, { transfer_id: m[1], state: 'cancelled' });
    }
    return json(404, { error: 'not_found', message: 'no such route' });
  }

  #create(body) {
    const status = this.postStatus.shift();
    if (status) return json(status, { error: status === 503 ? 'overloaded' : 'x', message: 'try later' },
                            { 'Retry-After': '2' });
    if (body.agent !== 'shop-1') return json(404, { error: 'unknown_agent', message: `no agent "${body.agent}"` });
    const id = tid(this.transfers.size);
    const responder = ResponderHandshake.read(this.agent.identity, base64.decode(body.msg1));
    const request = decodeRequest(responder.request);
    const { message2, keys } = responder.answer(encodeAnswer(this.agent.answerFor(request)));
    const frames = this.agent.framesFor(request, keys);
    const events = [{ name: 'answer', id: '0', data: base64.encode(message2) }];
    frames.forEach((f, i) => events.push({ name: 'frame', id: String(i + 1), data: base64.encode(f) }));
    events.push({ name: 'end', id: String(frames.length + 1), data: JSON.stringify({ frames: frames.length }) });
    this.transfers.set(id, { request, keys, events });
    return json(201, { transfer_id: id, state: 'requested' });
  }

  #events(id, headers, signal) {
    const transfer = this.transfers.get(id);
    if (!transfer) return json(404, { error: 'unknown_transfer', message: 'x' });
    const plan = this.plans[Math.min(this.lastEventIds.length, this.plans.length - 1)];
    const last = headers.get('Last-Event-ID');
    this.lastEventIds.push(last);
    let events = transfer.events.filter((e) => last === null || Number(e.id) > Number(last));
    if (plan.mutate) events = plan.mutate(events);
    if (plan.events !== undefined) events = events.slice(0, plan.events);
    const binary = this.binary && (headers.get('Accept') ?? '').includes(CONTENT_TYPE);
    const bytes = binary ? binaryBody(events) : utf8(events.map((e) => (e.raw ?? `event: ${e.name}\n${e.id ? `id: ${e.id}\n` : ''}data: ${e.data}\n\n`))
      .join(': hb\n\n'));
    const split = plan.split ?? 1000;
    let at = 0;
    const body = new ReadableStream({
      pull(controller) {
        if (at < bytes.length) {
          controller.enqueue(bytes.slice(at, at + split));
          at += split;
          return;
        }
        if (plan.end === 'error') controller.error(new TypeError('network error'));
        else if (plan.end === 'stall') return new Promise((resolve) => signal?.addEventListener('abort', () => {
          controller.error(new DOMException('aborted', 'AbortError'));
          resolve();
        }));
        else controller.close();
      },
    });
    return new Response(body, { status: 200,
                                headers: { 'Content-Type': binary ? CONTENT_TYPE : 'text/event-stream' } });
  }
}

// The events as binary records, a heartbeat between each two.
function binaryBody(events) {
  const heartbeat = record(TYPE.heartbeat, 0);
  const records = events.map((e) => {
    if (e.raw !== undefined) return e.raw;
    const data = e.name === 'frame' ? (base64.decode(e.data) ?? utf8(e.data)) : utf8(e.data);
    return record(TYPE[e.name], e.id === '' ? 0 : BigInt(e.id), data);
  });
  return concat(...records.flatMap((r, i) => (i === 0 ? [r] : [heartbeat, r])));
}

// A relay with an honest agent serving `files` and `dirs`.
export function relayWith({ identity, files = {}, dirs = {}, chunkSize = 4096, ...rest }) {
  return new FakeRelay({ agent: { identity, ...honestAgent({ files, dirs, chunkSize }) }, ...rest });
}

export { content, fromUtf8 };
