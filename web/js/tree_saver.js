// Where a folder download goes (docs/protocol.md §4.5; the page's side of
// requester/tree_writer.h): TreeDecoder visitors that give a file its final
// name only after its own SHA-256 verified.
//
//   FolderSaver  into a folder the person picked (File System Access,
//                showDirectoryPicker), entry by entry.
//   ZipSaver     one .zip (stored, zip64 where needed, zip.js) written as
//                it goes, e.g. to a showSaveFilePicker file. A zip cannot
//                take an entry back, so each file is staged in the
//                origin-private file system and added only once verified;
//                a file that fails never enters the zip. A stream that
//                fails (bad_tree, a cut that is not resumed) aborts the
//                whole zip, which the browser then deletes.
//
// Both fill `summary` {files, dirs, bytes, skipped, failed, end} and call
// onProgress({files, bytes, path}).
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
import { Crc32, centralHeader, endRecords, localHeader } from './zip.js';

const MAX_LISTED = 1000;
// Files up to this size are held in memory until verified, not staged on disk.
export const SMALL_FILE_BYTES = 1024 * 1024;

export function canPickFolder() {
  return typeof globalThis.showDirectoryPicker === 'function';
}

// The per-file work both savers share: stage the content under a temporary
// name, check its SHA-256, then `commit` it (the saver's) or remove it.
class Saver {
  #file = null;          // {path, name, folder, temp, writable, buffer, sha, crc, bytes, mtime, mode, failed}
  #temps = 0;
  #onProgress;
  // skipped and failed keep their first MAX_LISTED entries, then count
  // (`unlisted`): memory stays flat whatever a stream holds.
  summary = { files: 0, dirs: 0, bytes: 0, skipped: [], failed: [], unlisted: 0, end: null };

  constructor(onProgress) {
    this.#onProgress = onProgress;
  }

  async onFile({ path, size, offset, mtime, mode }) {
    const file = { path, name: path.slice(path.lastIndexOf('/') + 1), folder: this.stagingFolder(path), temp: null,
                   writable: null, sha: new Sha256(), crc: this.wantsCrc ? new Crc32() : null, bytes: 0, size, mtime,
                   mode, failed: null };
    this.#file = file;
    if (offset !== 0) file.failed = 'a resumed file, which this page does not ask for';
    else if (!file.folder) file.failed = 'its folder could not be created';
    if (file.failed) return;
    // A small file waits in memory until verified (one at a time): a
    // temporary file and a move per file would cost more than its bytes.
    if (size <= SMALL_FILE_BYTES) {
      file.buffer = new Uint8Array(size);
      return;
    }
    try {
      file.temp = await file.folder.getFileHandle(`.sealrelay-part-${++this.#temps}`, { create: true });
      file.writable = await file.temp.createWritable();
    } catch (err) {
      file.failed = localReason(err);
    }
  }

  async onData(bytes) {
    const file = this.#file;
    file.sha.update(bytes);
    file.crc?.update(bytes);
    file.bytes += bytes.length;
    if (file.failed) return;
    if (file.buffer) {
      file.buffer.set(bytes, file.bytes - bytes.length);   // the decoder holds DATA to the announced size
      return this.progress(file.path, file.bytes);
    }
    try {
      await file.writable.write(bytes);
    } catch (err) {
      file.failed = localReason(err);
    }
    this.progress(file.path, file.bytes);
  }

  async onFileEnd({ status, sha256 }) {
    const file = this.#file;
    this.#file = null;
    const digest = file.sha.finish();
    if (!file.failed && status !== 'ok') file.failed = status;
    if (!file.failed && hex(digest) !== hex(sha256)) {
      file.failed = 'its content does not match its SHA-256 (the agent read a changing file, or lied)';
    }
    if (!file.failed) {
      try {
        await file.writable?.close();
        file.writable = null;
        file.failed = await this.commit(file);
      } catch (err) {
        if (err.fatal) throw err;
        file.failed = localReason(err);
      }
    }
    await discard(file);
    if (file.failed) {
      this.#list(status === 'ok' ? this.summary.failed : this.summary.skipped, file.path, file.failed);
      return;
    }
    ++this.summary.files;
    this.summary.bytes += file.bytes;
    this.progress(file.path, 0);
  }

  onSkip({ path, reason }) {
    this.#list(this.summary.skipped, path, reason);
  }

  // The download stopped: the file being written, if any, is removed.
  async abortFile() {
    if (this.#file) await discard(this.#file);
    this.#file = null;
  }

  onEnd(end) {
    this.summary.end = end;
  }

  progress(path, partial) {
    this.#onProgress?.({ files: this.summary.files, bytes: this.summary.bytes + partial, path });
  }

  fail(path, reason) {
    this.#list(this.summary.failed, path, reason);
  }

  #list(list, path, reason) {
    if (list.length + (list === this.summary.failed ? this.summary.skipped : this.summary.failed).length < MAX_LISTED) {
      list.push({ path, reason });
    } else {
      ++this.summary.unlisted;
    }
  }
}

export class FolderSaver extends Saver {
  #root;
  #branch = [];          // [{path, handle}] of the folders of the current branch, outermost first

  // root: a FileSystemDirectoryHandle (the picked folder).
  constructor(root, { onProgress = null } = {}) {
    super(onProgress);
    this.#root = root;
  }

