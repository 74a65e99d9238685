// Noise Protocol Framework, revision 34 (2018-07-11), with DH 25519, cipher
// ChaChaPoly and hash BLAKE2b, on libsodium-wrappers. "spec §N" below is a
// section of https://noiseprotocol.org/noise.html, revision 34.
// A line-by-line mirror of crypto/noise.cpp: generic over the pattern
// sealrelay uses (IK) and the ones the published vectors cover (NN, KK, XX,
// IKpsk2), so the vectors test the engine rather than one path through it.
//
// HMAC (RFC 2104) and HKDF (spec §4.3) are built here from BLAKE2b: the
// standard libsodium-wrappers build has neither HMAC-BLAKE2b nor HKDF.
//
// Errors: protocol failures throw SealrelayError (`handshake_failed`,
// `decrypt_failed`, `nonce_exhausted`); misuse (wrong turn aside) throws
// a plain Error. No I/O.
import sodium from './sodium.js';
import { SealrelayError, concat, utf8 } from './bytes.js';
import { HASH_BYTES, KEY_BYTES, MAX_NOISE_MESSAGE_BYTES, NOISE_TAG_BYTES } from './protocol.js';

const BLOCK_LEN = 128;  // BLAKE2b
const DH_LEN = KEY_BYTES;
const SUFFIX = '_25519_ChaChaPoly_BLAKE2b';

// Message patterns (spec §7). Tokens: e s ee es se ss psk.
const PATTERNS = {
  NN: { initiatorPreS: false, responderPreS: false, psk: false, messages: [['e'], ['e', 'ee']] },
  KK: { initiatorPreS: true, responderPreS: true, psk: false, messages: [['e', 'es', 'ss'], ['e', 'ee', 'se']] },
  IK: { initiatorPreS: false, responderPreS: true, psk: false, messages: [['e', 'es', 's', 'ss'], ['e', 'ee', 'se']] },
  XX: { initiatorPreS: false, responderPreS: false, psk: false,
        messages: [['e'], ['e', 'ee', 's', 'es'], ['s', 'se']] },
  IKpsk2: { initiatorPreS: false, responderPreS: true, psk: true,
            messages: [['e', 'es', 's', 'ss'], ['e', 'ee', 'se', 'psk']] },
};

// Pattern name ("IK", ...) of a full protocol name such as
// "Noise_IK_25519_ChaChaPoly_BLAKE2b"; null for other patterns or primitives.
export function patternOf(protocolName) {
  if (!protocolName.startsWith('Noise_') || !protocolName.endsWith(SUFFIX)) return null;
  const name = protocolName.slice('Noise_'.length, protocolName.length - SUFFIX.length);
  return Object.hasOwn(PATTERNS, name) ? name : null;
}

// A fresh random X25519 key pair: {privateKey, publicKey}.
export function generateIdentity() {
  return identityOf(sodium.randombytes_buf(KEY_BYTES));
}

// The key pair of a 32-byte private key.
export function identityOf(privateKey) {
  if (!(privateKey instanceof Uint8Array) || privateKey.length !== KEY_BYTES) throw new Error('private key must be 32 bytes');
  return { privateKey: Uint8Array.from(privateKey), publicKey: sodium.crypto_scalarmult_base(privateKey) };
}

function handshakeError(message) {
  return new SealrelayError('handshake_failed', message);
}

function hash(...parts) {
  return sodium.crypto_generichash(HASH_BYTES, concat(...parts), null);
}

// HMAC-HASH(key, data...) as RFC 2104 with BLAKE2b (spec §4.3).
function hmac(key, ...data) {
  if (key.length > BLOCK_LEN) throw new Error('HMAC key longer than a block');  // Noise never does this.
  const pad = new Uint8Array(BLOCK_LEN);
  pad.set(key);
  for (let i = 0; i < BLOCK_LEN; ++i) pad[i] ^= 0x36;
  const inner = hash(pad, ...data);
  for (let i = 0; i < BLOCK_LEN; ++i) pad[i] ^= 0x36 ^ 0x5c;
  const out = hash(pad, inner);
  sodium.memzero(pad);
  sodium.memzero(inner);
  return out;
}

// HKDF(chaining_key, ikm, n) (spec §4.3): n outputs of HASHLEN bytes.
function hkdf(chainingKey, ikm, n) {
  const tempKey = hmac(chainingKey, ikm);
  const outs = [hmac(tempKey, Uint8Array.of(1))];
  for (let i = 1; i < n; ++i) outs.push(hmac(tempKey, outs[i - 1], Uint8Array.of(i + 1)));
  sodium.memzero(tempKey);
  return outs;
}

function truncateKey(k) {
  const key = k.slice(0, KEY_BYTES);
  sodium.memzero(k);
  return key;
}

// ChaChaPoly nonce (spec §12.3): 4 zero bytes, then the counter little-endian.
function chachaNonce(n) {
  const nonce = new Uint8Array(12);
  const view = new DataView(nonce.buffer);
  view.setUint32(4, n % 0x100000000, true);
  view.setUint32(8, Math.floor(n / 0x100000000), true);
  return nonce;
}

