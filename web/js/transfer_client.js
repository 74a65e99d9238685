// The page's side of transfer_worker.js: starts a transfer in the Worker
// and turns its messages into callbacks and a promise. No crypto here, so
// the main thread never loads libsodium for a download.
//
//   const worker = await openTransferWorker();
//   const t = startTransfer(worker, options, {
//     onChunk: async (chunk) => writer.write(chunk),   // in order; awaited before the ack
//     onAnswer, onProgress, onTransferId, onResume,
//   });
//   t.cancel();            // optional
//   const result = await t.done;   // rejects with {kind, code, message, ...}
let nextId = 1;

// Starts transfer_worker.js as a module Worker and resolves it once it
// listens (its 'ready' message); rejects {kind: 'local', code:
// 'worker_failed', message} when it cannot load (e.g. web/vendor/ missing).
export function openTransferWorker(url = new URL('./transfer_worker.js', import.meta.url)) {
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
      reject({ kind: 'local', code: 'worker_failed',
               message: `the page's decryption worker did not start (${event.message || 'it failed to load'})` });
    }, { once: true });
  });
}

export function startTransfer(worker, options, { onChunk, onAnswer, onProgress, onTransferId, onResume } = {}) {
  const id = `t${nextId++}`;
  let chain = Promise.resolve();   // chunks are written one after another, in order
  let settle;
  const done = new Promise((resolve, reject) => { settle = { resolve, reject }; });

  const onMessage = (event) => {
    const msg = event.data;
    if (msg?.id !== id) return;
    switch (msg.type) {
      case 'transfer': onTransferId?.(msg.transferId); break;
      case 'answer': onAnswer?.(msg.answer); break;
      case 'progress': onProgress?.(msg); break;
      case 'resumed': onResume?.(msg); break;
      case 'chunk':
        chain = chain.then(async () => {
          await onChunk?.(msg.chunk);
          worker.postMessage({ type: 'ack', id, chunks: 1 });
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
