// The download Worker: runs transfer.js (handshake, SSE, decryption,
// verification) off the page's main thread and hands the plaintext over in
// order, with flow control so a slow writer on the page (disk, memory)
// holds the relay's stream back instead of piling chunks up in memory.
//
// Start it as a module worker:
//   new Worker(new URL('./transfer_worker.js', import.meta.url), { type: 'module' })
// and talk to it with transfer_client.js. Message protocol (each carries the
// caller's `id`):
//   page → worker  {type: 'start', id, options}   options as runTransfer's, minus
//                                                 callbacks, sink, fetch and signal
//                  {type: 'ack', id, chunks}      the page has consumed `chunks` chunks
//                  {type: 'cancel', id}
//                  {type: 'hasher', port}         a MessagePort to hash_worker.js: downloads
//                                                 started afterwards hash there, in parallel
//                  {type: 'hasher-lost', message} that Worker died: downloads hashing there fail
//   worker → page  {type: 'ready'}                once, when it listens (no id)
//                  {type: 'transfer', id, transferId}
//                  {type: 'answer', id, answer}
//                  {type: 'chunk', id, chunk}     (its buffer is transferred, not copied)
//                  {type: 'progress', id, bytes, size, frames}
//                  {type: 'resumed', id, bytes, code, message}   a new transfer goes on from `bytes`
//                  {type: 'done', id, result}     after the trailer verified; for a
//                                                 list, result.entries is the listing
//                  {type: 'error', id, error: {kind, code, message, status, agentCode, agentMessage}}
import { HashClient } from './remote_sha256.js';
import { listDirectory, runTransfer } from './transfer.js';

// Chunks handed to the page and not yet acknowledged, at most.
export const WINDOW_CHUNKS = 8;
// Chunks handed to the hash Worker and not yet hashed, at most.
export const HASH_WINDOW_CHUNKS = 8;

// Serves transfers on `port` (the worker's global scope, or a MessagePort in
// tests). `fetch` and `sleep` are injectable for tests.
export function attach(port, { fetch = undefined, sleep = undefined } = {}) {
  const running = new Map();  // id → {controller, inflight, wake}
  let hashes = null;          // HashClient, once the page connected a hash Worker

  port.addEventListener('message', (event) => {
    const msg = event.data;
    const t = running.get(msg?.id);
    if (msg?.type === 'hasher' && msg.port) hashes = new HashClient(msg.port);
    else if (msg?.type === 'hasher-lost') {
      hashes?.fail(new Error(msg.message ?? 'the hash worker stopped'));
      hashes = null;
    } else if (msg?.type === 'start' && !t) start(msg.id, msg.options);
    else if (msg?.type === 'ack' && t) {
      t.inflight = Math.max(0, t.inflight - (msg.chunks ?? 1));
      t.wake?.();
    } else if (msg?.type === 'cancel' && t) {
      t.controller.abort();
      t.wake?.();
    }
  });
  port.start?.();

  function start(id, options) {
    const t = { controller: new AbortController(), inflight: 0, wake: null };
    running.set(id, t);
    const post = (message, transfer = []) => port.postMessage({ id, ...message }, transfer);
    // A get hashes in the hash Worker when there is one (a listing is small).
    const hashesNow = options.request?.op === 'get' ? hashes : null;
    let sha = null;
    const sink = {
      async write(chunk) {
        await sha?.drain(HASH_WINDOW_CHUNKS);
        while (t.inflight >= WINDOW_CHUNKS && !t.controller.signal.aborted) {
          await new Promise((resolve) => { t.wake = resolve; });
          t.wake = null;
        }
        ++t.inflight;
        // A chunk that owns its whole buffer can be transferred.
        const own = chunk.byteOffset === 0 && chunk.byteLength === chunk.buffer.byteLength ? chunk : chunk.slice();
        post({ type: 'chunk', chunk: own }, [own.buffer]);
      },
    };
    const run = options.request?.op === 'list' ? listDirectory : runTransfer;
    run({
      ...options,
      fetch,
      sleep,
      signal: t.controller.signal,
      openSink: () => sink,
      makeHasher: hashesNow ? () => (sha = hashesNow.session()) : undefined,
      onTransferId: (transferId) => post({ type: 'transfer', transferId }),
      onAnswer: (answer) => post({ type: 'answer', answer }),
      onProgress: ({ bytes, size, frames }) => post({ type: 'progress', bytes, size, frames }),
      onResume: ({ bytes, code, message }) => post({ type: 'resumed', bytes, code, message }),
    }).then(
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