// A CipherState (spec §5.1): a key and a 64-bit counter nonce. The counter
// is a JS number: it would take 2^53 messages to reach its end.
export class CipherState {
  #key;
  #nonce = 0;

  constructor(key = null) {
    this.#key = key;
  }

  get hasKey() {
    return this.#key !== null;
  }

  get key() {
    return this.#key;
  }

  // Ciphertext+tag of `plaintext` (or the plaintext itself before a key is set).
  encryptWithAd(ad, plaintext) {
    if (!this.hasKey) return Uint8Array.from(plaintext);
    if (this.#nonce >= Number.MAX_SAFE_INTEGER) throw new SealrelayError('nonce_exhausted', 'cipher nonce exhausted');
    const out = sodium.crypto_aead_chacha20poly1305_ietf_encrypt(plaintext, ad, null, chachaNonce(this.#nonce),
                                                                 this.#key);
    ++this.#nonce;
    return out;
  }

  // Plaintext of `ciphertext`; on failure throws and the nonce is not consumed.
  decryptWithAd(ad, ciphertext) {
    if (!this.hasKey) return Uint8Array.from(ciphertext);
    if (this.#nonce >= Number.MAX_SAFE_INTEGER) throw new SealrelayError('nonce_exhausted', 'cipher nonce exhausted');
    if (ciphertext.length < NOISE_TAG_BYTES) throw new SealrelayError('decrypt_failed', 'ciphertext shorter than its tag');
    let out;
    try {
      out = sodium.crypto_aead_chacha20poly1305_ietf_decrypt(null, ciphertext, ad, chachaNonce(this.#nonce), this.#key);
    } catch {
      throw new SealrelayError('decrypt_failed', 'message failed authentication');
    }
    ++this.#nonce;
    return out;
  }
}

// A HandshakeState (spec §5.3). Messages alternate starting with the
// initiator; after the last one, split() gives the transport ciphers.
//
// config: {pattern: 'IK' | ..., initiator: bool, prologue: Uint8Array,
//          staticKey: {privateKey, publicKey} | null, remoteStatic: Uint8Array | null,
//          psk: Uint8Array | null,
//          ephemeralForTest: {privateKey, publicKey} | null}
// ephemeralForTest fixes the ephemeral key for known-answer tests. Never set
// it outside tests: a reused ephemeral key breaks the handshake's secrecy.
export class HandshakeState {
  // SymmetricState (spec §5.2).
  #cipher = new CipherState();
  #ck;
  #h;
  // HandshakeState (spec §5.3).
  #def;
  #initiator;
  #s;
  #e = null;
  #ephemeralForTest;
  #rs;
  #re = null;
  #psk;
  #nextMessage = 0;
  #poisoned = false;

  constructor(config) {
    this.#def = PATTERNS[config.pattern];
    if (!this.#def) throw new Error(`unknown Noise pattern ${config.pattern}`);
    this.#initiator = Boolean(config.initiator);
    this.#s = config.staticKey ?? null;
    this.#rs = config.remoteStatic ? Uint8Array.from(config.remoteStatic) : null;
    this.#psk = config.psk ?? null;
    this.#ephemeralForTest = config.ephemeralForTest ?? null;

    const name = utf8(`Noise_${config.pattern}${SUFFIX}`);
    this.#h = new Uint8Array(HASH_BYTES);
    if (name.length <= HASH_BYTES) this.#h.set(name);
    else this.#h = hash(name);
    this.#ck = Uint8Array.from(this.#h);
    this.#mixHash(config.prologue ?? new Uint8Array(0));

    // Pre-messages: the initiator's first, then the responder's (spec §7.1).
    const pre = (mine) => {
      const key = mine ? this.#s?.publicKey : this.#rs;
      if (!key) throw new Error('the pattern needs a static key that was not given');
      this.#mixHash(key);
    };
    if (this.#def.initiatorPreS) pre(this.#initiator);
    if (this.#def.responderPreS) pre(!this.#initiator);
  }

  get complete() {
    return !this.#poisoned && this.#nextMessage === this.#def.messages.length;
  }

  // The handshake hash h; stable once complete.
  get handshakeHash() {
    return Uint8Array.from(this.#h);
  }

  // The remote static key, once the handshake has carried or preset it.
  get remoteStatic() {
    return this.#rs ? Uint8Array.from(this.#rs) : null;
  }

  // Writes the next handshake message carrying `payload`. Throws when it is
  // not this side's turn, the handshake is over, or a DH result is invalid.
  writeMessage(payload) {
    if (this.#poisoned || this.#nextMessage >= this.#def.messages.length || !this.#myTurn()) {
      throw handshakeError('handshake message written out of turn');
    }
    const parts = [];
    try {
      for (const token of this.#def.messages[this.#nextMessage]) {
        if (token === 'e') {
          this.#e = this.#ephemeralForTest ?? generateIdentity();
          parts.push(this.#e.publicKey);
          this.#mixHash(this.#e.publicKey);
          if (this.#def.psk) this.#mixKey(this.#e.publicKey);
        } else if (token === 's') {
          if (!this.#s) throw new Error('the pattern needs our static key');
          parts.push(this.#encryptAndHash(this.#s.publicKey));
        } else if (token === 'psk') {
          if (!this.#psk) throw new Error('the pattern needs a PSK');
          this.#mixKeyAndHash(this.#psk);
        } else {
          this.#tokenDh(token);
        }
      }
      parts.push(this.#encryptAndHash(payload));
    } catch (err) {
      this.#poisoned = true;
      throw err;
    }
    const out = concat(...parts);
    if (out.length > MAX_NOISE_MESSAGE_BYTES) {
      this.#poisoned = true;
      throw handshakeError('handshake message too long');
    }
    ++this.#nextMessage;
    return out;
  }

  // Reads the next handshake message and returns its payload. Any failure
  // poisons the state: every later call fails too.
  readMessage(message) {
    if (this.#poisoned || this.#nextMessage >= this.#def.messages.length || this.#myTurn()) {
      throw handshakeError('handshake message read out of turn');
    }
    this.#poisoned = true;  // Cleared only when the whole message has been accepted.
    if (message.length > MAX_NOISE_MESSAGE_BYTES) throw handshakeError('handshake message too long');
    let at = 0;
    for (const token of this.#def.messages[this.#nextMessage]) {
      if (token === 'e') {
        if (message.length - at < DH_LEN) throw handshakeError('handshake message too short');
        this.#re = message.slice(at, at + DH_LEN);
        at += DH_LEN;
        this.#mixHash(this.#re);
        if (this.#def.psk) this.#mixKey(this.#re);
      } else if (token === 's') {
        const len = DH_LEN + (this.#cipher.hasKey ? NOISE_TAG_BYTES : 0);
        if (message.length - at < len) throw handshakeError('handshake message too short');
        try {
          this.#rs = this.#decryptAndHash(message.subarray(at, at + len));
        } catch {
          throw handshakeError('handshake message failed authentication');
        }
        at += len;
      } else if (token === 'psk') {
        if (!this.#psk) throw new Error('the pattern needs a PSK');
        this.#mixKeyAndHash(this.#psk);
      } else {
        this.#tokenDh(token);
      }
    }
    let payload;
    try {
      payload = this.#decryptAndHash(message.subarray(at));
    } catch {
      throw handshakeError('handshake message failed authentication');
    }
    ++this.#nextMessage;
    this.#poisoned = false;
    return payload;
  }

  // {initiatorToResponder, responderToInitiator}; only once complete.
  split() {
    if (!this.complete) throw new Error('split before the handshake finished');
    const [k1, k2] = hkdf(this.#ck, new Uint8Array(0), 2);
    return {
      initiatorToResponder: new CipherState(truncateKey(k1)),
      responderToInitiator: new CipherState(truncateKey(k2)),
    };
  }

  #myTurn() {
    return (this.#nextMessage % 2 === 0) === this.#initiator;
  }

  #mixHash(data) {
    this.#h = hash(this.#h, data);
  }

  #mixKey(ikm) {
    const [ck, tempK] = hkdf(this.#ck, ikm, 2);
    sodium.memzero(this.#ck);
    this.#ck = ck;
    this.#cipher = new CipherState(truncateKey(tempK));
  }

  #mixKeyAndHash(ikm) {
    const [ck, tempH, tempK] = hkdf(this.#ck, ikm, 3);
    sodium.memzero(this.#ck);
    this.#ck = ck;
    this.#mixHash(tempH);
    this.#cipher = new CipherState(truncateKey(tempK));
  }

  #encryptAndHash(plaintext) {
    const out = this.#cipher.encryptWithAd(this.#h, plaintext);
    this.#mixHash(out);
    return out;
  }

  #decryptAndHash(ciphertext) {
    const out = this.#cipher.decryptWithAd(this.#h, ciphertext);
    this.#mixHash(ciphertext);
    return out;
  }

  #dh(local, remote) {
    let shared;
    try {
      // libsodium refuses an all-zero result (a low-order remote point).
      shared = sodium.crypto_scalarmult(local.privateKey, remote);
    } catch {
      throw handshakeError('invalid Diffie-Hellman result (low-order public key)');
    }
    this.#mixKey(shared);
    sodium.memzero(shared);
  }

  // The DH for ee/es/se/ss from this side's point of view.
  #tokenDh(token) {
    const need = (ok) => {
      if (!ok) throw handshakeError(`missing key for ${token}`);
    };
    const ours = { e: this.#e, s: this.#s };
    const theirs = { e: this.#re, s: this.#rs };
    // "es": the initiator's e with the responder's s; "se" the other way.
    const [mine, other] = token === 'ee' ? ['e', 'e']
                        : token === 'ss' ? ['s', 's']
                        : token === 'es' ? (this.#initiator ? ['e', 's'] : ['s', 'e'])
                        : token === 'se' ? (this.#initiator ? ['s', 'e'] : ['e', 's'])
                        : [null, null];
    if (mine === null) throw new Error(`unknown Noise token ${token}`);
    need(ours[mine] && theirs[other]);
    this.#dh(ours[mine], theirs[other]);
  }
}
