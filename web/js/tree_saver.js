// Where a folder download goes (docs/protocol.md §4.5; the page's side of
// requester/tree_writer.h): a TreeDecoder visitor that writes each entry
// into a folder the person picked (File System Access,
// showDirectoryPicker), and gives a file its final name only after its own
// SHA-256 verified.
//
// Names reach this module only after tree_stream.js checked them (no
// absolute path, no `..` or `.`, no empty component, no control character,
// no `/` or `\` inside a component). The File System Access API then goes
// by one name at a time from the picked folder's handle, so nothing can land
// outside it: there is no path to resolve and no symlink to follow. A name
// the local file system cannot hold (the browser refuses it) fails that
// entry, reported, never renamed silently.
//
// Each file is written to a temporary name in its folder,
// `.sealrelay-part-N`, and moved to its name once its FILE_END's SHA-256
// matched what arrived (copied, then the temporary removed, where the
// browser has no move()). A file with another status, a wrong SHA-256, or a
// name the disk refuses is removed and listed in the summary; the rest go
// on. Modes and mtimes are not kept: the API sets neither.
import { hex } from './bytes.js';
import { Sha256 } from './sha256.js';

export function canPickFolder() {
  return typeof globalThis.showDirectoryPicker === 'function';
}

export class FolderSaver {
  #root;
  #branch = [];          // [{path, handle}] of the folders of the current branch, outermost first
  #file = null;          // {path, name, folder, temp, writable, sha, bytes, size, failed}
  #temps = 0;
  #onProgress;
  summary = { files: 0, dirs: 0, bytes: 0, expectedFiles: 0, skipped: [], failed: [], end: null };

  // root: a FileSystemDirectoryHandle (the picked folder); onProgress({files,
  // bytes, path}) after each file and with each write.
  constructor(root, { onProgress = null } = {}) {
    this.#root = root;
    this.#onProgress = onProgress;
  }

  async onDir({ path }) {
    const { folder, name } = this.#place(path);
    if (!folder) return this.#fail(path, 'its folder could not be created');
    try {
      this.#branch.push({ path, handle: await folder.getDirectoryHandle(name, { create: true }) });
      ++this.summary.dirs;
    } catch (err) {
      this.#fail(path, localReason(err));
    }
  }

  async onFile({ path, size, offset }) {
    const { folder, name } = this.#place(path);
    const file = { path, name, folder, temp: null, writable: null, sha: new Sha256(), bytes: 0, size, failed: null };
    this.#file = file;
    if (offset !== 0) file.failed = 'a resumed file, which this page does not ask for';
    else if (!folder) file.failed = 'its folder could not be created';
    if (file.failed) return;
    try {
      file.temp = await folder.getFileHandle(`.sealrelay-part-${++this.#temps}`, { create: true });
      file.writable = await file.temp.createWritable();
    } catch (err) {
      file.failed = localReason(err);
    }
  }

  async onData(bytes) {
    const file = this.#file;
    file.sha.update(bytes);
    file.bytes += bytes.length;
    if (file.failed) return;
    try {
      await file.writable.write(bytes);
    } catch (err) {
      file.failed = localReason(err);
    }
    this.#onProgress?.({ files: this.summary.files, bytes: this.summary.bytes + file.bytes, path: file.path });
  }

  async onFileEnd({ status, sha256 }) {
    const file = this.#file;
    this.#file = null;
    const digest = file.sha.finish();
    if (!file.failed && status !== 'ok') file.failed = status;
    if (!file.failed && hex(digest) !== hex(sha256)) {
      file.failed = 'its content does not match its SHA-256 (the agent read a changing file, or lied)';
    }
    if (!file.failed) file.failed = await this.#commit(file);
    if (file.failed) {
      await discard(file);
      (status === 'ok' ? this.summary.failed : this.summary.skipped).push({ path: file.path, reason: file.failed });
      return;
    }
    ++this.summary.files;
    this.summary.bytes += file.bytes;
    this.#onProgress?.({ files: this.summary.files, bytes: this.summary.bytes, path: file.path });
  }

  onSkip({ path, reason }) {
    this.summary.skipped.push({ path, reason });
  }

  onEnd(end) {
    this.summary.end = end;
  }

  // The temporary file gets its final name; returns null, or why it could not.
  async #commit(file) {
    try {
      await file.writable.close();
      file.writable = null;
      if (await exists(file.folder, file.name, 'directory')) return 'a folder of that name is already there';
      if (typeof file.temp.move === 'function') {
        await file.folder.removeEntry(file.name).catch(() => {});
        await file.temp.move(file.name);
      } else {
        const target = await (await file.folder.getFileHandle(file.name, { create: true })).createWritable();
        await (await file.temp.getFile()).stream().pipeTo(target);
        await file.folder.removeEntry(file.temp.name);
      }
      file.temp = null;
      return null;
    } catch (err) {
      return localReason(err);
    }
  }

  // The folder handle `path` goes into (a folder of the current branch, or
  // the picked one) and its last component; folder null when its folder
  // failed (the decoder saw its DIR, so it is on the branch or was refused).
  #place(path) {
    const cut = path.lastIndexOf('/');
    const parent = path.slice(0, Math.max(cut, 0));
    while (this.#branch.length > 0 && !path.startsWith(`${this.#branch.at(-1).path}/`)) this.#branch.pop();
    const top = this.#branch.at(-1);
    const folder = cut < 0 ? this.#root : top?.path === parent ? top.handle : null;
    return { folder, name: path.slice(cut + 1) };
  }

  #fail(path, reason) {
    this.summary.failed.push({ path, reason });
  }
}

async function discard(file) {
  await file.writable?.abort().catch(() => {});
  if (file.temp) await file.folder.removeEntry(file.temp.name).catch(() => {});
}

async function exists(folder, name, kind) {
  try {
    await (kind === 'directory' ? folder.getDirectoryHandle(name) : folder.getFileHandle(name));
    return true;
  } catch {
    return false;
  }
}

// What the browser's refusal says, for the summary.
function localReason(err) {
  if (err?.name === 'TypeError') return 'a name this browser or file system cannot hold';
  if (err?.name === 'QuotaExceededError') return 'the disk is full';
  if (err?.name === 'TypeMismatchError') return 'a file or folder of another kind has that name';
  return `the browser could not write it (${err?.name ?? 'error'}: ${err?.message ?? err})`;
}
