// Frames after the handshake, mirroring crypto/frames.h (docs/protocol.md
// §3): each chunk sealed on its own with XChaCha20-Poly1305 under the
// transfer's frame key, a random nonce carried in the frame, and associated
// data binding the handshake hash, the version, the flags and the index. The
// last frame (FINAL) is the trailer: total byte count and SHA-256 of the
// whole content, or (FINAL|ERROR) the agent's abort. No I/O.
//
//   offset 0 version u8 | 1 flags u8 | 2 index u64 BE | 10 nonce 24B | 34 ciphertext+tag
//   AD = h (64B) | version | flags | index
import sodium from './sodium.js';
import { SealrelayError, fromUtf8, getU64, putU64, utf8 } from './bytes.js';
import { Sha256 } from './sha256.js';
import {
  FLAG_COMPRESSED, FLAG_ERROR, FLAG_FINAL, FRAME_AD_BYTES, FRAME_HEADER_BYTES, FRAME_INDEX_OFFSET, FRAME_NONCE_BYTES,
  FRAME_NONCE_OFFSET, FRAME_OVERHEAD_BYTES, HASH_BYTES, KEY_BYTES, MAX_ABORT_BYTES, MAX_CHUNK_BYTES,
  MAX_FRAME_BYTES, TRAILER_BYTES, VERSION,
} from './protocol.js';

function checkKeys(keys) {
  if (!(keys?.frameKey instanceof Uint8Array) || keys.frameKey.length !== KEY_BYTES ||
      !(keys.handshakeHash instanceof Uint8Array) || keys.handshakeHash.length !== HASH_BYTES) {
    throw new TypeError('transfer keys must be {frameKey: 32 bytes, handshakeHash: 64 bytes}');
  }
}

// AD = h | version | flags | index, i.e. h followed by the header minus the nonce.
function makeAd(h, frame) {
  const ad = new Uint8Array(FRAME_AD_BYTES);
  ad.set(h);
  ad.set(frame.subarray(0, FRAME_NONCE_OFFSET), HASH_BYTES);
  return ad;
}

// Agent side, for tests and tools: seals the chunks of one transfer in order
// and keeps the running byte count and SHA-256 for the trailer.
export class FrameSealer {
  #key;
  #h;
  #nextIndex;
  #totalBytes = 0;
  #sha = new Sha256();
  #finished = false;

  // `firstIndex`: index of the first frame sent (offset / chunk size on resume).
  constructor(keys, firstIndex = 0) {
    checkKeys(keys);
    this.#key = Uint8Array.from(keys.frameKey);
    this.#h = Uint8Array.from(keys.handshakeHash);
    this.#nextIndex = BigInt(firstIndex);
  }

  get nextIndex() {
    return this.#nextIndex;
  }

  get totalBytes() {
    return this.#totalBytes;
  }

  // Content before the resume offset: hashed and counted, not sent.
  absorbPrefix(bytes) {
    this.#sha.update(bytes);
    this.#totalBytes += bytes.length;
  }

  sealChunk(chunk) {
    if (chunk.length === 0 || chunk.length > MAX_CHUNK_BYTES) throw new Error('chunk must be 1 byte .. 1 MiB');
    this.#sha.update(chunk);
    this.#totalBytes += chunk.length;
    return this.#seal(0, chunk);
  }

  // A data frame whose content is `chunk` (hashed and counted) sent as
  // `compressed`, which the caller made (the page has no zstd encoder);
  // tests pass a `compressed` of other content to play a lying agent.
  sealCompressedForTest(chunk, compressed) {
    this.#sha.update(chunk);
    this.#totalBytes += chunk.length;
    return this.#seal(FLAG_COMPRESSED, compressed);
  }

