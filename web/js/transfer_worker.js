// The download Worker: runs transfer.js (handshake, event stream, decryption,
// verification) off the page's main thread and hands the plaintext over in
// order, with flow control so a slow writer on the page (disk, memory)
// holds the relay's stream back instead of piling chunks up in memory.
// The plaintext goes over in batches of about BATCH_BYTES (copied into a
// reused buffer), so the
// page makes one write per batch instead of one per 256 KiB frame: each
// write to a File System Access stream becomes a blob handed to the browser
// process, and in headless Chromium 156 2 MiB writes cost about half the CPU
// per byte (page and browser process together) of 256 KiB ones
// (docs/performance-history.md). The running SHA-256 is computed in hash_worker.js
// when the page started one (transfer_client.js), in parallel.
//
// Start it as a module worker:
//   new Worker(new URL('./transfer_worker.js', import.meta.url), { type: 'module' })
// and talk to it with transfer_client.js. Message protocol (each carries the
// caller's `id`):
//   page → worker  {type: 'start', id, options}   options as runTransfer's, minus
//                                                 callbacks, sink, fetch and signal, and
//                                                 compress: 'auto' (default: offer zstd,
//                                                 decompressed here, zstd.js) or 'off'
//                  {type: 'ack', id, chunks, buffer?}   the page has consumed `chunks` chunks;
//                                                 `buffer` (transferred): the last one's, to reuse
//                  {type: 'cancel', id}
//                  {type: 'hasher', port}         a MessagePort to hash_worker.js: downloads
//                                                 started afterwards hash there, in parallel
//                  {type: 'hasher-lost', message} that Worker died: downloads hashing there fail
//   worker → page  {type: 'ready'}                once, when it listens (no id)
//                  {type: 'stamp', id, stamp}     a message 1 timestamp used (the page keeps it)
//                  {type: 'transfer', id, transferId}
//                  {type: 'answer', id, answer}
//                  {type: 'chunk', id, chunk}     plaintext in order, frames joined up to
//                                                 BATCH_BYTES (its buffer is transferred)
//                  {type: 'progress', id, bytes, size, frames}
//                  {type: 'resumed', id, bytes, code, message}   a new transfer goes on from `bytes`
//                  {type: 'done', id, result}     after the trailer verified; for a
//                                                 list, result.entries is the listing
//                  {type: 'error', id, error: {kind, code, message, status, agentCode, agentMessage}}
import { MAX_CHUNK_BYTES } from './protocol.js';
import { HashClient } from './remote_sha256.js';
import { listDirectory, runTransfer } from './transfer.js';
import { loadZstd } from './zstd.js';

// Chunk messages (batches) handed to the page and not yet acknowledged, at most.
export const WINDOW_CHUNKS = 4;
// Plaintext joined into one chunk message once it reaches this size (the
// last one of a download may be shorter).
export const BATCH_BYTES = 2 * 1024 * 1024;
// Plaintext handed to the hash Worker and not yet hashed, at most (bytes):
// room for a scheduling hiccup of the hash Worker on a busy machine.
export const HASH_WINDOW_BYTES = 8 * 1024 * 1024;

