// The page's keys, kept in this browser's IndexedDB (database "sealrelay"):
//
//   identity  {id: 'self', privateKey, publicKey (Uint8Array, 32 bytes each), created (ms)}
//             this browser's X25519 identity, made on first visit. It never
//             leaves the browser except to the transfer Worker of this page.
//   pins      {agent, publicKey (base64), fingerprint, pinned (ms)}
//             the agent keys this browser trusts, as the CLI's known_agents:
//             the relay's directory is a hint, these pins are the authority.
//
// Beside them, in localStorage: the last message 1 timestamp used per agent
// (RequestClock, below).
//
// IndexedDB is per origin: every page of the relay's origin can read these.
// docs/web.md says what that means for trust.

import { AGENT_ID_RULE, validAgentId } from './protocol.js';

const DB_NAME = 'sealrelay';
const DB_VERSION = 1;

function promised(request) {
  return new Promise((resolve, reject) => {
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
}

function done(tx) {
  return new Promise((resolve, reject) => {
    tx.oncomplete = () => resolve();
    tx.onabort = () => reject(tx.error ?? new Error('the IndexedDB transaction was aborted'));
    tx.onerror = () => reject(tx.error);
  });
}

export class Keystore {
  #db;

  constructor(db) {
    this.#db = db;
  }

  // Opens (and on first use creates) the database. Fails when the browser
  // keeps no storage (some private modes): the page cannot work then.
  static async open() {
    if (typeof indexedDB === 'undefined') throw new Error('this browser has no IndexedDB');
    const request = indexedDB.open(DB_NAME, DB_VERSION);
    request.onupgradeneeded = () => {
      const db = request.result;
      if (!db.objectStoreNames.contains('identity')) db.createObjectStore('identity', { keyPath: 'id' });
      if (!db.objectStoreNames.contains('pins')) db.createObjectStore('pins', { keyPath: 'agent' });
    };
    return new Keystore(await promised(request));
  }

  // This browser's identity {privateKey, publicKey, created}; made with
  // `generate()` (synchronous) on first use. One transaction, so two tabs
  // opened at once end up with the same key.
  async identity(generate) {
    const tx = this.#db.transaction('identity', 'readwrite');
    const store = tx.objectStore('identity');
    const result = new Promise((resolve, reject) => {
      const get = store.get('self');
      get.onerror = () => reject(get.error);
      get.onsuccess = () => {
        if (get.result) return resolve(get.result);
        const made = { id: 'self', ...generate(), created: Date.now() };
        store.put(made);
        resolve(made);
      };
    });
    await done(tx);
    const { privateKey, publicKey, created } = await result;
    return { privateKey, publicKey, created };
  }

  // The pin of `agent`, or null.
  async pin(agent) {
    const tx = this.#db.transaction('pins', 'readonly');
    return (await promised(tx.objectStore('pins').get(agent))) ?? null;
  }

  // Every pin, as a Map agent → pin.
  async pins() {
    const tx = this.#db.transaction('pins', 'readonly');
    const all = await promised(tx.objectStore('pins').getAll());
    return new Map(all.map((p) => [p.agent, p]));
  }

  // Pins (or re-pins) `agent` to `publicKey` (base64).
  async setPin(agent, publicKey, fingerprint) {
    const tx = this.#db.transaction('pins', 'readwrite');
    tx.objectStore('pins').put({ agent, publicKey, fingerprint, pinned: Date.now() });
    await done(tx);
  }

  async removePin(agent) {
    const tx = this.#db.transaction('pins', 'readwrite');
    tx.objectStore('pins').delete(agent);
    await done(tx);
  }
}

// What a pin says about the key the relay's directory advertises for an
// agent (both base64, either may be null):
//   'pinned'    the pin and the directory agree
//   'unpinned'  no pin yet: first contact pins the advertised key
//   'changed'   the directory shows another key: refuse, loudly
//   'unlisted'  pinned, but the directory shows no key (agent never seen
//               by this relay); the pin is used as it is
export function pinState(pinnedKey, advertisedKey) {
  if (!pinnedKey) return 'unpinned';
  if (!advertisedKey) return 'unlisted';
  return pinnedKey === advertisedKey ? 'pinned' : 'changed';
}

// The relay's directory (GET /v1/agents) as the page accepts it: only
// entries whose id follows the agent-id grammar (protocol.js validAgentId,
// as base/ids.h), each id once. An id becomes a pin's key and text on the
// screen, so the others are refused here, before anything uses them:
// {agents, refused: [{id, why}]} (`id` as received: show it escaped, e.g.
// JSON.stringify, and only through textContent).
export function acceptDirectory(entries) {
  const agents = [];
  const refused = [];
  const seen = new Set();
  for (const a of Array.isArray(entries) ? entries : []) {
    const id = a?.id;
    if (!validAgentId(id)) refused.push({ id, why: `its id breaks the id rule (${AGENT_ID_RULE})` });
    else if (seen.has(id)) refused.push({ id, why: 'it is listed a second time' });
    else {
      seen.add(id);
      agents.push(a);
    }
  }
  return { agents, refused };
}

// Message 1's timestamps (unix ms), as the CLI's TimestampSource
// (requester/transfer.h): the wall clock, but never at or below one this
// browser already used with the agent. The agent's replay guard refuses a
// timestamp it has seen, or one more than a minute below the newest it
// accepted: with Date.now() alone a clock stepped back (NTP, by hand) locks
// the page out. Stamps stay close to real time (the agent also refuses
// stamps far from its own clock): ahead of it only by what a step back took
// away, and only until the clock catches up. Kept per agent in `storage`
// (localStorage, shared by the page's tabs; in memory when there is none).
export class RequestClock {
  #storage;
  #now;
  #memory = new Map();

  constructor(storage = null, now = Date.now) {
    this.#storage = storage;
    this.#now = now;
  }

  // The timestamp for a new transfer to `agent`, reserved at once (two tabs
  // starting in the same millisecond get different ones).
  take(agent) {
    const stamp = Math.max(Math.floor(this.#now()), this.#last(agent) + 1);
    this.used(agent, stamp);
    return stamp;
  }

  // A timestamp the transfer used (a resume makes new ones).
  used(agent, stamp) {
    if (!Number.isSafeInteger(stamp) || stamp <= this.#last(agent)) return;
    this.#memory.set(agent, stamp);
    try {
      this.#storage?.setItem(STAMP_PREFIX + agent, String(stamp));
    } catch {
      // Storage full or refused: this page still counts in memory.
    }
  }

  #last(agent) {
    let stored = 0;
    try {
      stored = Number(this.#storage?.getItem(STAMP_PREFIX + agent) ?? 0);
    } catch {
      stored = 0;
    }
    return Math.max(Number.isSafeInteger(stored) ? stored : 0, this.#memory.get(agent) ?? 0);
  }
}

const STAMP_PREFIX = 'sealrelay.request-clock.';
