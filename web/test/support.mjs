// Builders shared by the unit tests: a JS handshake between a requester and
// an agent, and a sealed transfer.
import { randomBytes } from 'node:crypto';

import { InitiatorHandshake, ResponderHandshake } from '../js/session.js';
import { FrameSealer } from '../js/frames.js';
import { generateIdentity } from '../js/noise.js';
import { encodeAnswer, encodeRequest } from '../js/payloads.js';

export function content(n, seed = 1) {
  const out = new Uint8Array(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; ++i) {
    x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0;
    out[i] = x & 0xff;
  }
  return out;
}

// A complete handshake: {requester, agent, initiator, message1, message2,
// requesterKeys, agentKeys}.
export function handshake({ request = { op: 'get', path: '/share/a.bin', timestampMs: 1 },
                            answer = { ok: true, type: 'file', name: 'a.bin', size: 0, mtime: 0, chunkSize: 4096,
                                       offset: 0, firstIndex: 0, frames: true } } = {}) {
  const requester = generateIdentity();
  const agent = generateIdentity();
  const initiator = InitiatorHandshake.start(requester, agent.publicKey, encodeRequest(request));
  const responder = ResponderHandshake.read(agent, initiator.message1);
  const { message2, keys: agentKeys } = responder.answer(encodeAnswer(answer));
  const { keys: requesterKeys } = initiator.finish(message2);
  return { requester, agent, message1: initiator.message1, message2, requesterKeys, agentKeys };
}

// Frames of `bytes` in chunks of `chunkSize`, then the trailer.
export function sealAll(keys, bytes, chunkSize, firstIndex = 0) {
  const sealer = new FrameSealer(keys, firstIndex);
  const frames = [];
  for (let at = 0; at < bytes.length; at += chunkSize) frames.push(sealer.sealChunk(bytes.subarray(at, at + chunkSize)));
  frames.push(sealer.sealTrailer());
  return frames;
}

export { randomBytes };
