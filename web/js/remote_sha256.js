// The decryption Worker's side of hash_worker.js: a SHA-256 whose blocks
// are hashed in the other Worker, in parallel with decryption. FrameOpener
// takes it as its `hasher` (frames.js): update() posts a copy of the chunk
// and returns at once, finish() resolves the digest once the other Worker
// has hashed everything before it (a port delivers in order).
//
//   const hashes = new HashClient(port);      // one per port
//   const sha = hashes.session();             // one per download
//   sha.update(chunk); ...; await sha.drain(8 << 20); ...; const digest = await sha.finish();
//
// Memory: every update not yet hashed holds a copy of its chunk in a
// message queue; drain(n) waits until at most n bytes are left, and the
// caller (transfer_worker.js) waits on it before taking more from the relay.
// The copies' buffers come back with the answers and are reused (up to
// POOL_BYTES of them kept), so a download does not allocate fresh memory
// for every frame.

// Buffers that came back from the hash Worker, kept for reuse, at most.
export const POOL_BYTES = 12 * 1024 * 1024;

// The connection to one hash Worker: routes its answers to the sessions and
// keeps the buffers they return.
export class HashClient {
  #port;
  #sessions = new Map();   // s → RemoteSha256, until finished or dropped
  #nextId = 1;
  #broken = null;          // an Error once the hash Worker is gone
  #pool = [];              // ArrayBuffers to copy the next updates into
  #pooledBytes = 0;

  constructor(port) {
    this.#port = port;
    port.addEventListener('message', (event) => {
      const msg = event.data;
      if (msg?.buffer instanceof ArrayBuffer) this.#give(msg.buffer);
      this.#sessions.get(msg?.s)?.onMessageForClient(msg);
    });
    port.start?.();
  }

  // Bytes of the buffers waiting for reuse (for tests).
  get pooledBytes() {
    return this.#pooledBytes;
  }

  // A new running SHA-256 in the hash Worker.
  session() {
    const s = this.#nextId++;
    const sha = new RemoteSha256(this.#port, s, () => this.#sessions.delete(s), (n) => this.#take(n));
    this.#sessions.set(s, sha);
    if (this.#broken) sha.onMessageForClient({ type: 'broken', error: this.#broken });
    return sha;
  }

  // A buffer of at least n bytes: a returned one when one is large enough
  // (frames of a download are all the same size), else a new one.
  #take(n) {
    while (this.#pool.length > 0) {
      const buffer = this.#pool.pop();
      this.#pooledBytes -= buffer.byteLength;
      if (buffer.byteLength >= n) return buffer;
    }
    return new ArrayBuffer(n);
  }

  #give(buffer) {
    if (buffer.byteLength === 0 || this.#pooledBytes + buffer.byteLength > POOL_BYTES) return;
    this.#pool.push(buffer);
    this.#pooledBytes += buffer.byteLength;
  }

  // The hash Worker died: every session fails (its finish() rejects and its
  // drain() resolves, so nobody waits forever), and so do later ones.
  fail(error) {
    this.#broken = error;
    for (const sha of this.#sessions.values()) sha.onMessageForClient({ type: 'broken', error });
  }
}

export class RemoteSha256 {
  #port;
  #s;
  #onEnd;
  #take;                 // n → an ArrayBuffer of at least n bytes
  #pending = [];         // sizes of the updates posted and not yet hashed, oldest first
  #pendingBytes = 0;     // their sum
  #drainWaiters = [];    // {limit, resolve}
  #digest = null;        // {resolve, reject} once finish() was called
  #ended = false;
  #broken = null;

  constructor(port, s, onEnd, take = (n) => new ArrayBuffer(n)) {
    this.#port = port;
    this.#s = s;
    this.#onEnd = onEnd;
    this.#take = take;
  }

  // Bytes posted and not yet hashed.
  get pendingBytes() {
    return this.#pendingBytes;
  }

  // Posts a copy of `bytes` (the caller keeps its own) to be hashed.
  update(bytes) {
    if (this.#ended) throw new Error('RemoteSha256: update after finish');
    if (this.#broken) return this;   // finish() will reject
    const copy = new Uint8Array(this.#take(bytes.length), 0, bytes.length);
    copy.set(bytes);
    this.#pending.push(copy.length);
    this.#pendingBytes += copy.length;
    this.#port.postMessage({ type: 'update', s: this.#s, bytes: copy }, [copy.buffer]);
    return this;
  }

  // Resolves once at most `limit` bytes wait to be hashed (at once if so).
  drain(limit) {
    if (this.#pendingBytes <= limit || this.#broken) return Promise.resolve();
    return new Promise((resolve) => this.#drainWaiters.push({ limit, resolve }));
  }

  // The 32-byte digest of everything updated, as a Promise; the session ends.
  finish() {
    if (this.#ended) throw new Error('RemoteSha256: finish twice');
    this.#ended = true;
    if (this.#broken) return Promise.reject(this.#broken);
    return new Promise((resolve, reject) => {
      this.#digest = { resolve, reject };
      this.#port.postMessage({ type: 'finish', s: this.#s });
    });
  }

  // Ends the session without a digest (the download failed or was
  // cancelled): the hash Worker forgets it. Safe to call at any time.
  dispose() {
    if (this.#ended && !this.#digest) return;
    const waiting = this.#digest;
    this.#ended = true;
    this.#digest = null;
    if (!this.#broken) this.#port.postMessage({ type: 'drop', s: this.#s });
    waiting?.reject(new Error('the hash session was dropped'));
    this.#end();
  }

  // For HashClient only: a message from the hash Worker for this session.
  onMessageForClient(msg) {
    switch (msg.type) {
      case 'hashed':
        this.#pendingBytes -= this.#pending.shift() ?? 0;
        this.#drainWaiters = this.#drainWaiters.filter((w) => {
          if (this.#pendingBytes > w.limit) return true;
          w.resolve();
          return false;
        });
        break;
      case 'digest':
        this.#digest?.resolve(msg.digest);
        this.#digest = null;
        this.#end();
        break;
      case 'broken':
        this.#broken = msg.error;
        this.#digest?.reject(msg.error);
        this.#digest = null;
        for (const w of this.#drainWaiters) w.resolve();
        this.#drainWaiters = [];
        this.#end();
        break;
      default:
        break;
    }
  }

  #end() {
    this.#onEnd?.();
    this.#onEnd = null;
  }
}
