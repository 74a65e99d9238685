// The page's side of transfer_worker.js: starts a transfer in the Worker
// and turns its messages into callbacks and a promise. No crypto here, so
// the main thread never loads libsodium for a download.
//
//   const worker = await openTransferWorker();
//   const t = startTransfer(worker, options, {
//     onChunk: async (chunk) => writer.write(chunk),   // in order; awaited before the ack
//     onAnswer, onProgress, onTransferId, onResume, onStamp,
//     recycle: true,                                   // onChunk keeps no chunk
//   });
//   t.cancel();            // optional
//   const result = await t.done;   // rejects with {kind, code, message, ...}
let nextId = 1;

// Starts transfer_worker.js as a module Worker, and hash_worker.js beside
// it (downloads then hash in parallel with decryption; docs/web.md), and
// resolves the decryption Worker once both listen. Rejects {kind: 'local',
// code: 'worker_failed', message} when the decryption Worker cannot load
// (e.g. web/vendor/ missing); without the hash Worker, downloads hash in the
// decryption Worker as before.
export async function openTransferWorker(url = new URL('./transfer_worker.js', import.meta.url),
                                         hashUrl = new URL('./hash_worker.js', import.meta.url)) {
  const worker = await startWorker(url).catch((message) => {
    throw { kind: 'local', code: 'worker_failed', message: `the page's decryption worker did not start (${message})` };
  });
  const hasher = hashUrl ? await startWorker(hashUrl).catch(() => null) : null;
  if (hasher) {
    const { port1, port2 } = new MessageChannel();
    hasher.postMessage({ type: 'connect', port: port1 }, [port1]);
    worker.postMessage({ type: 'hasher', port: port2 }, [port2]);
    hasher.addEventListener('error', (event) => {
      hasher.terminate();
      worker.postMessage({ type: 'hasher-lost', message: `the hash worker stopped (${event.message || 'error'})` });
    });
    hashWorkers.set(worker, hasher);
  }
  return worker;
}

// Each decryption Worker's hash Worker (so it lives as long as the other).
const hashWorkers = new WeakMap();

// A module Worker from `url`, once it said 'ready'; rejects with a reason.
function startWorker(url) {
  return new Promise((resolve, reject) => {
    const worker = new Worker(url, { type: 'module' });
    const onMessage = (event) => {
      if (event.data?.type !== 'ready') return;
      worker.removeEventListener('message', onMessage);
      resolve(worker);
    };
    worker.addEventListener('message', onMessage);
    worker.addEventListener('error', (event) => {
      worker.terminate();
      reject(event.message || 'it failed to load');
    }, { once: true });
  });
}

// `recycle`: onChunk is done with a chunk once its promise resolved (a
// stream to disk copies it), so its memory goes back to the Worker for the
// next ones; leave it false when onChunk keeps the chunk (in memory).
export function startTransfer(worker, options, { onChunk, onAnswer, onProgress, onTransferId, onResume, onStamp,
                                                 recycle = false } = {}) {
  const id = `t${nextId++}`;
  let chain = Promise.resolve();   // chunks are written one after another, in order
  let settle;
  const done = new Promise((resolve, reject) => { settle = { resolve, reject }; });

  const onMessage = (event) => {
    const msg = event.data;
    if (msg?.id !== id) return;
    switch (msg.type) {
      case 'stamp': onStamp?.(msg.stamp); break;
      case 'transfer': onTransferId?.(msg.transferId); break;
      case 'answer': onAnswer?.(msg.answer); break;
      case 'progress': onProgress?.(msg); break;
      case 'resumed': onResume?.(msg); break;
      case 'chunk':
        chain = chain.then(async () => {
          await onChunk?.(msg.chunk);
          if (recycle) worker.postMessage({ type: 'ack', id, chunks: 1, buffer: msg.chunk.buffer }, [msg.chunk.buffer]);
          else worker.postMessage({ type: 'ack', id, chunks: 1 });
        });
        chain.catch((err) => {
          worker.postMessage({ type: 'cancel', id });
          finish(() => settle.reject({ kind: 'local', code: 'local_error', message: `saving failed: ${err.message}` }));
        });
        break;
      case 'done': chain.then(() => finish(() => settle.resolve(msg.result)), () => {}); break;
      case 'error': chain.then(() => finish(() => settle.reject(msg.error)), () => {}); break;
      default: break;
    }
  };
  let finished = false;
  const finish = (how) => {
    if (finished) return;
    finished = true;
    worker.removeEventListener('message', onMessage);
    how();
  };
  worker.addEventListener('message', onMessage);
  worker.postMessage({ type: 'start', id, options });
  return { id, done, cancel: () => worker.postMessage({ type: 'cancel', id }) };
}
