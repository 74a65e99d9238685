// The sealrelay session, mirroring crypto/session.h: one Noise_IK handshake
// per transfer (requester = initiator, agent = responder) and the keys the
// frames are sealed with (docs/protocol.md §2 "Transfer keys"). No I/O.
//
// Transfer keys: {frameKey: 32 bytes, handshakeHash: 64 bytes (h)} where
//   frameKey = BLAKE2b-256(key = k2, message = "sealrelay/1 frame key")
// and k2 is the key of Split()'s second CipherState (responder → initiator).
import sodium from './sodium.js';
import { SealrelayError, utf8 } from './bytes.js';
import { HandshakeState } from './noise.js';
import { FRAME_KEY_LABEL, KEY_BYTES, PROLOGUE } from './protocol.js';

const prologue = utf8(PROLOGUE);
const frameKeyLabel = utf8(FRAME_KEY_LABEL);

function transferKeys(hs) {
  const handshakeHash = hs.handshakeHash;
  const { initiatorToResponder, responderToInitiator } = hs.split();
  const frameKey = sodium.crypto_generichash(KEY_BYTES, frameKeyLabel, responderToInitiator.key);
  sodium.memzero(initiatorToResponder.key);
  sodium.memzero(responderToInitiator.key);
  return { frameKey, handshakeHash };
}

function checkKey(key, what) {
  if (!(key instanceof Uint8Array) || key.length !== KEY_BYTES) throw new TypeError(`${what} must be 32 bytes`);
}

// Requester side. `me` is {privateKey, publicKey}; `agent` the pinned
// 32-byte public key of the agent; `request` the encoded request payload.
export class InitiatorHandshake {
  #hs;
  #message1;

  constructor(hs, message1) {
    this.#hs = hs;
    this.#message1 = message1;
  }

  // Message 1 to `agent`, carrying `request` (encrypted to the agent).
  static start(me, agent, request) {
    return InitiatorHandshake.startForTest(me, agent, request, null);
  }

  // Same, with a fixed ephemeral key pair: for known-answer tests only.
  static startForTest(me, agent, request, ephemeral) {
    checkKey(me?.privateKey, 'the requester private key');
    checkKey(agent, 'the agent public key');
    const hs = new HandshakeState({
      pattern: 'IK',
      initiator: true,
      prologue,
      staticKey: me,
      remoteStatic: agent,
      ephemeralForTest: ephemeral,
    });
    return new InitiatorHandshake(hs, hs.writeMessage(request));
  }

  get message1() {
    return this.#message1;
  }

  // Reads message 2: {payload, keys}. Throws `handshake_failed`, without
  // detail, on anything that is not the pinned agent answering this very
  // message 1.
  finish(message2) {
    let payload;
    try {
      payload = this.#hs.readMessage(message2);
    } catch {
      payload = null;
    }
    if (payload === null || !this.#hs.complete) {
      throw new SealrelayError('handshake_failed', 'the handshake did not verify: the answer is not from the pinned ' +
                                                   'agent key, or was altered');
    }
    return { payload, keys: transferKeys(this.#hs) };
  }
}

// Agent side: the browser never plays it, but tests use it to make frames
// and answers the way an agent would.
export class ResponderHandshake {
  #hs;
  #requesterKey;
  #request;

  constructor(hs, requesterKey, request) {
    this.#hs = hs;
    this.#requesterKey = requesterKey;
    this.#request = request;
  }

  // Reads message 1. Throws `handshake_failed` on a message not addressed to
  // `me` or tampered with; the caller then checks requesterKey.
  static read(me, message1, { ephemeralForTest = null } = {}) {
    const hs = new HandshakeState({ pattern: 'IK', initiator: false, prologue, staticKey: me, ephemeralForTest });
    let request;
    try {
      request = hs.readMessage(message1);
    } catch {
      throw new SealrelayError('handshake_failed', "message 1 did not verify: not addressed to this agent's key, or " +
                                                   'altered');
    }
    return new ResponderHandshake(hs, hs.remoteStatic, request);
  }

  get requesterKey() {
    return this.#requesterKey;
  }

  get request() {
    return this.#request;
  }

  // Message 2 carrying `answer`: {message2, keys}.
  answer(answer) {
    const message2 = this.#hs.writeMessage(answer);
    return { message2, keys: transferKeys(this.#hs) };
  }
}