  sealTrailer() {
    return this.sealTrailerForTest(this.#totalBytes, this.#sha.finish());
  }

  // A trailer claiming other figures, so tests can check that a lying one is
  // refused. Never call it outside tests.
  sealTrailerForTest(totalBytes, digest) {
    const trailer = new Uint8Array(TRAILER_BYTES);
    putU64(trailer, 0, totalBytes);
    trailer.set(digest, 8);
    const frame = this.#seal(FLAG_FINAL, trailer);
    this.#finished = true;
    return frame;
  }

  // The agent's authenticated last word: {"v":1,"error":CODE,"message":TEXT}.
  sealAbort(code, message) {
    let text = utf8(JSON.stringify({ error: code, message, v: VERSION }));
    if (text.length > MAX_ABORT_BYTES) {
      text = utf8(JSON.stringify({ error: code.slice(0, 64), message: '(reason too long)', v: VERSION }));
    }
    const frame = this.#seal(FLAG_FINAL | FLAG_ERROR, text);
    this.#finished = true;
    return frame;
  }

  #seal(flags, plaintext) {
    if (this.#finished) throw new Error('nothing may be sealed after the final frame');
    const frame = new Uint8Array(FRAME_OVERHEAD_BYTES + plaintext.length);
    frame[0] = VERSION;
    frame[1] = flags;
    putU64(frame, FRAME_INDEX_OFFSET, this.#nextIndex);
    const nonce = sodium.randombytes_buf(FRAME_NONCE_BYTES);
    frame.set(nonce, FRAME_NONCE_OFFSET);
    const sealed = sodium.crypto_aead_xchacha20poly1305_ietf_encrypt(plaintext, makeAd(this.#h, frame), null, nonce,
                                                                     this.#key);
    frame.set(sealed, FRAME_HEADER_BYTES);
    ++this.#nextIndex;
    return frame;
  }
}

// FrameOpener's options for the frames `answer` announced: its chunk size,
// `decompressor` only when it agreed compression, and a hasher from
// `makeHasher()` when given.
export function openerOptions(answer, { decompressor = null, makeHasher = null } = {}) {
  return { hasher: makeHasher?.() ?? null, chunkBytes: answer.chunkSize,
           decompressor: answer.compression ? decompressor : null };
}

// Requester side. Opens the frames of one transfer, enforcing order, and
// reports complete only once the trailer verified against everything opened.
// After any error it stays failed: every later call throws the same error.
//
// The running SHA-256 is `options.hasher` ({update(bytes), finish() → the
// digest or a Promise of it}; default a Sha256 here). With a hasher whose
// digest comes later (RemoteSha256: hashing in a second Worker, in parallel
// with decryption), open() returns the trailer as {kind: 'trailer',
// verified: Promise}: the opener is complete only once that resolves, and it
// rejects (and the opener fails) with trailer_mismatch. Meanwhile nothing
// more is accepted (after_end) and finish() throws truncated.
//
// The answer's agreement is `options.chunkBytes` (no data frame opens to
// more; default 1 MiB) and `options.decompressor` ({decompress(bytes,
// limit) → Uint8Array of at most `limit` bytes, or null when the bytes are
// not zstd or would decompress to more}, from zstd.js), given only when the
// answer agreed compression (docs/protocol.md §3.1).
//
// Error codes (SealrelayError.code), as crypto/frames.h:
//   bad_frame        malformed header or size; a data frame larger than the
//                    chunk size, compressed when that was not agreed, or
//                    whose compressed content is not valid or would
//                    decompress past the chunk size
//   out_of_order     index other than the next one (reordered, dropped, duplicated)
//   tampered         did not authenticate (changed bytes, other transfer, wrong key)
//   after_end        a frame after the trailer
//   trailer_mismatch the trailer's byte count or SHA-256 differs from what arrived
//   aborted          the agent sent an abort frame; the error also carries
//                    agentCode and agentMessage
//   truncated        (finish) the stream ended before the trailer verified
//   hash_failed      the hasher could not give the digest (its Worker died):
//                    a local failure, not the relay's
export class FrameOpener {
  #key;
  #h;
  #nextIndex;
  #totalBytes = 0;
  #sha;
  #complete = false;
  #trailerSeen = false;   // the trailer arrived (verified or being verified)
  #failed = null;
  #chunkBytes;
  #decompressor;

  constructor(keys, firstIndex = 0, { hasher = null, chunkBytes = MAX_CHUNK_BYTES, decompressor = null } = {}) {
    checkKeys(keys);
    this.#key = Uint8Array.from(keys.frameKey);
    this.#h = Uint8Array.from(keys.handshakeHash);
    this.#nextIndex = BigInt(firstIndex);
    this.#sha = hasher ?? new Sha256();
    this.#chunkBytes = chunkBytes;
    this.#decompressor = decompressor;
  }

  get complete() {
    return this.#complete;
  }

  // BigInt: the index the next frame must carry.
  get nextIndex() {
    return this.#nextIndex;
  }

  get totalBytes() {
    return this.#totalBytes;
  }

  // Feeds content already held (a resumed download) into the hash and count.
  absorbPrefix(bytes) {
    this.#sha.update(bytes);
    this.#totalBytes += bytes.length;
  }

  // Continues the content of `previous`: the opener of an earlier transfer of
  // the same file, stopped cleanly after whole chunks (the relay lost the
  // stream), when a new transfer resumes at previous.totalBytes. Its byte
  // count and running SHA-256 (whichever hasher it has) carry over, so this
  // transfer's trailer is checked against the whole file, as absorbPrefix()
  // would with the bytes re-read. Call before the first open(); `previous`
  // is unusable afterwards.
  continueFrom(previous) {
    if (!(previous instanceof FrameOpener) || previous.#failed || previous.#complete || previous.#trailerSeen) {
      throw new TypeError('continueFrom needs an opener that neither failed nor completed');
    }
    if (this.#totalBytes !== 0 || this.#failed || this.#complete) throw new TypeError('continueFrom on a used opener');
    this.#sha = previous.#sha;
    this.#totalBytes = previous.#totalBytes;
    previous.#sha = null;
    previous.#failed = new SealrelayError('bad_frame', 'this opener was handed over to a resumed transfer');
  }

  // Opens `frame`: {kind: 'data', chunk} with the plaintext to keep, or
  // {kind: 'trailer'} once the whole content verified ({kind: 'trailer',
  // verified} with a hasher whose digest comes later, see above). Throws
  // SealrelayError; nothing of a frame that fails is released.
  open(frame) {
    if (this.#failed) throw this.#failed;
    if (this.#trailerSeen) this.#fail('after_end', 'a frame arrived after the trailer');
    if (!(frame instanceof Uint8Array) || frame.length < FRAME_OVERHEAD_BYTES || frame.length > MAX_FRAME_BYTES) {
      this.#fail('bad_frame', 'frame has an impossible size');
    }
    const flags = frame[1];
    const final = (flags & FLAG_FINAL) !== 0;
    const aborting = (flags & FLAG_ERROR) !== 0;
    const compressed = (flags & FLAG_COMPRESSED) !== 0;
    if (frame[0] !== VERSION || (flags & ~(FLAG_FINAL | FLAG_ERROR | FLAG_COMPRESSED)) !== 0 ||
        (aborting && !final) || (compressed && final)) {
      this.#fail('bad_frame', 'frame has an unknown version or flags');
    }
    if (compressed && !this.#decompressor) {
      this.#fail('bad_frame', 'a compressed frame arrived, but compression was not agreed for this transfer');
    }
    const plainSize = frame.length - FRAME_OVERHEAD_BYTES;
    const sizeOk = aborting ? plainSize > 0 && plainSize <= MAX_ABORT_BYTES
                 : final ? plainSize === TRAILER_BYTES
                 : plainSize > 0 && plainSize <= this.#chunkBytes;
    if (!sizeOk) this.#fail('bad_frame', 'frame has an impossible size');
    const index = getU64(frame, FRAME_INDEX_OFFSET);
    if (index !== this.#nextIndex) {
      this.#fail('out_of_order', `frame ${index} arrived where frame ${this.#nextIndex} was due (reordered, ` +
                                 'dropped or duplicated)');
    }

    let chunk;
    try {
      chunk = sodium.crypto_aead_xchacha20poly1305_ietf_decrypt(
          null, frame.subarray(FRAME_HEADER_BYTES), makeAd(this.#h, frame),
          frame.subarray(FRAME_NONCE_OFFSET, FRAME_HEADER_BYTES), this.#key);
    } catch {
      this.#fail('tampered', `frame ${index} failed authentication (altered, or not from this transfer)`);
    }
    ++this.#nextIndex;
    if (aborting) this.#abort(chunk);
    if (!final) {
      // Authenticated, so the agent's: one that would grow past the chunk
      // (a bomb, or a lying agent) is refused, nothing of it released.
      if (compressed) {
        let content = null;
        try {
          content = this.#decompressor.decompress(chunk, this.#chunkBytes);
        } catch {
          content = null;
        }
        if (!content || content.length === 0 || content.length > this.#chunkBytes) {
          this.#fail('bad_frame', `frame ${index} is compressed content that is not valid zstd or would ` +
                                  `decompress to more than the agreed chunk size (${this.#chunkBytes} bytes)`);
        }
        chunk = content;
      }
      this.#sha.update(chunk);
      this.#totalBytes += chunk.length;
      return { kind: 'data', chunk };
    }

    this.#trailerSeen = true;
    const digest = this.#sha.finish();
    if (typeof digest?.then !== 'function') {
      this.#checkTrailer(chunk, digest);
      return { kind: 'trailer' };
    }
    const verified = digest.then((d) => this.#checkTrailer(chunk, d), (err) => {
      throw this.#failed ?? this.#makeError('hash_failed', 'the SHA-256 of the content could not be computed: ' +
                                                           `${err?.message ?? err}`);
    });
    return { kind: 'trailer', verified };
  }

  // The trailer's plaintext against what arrived; the opener is complete
  // when they agree, failed (and this throws) when not.
  #checkTrailer(trailer, digest) {
    if (this.#failed) throw this.#failed;
    const claimedBytes = getU64(trailer, 0);
    const same = claimedBytes === BigInt(this.#totalBytes) && sodium.memcmp(digest, trailer.subarray(8));
    if (!same) {
      this.#fail('trailer_mismatch', "the trailer's byte count or SHA-256 does not match what arrived (" +
                                     `${this.#totalBytes} bytes received, ${claimedBytes} announced)`);
    }
    this.#complete = true;
  }

  // Call at the end of the stream: throws `truncated` unless the trailer
  // verified (or the earlier error).
  finish() {
    if (this.#failed) throw this.#failed;
    if (!this.#complete) {
      throw new SealrelayError('truncated', 'the stream ended before the trailer: the content is incomplete (' +
                                            `${this.#totalBytes} bytes so far)`);
    }
  }

  #abort(plaintext) {
    let code = 'unknown', message = '';
    try {
      const reason = JSON.parse(fromUtf8(plaintext));
      if (reason !== null && typeof reason === 'object' && !Array.isArray(reason) &&
          typeof reason.error === 'string') {
        code = reason.error;
        if (typeof reason.message === 'string') message = reason.message;
      }
    } catch {
      // An unreadable reason is still an abort; the code stays "unknown".
    }
    const err = this.#makeError('aborted', `the agent stopped the transfer: ${message} (${code})`);
    err.agentCode = code;
    err.agentMessage = message;
    throw err;
  }

  #makeError(code, message) {
    this.#failed = new SealrelayError(code, message);
    return this.#failed;
  }

  #fail(code, message) {
    throw this.#makeError(code, message);
  }
}