  async onDir({ path }) {
    const folder = this.#folderOf(path);
    if (!folder) return this.fail(path, 'its folder could not be created');
    try {
      this.#branch.push({ path, handle: await folder.getDirectoryHandle(path.slice(path.lastIndexOf('/') + 1),
                                                                         { create: true }) });
      ++this.summary.dirs;
    } catch (err) {
      this.fail(path, localReason(err));
    }
  }

  stagingFolder(path) {
    return this.#folderOf(path);
  }

  // The temporary file gets its final name; returns null, or why it could not.
  async commit(file) {
    if (await exists(file.folder, file.name, 'directory')) return 'a folder of that name is already there';
    if (file.buffer) return this.#writeVerified(file);
    if (typeof file.temp.move === 'function') {
      await file.folder.removeEntry(file.name).catch(() => {});
      await file.temp.move(file.name);
    } else {
      try {
        const target = await (await file.folder.getFileHandle(file.name, { create: true })).createWritable();
        await (await file.temp.getFile()).stream().pipeTo(target);
      } catch (err) {
        await file.folder.removeEntry(file.name).catch(() => {});   // no half copy under the final name
        throw err;
      }
      await file.folder.removeEntry(file.temp.name);
    }
    file.temp = null;
    return null;
  }

  // A small file, verified in memory, written under its name.
  async #writeVerified(file) {
    try {
      const target = await (await file.folder.getFileHandle(file.name, { create: true })).createWritable();
      await target.write(file.buffer.subarray(0, file.bytes));
      await target.close();
    } catch (err) {
      await file.folder.removeEntry(file.name).catch(() => {});   // no half file under the final name
      throw err;
    }
    return null;
  }

  // The folder handle `path` goes into (a folder of the current branch, or
  // the picked one); null when its folder failed (the decoder saw its DIR,
  // so it is on the branch or was refused).
  #folderOf(path) {
    const cut = path.lastIndexOf('/');
    while (this.#branch.length > 0 && !path.startsWith(`${this.#branch.at(-1).path}/`)) this.#branch.pop();
    const top = this.#branch.at(-1);
    return cut < 0 ? this.#root : top?.path === path.slice(0, cut) ? top.handle : null;
  }
}

export class ZipSaver extends Saver {
  #out;
  #staging;
  #central = null;       // the central directory, staged in a file too: memory stays flat whatever the count
  #offset = 0;
  #count = 0;
  #centralBytes = 0;
  #zip64;
  #folder;              // the pulled folder's entry, until written
  #prefix = '';
  wantsCrc = true;

  // out: where the zip goes ({write(bytes), close(), abort()}: a
  // FileSystemWritableFileStream); staging: a folder of the origin-private
  // file system of its own (removed by finish() and abort()). `zip64`
  // forces the zip64 fields (tests).
  // `folder` {name, mtime, mode}: the pulled folder's own entry, which
  // every path goes under (as the CLI's OUT/dir/...); left out, the entries
  // sit at the zip's top.
  constructor(out, staging, { onProgress = null, zip64 = false, folder = null } = {}) {
    super(onProgress);
    this.#out = out;
    this.#staging = staging;
    this.#zip64 = zip64;
    this.#folder = folder;
  }

  async onDir({ path, mtime, mode }) {
    await this.#add({ path: `${path}/`, size: 0, crc: 0, mtime, mode }, null);
    ++this.summary.dirs;
  }

  stagingFolder() {
    return this.#staging;
  }

  // A failure here leaves a broken zip: it ends the whole download.
  async commit(file) {
    const entry = { path: file.path, size: file.bytes, crc: file.crc.value, mtime: file.mtime, mode: file.mode };
    try {
      await this.#add(entry, file.buffer ? new Blob([file.buffer.subarray(0, file.bytes)]) : await file.temp.getFile());
    } catch (err) {
      throw Object.assign(new Error(`writing the zip failed: ${localReason(err)}`), { fatal: true });
    }
    return null;
  }

  // The zip's last bytes, once the stream verified (its trailer and END).
  async finish() {
    await this.#central?.close();
    const centralOffset = this.#offset;
    if (this.#central) await this.#copy(await (await this.#staging.getFileHandle('central')).getFile());
    await this.#out.write(endRecords({ count: this.#count, centralOffset, centralBytes: this.#centralBytes },
                                     { zip64: this.#zip64 }));
    await this.#out.close();
    await this.#cleanUp();
  }

  async abort() {
    await this.#central?.abort().catch(() => {});
    await this.#out.abort?.().catch(() => {});
    await this.#cleanUp();
  }

  async #add(entry, blob) {
    if (this.#folder) {
      const { name, mtime = 0, mode = 0o755 } = this.#folder;
      this.#folder = null;
      this.#prefix = `${name}/`;
      await this.#add({ path: '', size: 0, crc: 0, mtime, mode }, null);
    }
    entry.path = this.#prefix + entry.path;
    entry.offset = this.#offset;
    const header = localHeader(entry, { zip64: this.#zip64 });
    await this.#out.write(header);
    this.#offset += header.length;
    if (blob) await this.#copy(blob);
    this.#central ??= await (await this.#staging.getFileHandle('central', { create: true })).createWritable();
    const central = centralHeader(entry, { zip64: this.#zip64 });
    await this.#central.write(central);
    this.#centralBytes += central.length;
    ++this.#count;
  }

  async #copy(blob) {
    const reader = blob.stream().getReader();
    for (let r = await reader.read(); !r.done; r = await reader.read()) {
      await this.#out.write(r.value);
      this.#offset += r.value.length;
    }
  }

  async #cleanUp() {
    for await (const name of this.#staging.keys()) await this.#staging.removeEntry(name).catch(() => {});
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
