// The hash Worker: computes the running SHA-256 of a download's plaintext
// in a thread of its own, in parallel with the decryption Worker
// (transfer_worker.js), which hands it a copy of every chunk it opened and
// asks for the digest when the trailer arrives (RemoteSha256 in
// remote_sha256.js). SHA-256 costs about as much as the AEAD in the
// browser, so this takes half of the per-byte work off the decryption
// thread (docs/performance.md). Nothing here is secret beyond the content
// itself, which the decryption Worker holds anyway; no libsodium.
//
// Served on a MessagePort the page connects to the decryption Worker
// (transfer_client.js, openTransferWorker). Sessions are multiplexed by `s`,
// messages on a port arrive in order:
//   → {type: 'update', s, bytes}   bytes (Uint8Array, its buffer transferred) go into session s,
//                                  which starts at the first message naming it
//   ← {type: 'hashed', s, buffer}  once per update, when hashed: the sender's flow control, and
//                                  the update's buffer back (transferred) for its next copies
//   → {type: 'finish', s}          ← {type: 'digest', s, digest} (32 bytes); the session ends
//   → {type: 'drop', s}            the session ends without a digest (a failed download)
import { Sha256 } from './sha256.js';

// Serves sessions on `port` (a MessagePort); returns the map of open
// sessions, for tests.
export function serveHashes(port) {
  const sessions = new Map();   // s → Sha256
  port.addEventListener('message', (event) => {
    const msg = event.data;
    switch (msg?.type) {
      case 'update': {
        let sha = sessions.get(msg.s);
        if (!sha) sessions.set(msg.s, sha = new Sha256());
        sha.update(msg.bytes);
        const buffer = msg.bytes.buffer;
        port.postMessage({ type: 'hashed', s: msg.s, buffer }, [buffer]);
        break;
      }
      case 'finish': {
        const digest = (sessions.get(msg.s) ?? new Sha256()).finish();
        sessions.delete(msg.s);
        port.postMessage({ type: 'digest', s: msg.s, digest }, [digest.buffer]);
        break;
      }
      case 'drop':
        sessions.delete(msg.s);
        break;
      default:
        break;
    }
  });
  port.start?.();
  return sessions;
}

// Inside a real Worker: the page sends {type: 'connect', port} once, with
// the port whose other end the decryption Worker holds. Says 'ready' first,
// as transfer_worker.js does, so the page never posts into the void.
if (typeof WorkerGlobalScope !== 'undefined' && globalThis instanceof WorkerGlobalScope) {
  globalThis.addEventListener('message', (event) => {
    if (event.data?.type === 'connect' && event.data.port) serveHashes(event.data.port);
  });
  globalThis.postMessage({ type: 'ready' });
}