// Serves transfers on `port` (the worker's global scope, or a MessagePort in
// tests); returns a handle for tests. `fetch` and `sleep` are injectable for tests, and so are
// `batchBytes` (0: every frame's plaintext goes over on its own) and
// `hashWindowBytes`.
export function attach(port, { fetch = undefined, sleep = undefined, batchBytes = BATCH_BYTES,
                               hashWindowBytes = HASH_WINDOW_BYTES } = {}) {
  const running = new Map();  // id → {controller, inflight, wake}
  let hashes = null;          // HashClient, once the page connected a hash Worker
  // Batches are copied into buffers of `capacity` bytes, which the page may
  // send back with its ack: kept here for the next batches (at most a
  // window's worth), so a download does not allocate (and the kernel zero)
  // fresh memory for every batch.
  const capacity = Math.max(batchBytes, MAX_CHUNK_BYTES);
  const pool = [];

  port.addEventListener('message', (event) => {
    const msg = event.data;
    const t = running.get(msg?.id);
    if (msg?.type === 'hasher' && msg.port) hashes = new HashClient(msg.port);
    else if (msg?.type === 'hasher-lost') {
      hashes?.fail(new Error(msg.message ?? 'the hash worker stopped'));
      hashes = null;
    } else if (msg?.type === 'start' && !t) start(msg.id, msg.options);
    else if (msg?.type === 'ack') {
      if (msg.buffer?.byteLength === capacity && pool.length <= WINDOW_CHUNKS) pool.push(msg.buffer);
      if (!t) return;
      t.inflight = Math.max(0, t.inflight - (msg.chunks ?? 1));
      t.wake?.();
    } else if (msg?.type === 'cancel' && t) {
      t.controller.abort();
      t.wake?.();
    }
  });
  port.start?.();
  return { pooledBuffersForTest: () => pool.length };

  function start(id, options) {
    const t = { controller: new AbortController(), inflight: 0, wake: null };
    running.set(id, t);
    const post = (message, transfer = []) => port.postMessage({ id, ...message }, transfer);
    // A get or a tree hashes in the hash Worker when there is one (a listing is small).
    const hashesNow = ['get', 'tree'].includes(options.request?.op) ? hashes : null;
    let sha = null;
    // The plaintext not yet handed over, in order: batch[0, batchLength).
    let batch = null;
    let batchLength = 0;
    // Hands the batch to the page once the window allows; the page writes
    // it and acknowledges (returning the buffer for reuse when it can).
    const flush = async () => {
      if (batchLength === 0) return;
      while (t.inflight >= WINDOW_CHUNKS && !t.controller.signal.aborted) {
        await new Promise((resolve) => { t.wake = resolve; });
        t.wake = null;
      }
      ++t.inflight;
      const out = batch.subarray(0, batchLength);
      batch = null;
      batchLength = 0;
      post({ type: 'chunk', chunk: out }, [out.buffer]);
    };
    const sink = {
      async write(chunk) {
        await sha?.drain(hashWindowBytes);
        if (batchLength + chunk.length > capacity) await flush();
        batch ??= new Uint8Array(pool.pop() ?? new ArrayBuffer(capacity));
        batch.set(chunk, batchLength);
        batchLength += chunk.length;
        if (batchLength >= batchBytes) await flush();
      },
      // The stream finished and the trailer verified: the rest goes over
      // before 'done'.
      close: flush,
    };
    const run = options.request?.op === 'list' ? listDirectory : runTransfer;
    // Without a decoder (its WebAssembly failed to load) compression is
    // simply not offered.
    const decoder = options.compress === 'off' ? Promise.resolve(null) : loadZstd().catch(() => null);
    decoder.then((decompressor) => run({
      ...options,
      decompressor,
      fetch,
      sleep,
      signal: t.controller.signal,
      openSink: () => sink,
      makeHasher: hashesNow ? () => (sha = hashesNow.session()) : undefined,
      onStamp: (stamp) => post({ type: 'stamp', stamp }),
      onTransferId: (transferId) => post({ type: 'transfer', transferId }),
      onAnswer: (answer) => post({ type: 'answer', answer }),
      onProgress: ({ bytes, size, frames }) => post({ type: 'progress', bytes, size, frames }),
      onResume: ({ bytes, code, message }) => post({ type: 'resumed', bytes, code, message }),
    })).then(
      (result) => post({ type: 'done', result }),
      (err) => post({ type: 'error', error: {
        kind: err.kind ?? 'local', code: err.code ?? 'local_error', message: err.message, status: err.status ?? null,
        agentCode: err.agentCode ?? null, agentMessage: err.agentMessage ?? null,
      } }),
    ).finally(() => {
      sha?.dispose();   // a no-op once the digest came
      running.delete(id);
    });
  }
}

// Inside a real Worker, serve on its global scope, then say so: this module
// waits for libsodium (top-level await) before attach() runs, and a message
// the page posted before that would find no listener and be lost. The page
// waits for 'ready' (transfer_client.js, openTransferWorker).
if (typeof WorkerGlobalScope !== 'undefined' && globalThis instanceof WorkerGlobalScope) {
  attach(globalThis);
  globalThis.postMessage({ type: 'ready' });
}
