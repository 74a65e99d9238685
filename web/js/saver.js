// Where a download goes while it arrives, and how it gets its final name
// only after the Worker verified the trailer (docs/protocol.md §3):
//
//   DiskTarget    the File System Access API (showSaveFilePicker): chunks
//                 stream to a temporary file beside the one the person
//                 chose; close() moves it into place, abort() deletes it.
//                 Any size; memory use stays at a few chunks.
//   MemoryTarget  elsewhere: chunks are kept in memory and offered as one
//                 Blob (an <a download> link) once verified, so a file must
//                 fit in memory: up to MEMORY_LIMIT_BYTES.
//
// Both have write(chunk), commit() → a sentence saying where it went, and
// discard() (idempotent, never throws).

export const MEMORY_LIMIT_BYTES = 1024 * 1024 * 1024;

export function canStreamToDisk() {
  return typeof globalThis.showSaveFilePicker === 'function';
}

export class SizeLimitError extends Error {
  constructor(size) {
    super(`this browser cannot stream to disk, so a download must fit in memory: at most 1 GiB, and this file ` +
          `has ${size} bytes. Use a browser with the File System Access API (Chromium, Edge) or the sealrelay CLI`);
    this.name = 'SizeLimitError';
    this.code = 'too_large_for_memory';
  }
}

// Asks where to save `name`. Call it first thing in the click handler: the
// save dialog needs the click's user activation. Resolves null when the
// person closes the dialog.
export async function chooseTarget(name, size) {
  if (!canStreamToDisk()) {
    if (size > MEMORY_LIMIT_BYTES) throw new SizeLimitError(size);
    return new MemoryTarget(name);
  }
  let handle;
  try {
    handle = await globalThis.showSaveFilePicker({ suggestedName: name });
  } catch (err) {
    if (err?.name === 'AbortError') return null;
    throw err;
  }
  return new DiskTarget(handle, await handle.createWritable());
}

export class DiskTarget {
  #handle;
  #writable;
  #open = true;

  constructor(handle, writable) {
    this.#handle = handle;
    this.#writable = writable;
  }

  get streaming() {
    return true;
  }

  async write(chunk) {
    await this.#writable.write(chunk);
  }

  async commit() {
    this.#open = false;
    await this.#writable.close();
    return `Saved as ${this.#handle.name}.`;
  }

  async discard() {
    if (!this.#open) return;
    this.#open = false;
    try {
      await this.#writable.abort();
    } catch {
      // Already closed or errored: nothing more to remove.
    }
  }
}

export class MemoryTarget {
  #name;
  #parts = [];
  #bytes = 0;
  url = null;   // the Blob URL once committed; revoke() frees it

  constructor(name) {
    this.#name = name;
  }

  get streaming() {
    return false;
  }

  write(chunk) {
    this.#bytes += chunk.byteLength;
    if (this.#bytes > MEMORY_LIMIT_BYTES) throw new SizeLimitError(this.#bytes);
    this.#parts.push(chunk);
  }

  // Hands the verified content to the browser's downloads (as a click on a
  // download link would).
  commit() {
    const blob = new Blob(this.#parts, { type: 'application/octet-stream' });
    this.#parts = [];
    this.url = URL.createObjectURL(blob);
    const a = document.createElement('a');
    a.href = this.url;
    a.download = this.#name;
    a.hidden = true;
    document.body.append(a);
    a.click();
    a.remove();
    return `Handed ${this.#name} to the browser's downloads.`;
  }

  discard() {
    this.#parts = [];
  }

  revoke() {
    if (this.url) URL.revokeObjectURL(this.url);
    this.url = null;
  }
}
