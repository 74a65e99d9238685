// The folder stream of a `tree` transfer (docs/protocol.md §4.5), mirroring
// crypto/tree_stream.h: the receiver's decoder with every rule of §4.5, and
// the encoders (for tests and the page's own fixtures). No I/O: the frames
// (frames.js) authenticate the bytes and verify the whole stream's trailer;
// this module reads the records packed in them.
//
// The decoder takes the decrypted content in pieces of any size, holds at
// most one record that is not DATA (≤ MAX_RECORD_BYTES), passes DATA
// through as it comes, and checks every rule before the visitor sees
// anything: the visitor only ever gets paths that pass checkPath, in stream
// order, each under a folder it was told of. Any break is SealrelayError
// `bad_tree` (an integrity error: only the agent could have written it).
//
// One difference from the C++ decoder, from JavaScript numbers: a size,
// offset or mtime beyond 2^53 − 1 (8 PiB, or 285 million years) is refused
// as `bad_tree` rather than read.
import { SealrelayError, fromUtf8, utf8 } from './bytes.js';
import { MAX_PATH_BYTES, SHA256_BYTES } from './protocol.js';

export const RECORD_HEADER_BYTES = 5;          // type u8 ‖ length u32
export const MAX_DATA_BYTES = 64 * 1024;       // one DATA record's content
export const MAX_COMPONENT_BYTES = 255;
export const MAX_DEPTH = 128;                  // components of a path; also select.max_depth's maximum
// The longest non-DATA record: FILE with a MAX_PATH_BYTES path.
export const MAX_RECORD_BYTES = RECORD_HEADER_BYTES + 28 + MAX_PATH_BYTES;
export const MAX_SELECT_PATTERNS = 64;         // each of include and exclude
export const MAX_SELECT_BYTES = 8192;          // all patterns together
export const DEFAULT_MAX_ENTRIES = 1_000_000;
export const MAX_MODE = 0o777;

export const RECORD = Object.freeze({ dir: 1, file: 2, data: 3, fileEnd: 4, skip: 5, end: 6 });
export const FILE_STATUS = Object.freeze(['ok', 'changed', 'vanished', 'unreadable']);
export const SKIP_REASON = Object.freeze([undefined, 'symlink_out', 'loop', 'unreadable', 'too_large', 'hard_link',
                                          'bad_name', 'too_deep', 'too_many']);

// [min, max] body length of each type (the table of §4.5).
const LENGTHS = {
  [RECORD.dir]: [13, 12 + MAX_PATH_BYTES],
  [RECORD.file]: [29, 28 + MAX_PATH_BYTES],
  [RECORD.data]: [1, MAX_DATA_BYTES],
  [RECORD.fileEnd]: [1 + SHA256_BYTES, 1 + SHA256_BYTES],
  [RECORD.skip]: [2, 1 + MAX_PATH_BYTES],
  [RECORD.end]: [32, 32],
};

const SLASH = 0x2f;
const BACKSLASH = 0x5c;
const DOT = 0x2e;

function bad(what) {
  return new SealrelayError('bad_tree', `the agent sent a malformed folder stream: ${what}`);
}

// Rule 2 of §4.5 on a path's UTF-8 bytes: null when it passes, else what is
// wrong (never the name's bytes).
function pathProblem(bytes) {
  if (bytes.length === 0) return 'an empty path';
  if (bytes.length > MAX_PATH_BYTES) return 'a path longer than 4096 bytes';
  let depth = 1;
  let start = 0;
  for (let i = 0; i <= bytes.length; ++i) {
    const b = i < bytes.length ? bytes[i] : SLASH;
    if (b === BACKSLASH) return 'a path with a backslash';
    if (b < 0x20 || b === 0x7f) return 'a path with a control character or NUL';
    if (b !== SLASH) continue;
    const n = i - start;
    if (n === 0) return 'a path with an empty component';
    if (n > MAX_COMPONENT_BYTES) return 'a path component longer than 255 bytes';
    if (bytes[start] === DOT && (n === 1 || (n === 2 && bytes[start + 1] === DOT))) {
      return 'a path with a . or .. component';
    }
    if (i < bytes.length && ++depth > MAX_DEPTH) return 'a path deeper than 128 components';
    start = i + 1;
  }
  try {
    fromUtf8(bytes);
  } catch {
    return 'a path that is not valid UTF-8';
  }
  return null;
}

// Rule 2 of §4.5: throws `bad_tree` saying what is wrong. `path` is a string
// (checked as its UTF-8) or the bytes.
export function checkPath(path) {
  const problem = pathProblem(typeof path === 'string' ? utf8(path) : path);
  if (problem) throw bad(problem);
}

// Stream order (§4.5) of two paths' UTF-8 bytes: component by component,
// each compared bytewise, so a folder comes before everything inside it.
// A separator sorts below every byte, the end below a separator.
export function comparePaths(a, b) {
  const at = (p, i) => (i < p.length ? (p[i] === SLASH ? -1 : p[i]) : -2);
  for (let i = 0; ; ++i) {
    const x = at(a, i);
    const y = at(b, i);
    if (x !== y) return x - y;
    if (x === -2) return 0;
  }
}

const parentOf = (bytes) => bytes.subarray(0, Math.max(0, bytes.lastIndexOf(SLASH)));

function sameBytes(a, b) {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; ++i) if (a[i] !== b[i]) return false;
  return true;
}

// ---- Encoders: each returns one whole record. ----

function record(type, body) {
  const out = new Uint8Array(RECORD_HEADER_BYTES + body.length);
  out[0] = type;
  new DataView(out.buffer).setUint32(1, body.length, false);
  out.set(body, RECORD_HEADER_BYTES);
  return out;
}

function fields(layout, path) {
  const size = layout.reduce((n, [bytes]) => n + bytes, 0);
  const p = path === undefined ? new Uint8Array(0) : utf8(path);
  const body = new Uint8Array(size + p.length);
  const view = new DataView(body.buffer);
  let at = 0;
  for (const [bytes, value] of layout) {
    if (bytes === 8) view.setBigUint64(at, BigInt.asUintN(64, BigInt(value)), false);
    else if (bytes === 4) view.setUint32(at, value, false);
    else if (bytes === 1) view.setUint8(at, value);
    else body.set(value, at);
    at += bytes;
  }
  body.set(p, at);
  return body;
}

export const encodeDir = ({ path, mtime = 0, mode = 0o755 }) =>
  record(RECORD.dir, fields([[8, mtime], [4, mode]], path));
export const encodeFile = ({ path, size, mtime = 0, mode = 0o644, offset = 0 }) =>
  record(RECORD.file, fields([[8, size], [8, mtime], [4, mode], [8, offset]], path));
export const encodeData = (bytes) => record(RECORD.data, bytes);
export const encodeFileEnd = ({ status = 'ok', sha256 = new Uint8Array(SHA256_BYTES) }) =>
  record(RECORD.fileEnd, fields([[1, FILE_STATUS.indexOf(status)], [SHA256_BYTES, sha256]]));
export const encodeSkip = ({ path, reason }) => record(RECORD.skip, fields([[1, SKIP_REASON.indexOf(reason)]], path));
export const encodeEnd = ({ files = 0, dirs = 0, bytes = 0, skipped = 0 }) =>
  record(RECORD.end, fields([[8, files], [8, dirs], [8, bytes], [8, skipped]]));

// ---- The decoder. ----

// A visitor: {onDir({path, mtime, mode}), onFile({path, size, mtime, mode,
// offset}), onData(bytes), onFileEnd({status, sha256}), onSkip({path,
// reason}), onEnd({files, dirs, bytes, skipped})}, each may be async; an
// error it throws stops the decoder and is what feed() rejects with. The
// bytes given to onData are a view of what was fed: copy them to keep them.
// After FILE_END with status ok, the SHA-256 is the visitor's to check (it
// alone holds a resumed prefix).
//
// options: {contents = true, resumePath = null (the request's resume.path),
// maxEntries = DEFAULT_MAX_ENTRIES}.
export class TreeDecoder {
  #visitor;
  #contents;
  #maxEntries;
  #header = new Uint8Array(RECORD_HEADER_BYTES);
  #headerFill = 0;
  #type = 0;
  #body = null;          // the non-DATA record being gathered
  #bodyFill = 0;
  #dataLeft = 0;         // bytes of the current DATA record still to come
  #fileLeft = null;      // inside a file: content bytes still due (null: not in a file)
  #previous = null;      // the last record's path (bytes)
  #branch = [];          // folders of the current branch, outermost first (bytes)
  #entries = 0;
  #ended = false;
  #error = null;

  constructor(visitor, { contents = true, resumePath = null, maxEntries = DEFAULT_MAX_ENTRIES } = {}) {
    this.#visitor = visitor;
    this.#contents = contents;
    this.#maxEntries = maxEntries;
    if (resumePath !== null) {
      const bytes = utf8(resumePath);
      checkPath(bytes);
      for (let at = bytes.indexOf(SLASH); at >= 0; at = bytes.indexOf(SLASH, at + 1)) {
        this.#branch.push(bytes.slice(0, at));
      }
    }
  }

  get ended() { return this.#ended; }
  get entries() { return this.#entries; }

  // The stream's next bytes (a Uint8Array). Rejects with `bad_tree` on any
  // break of §4.5's rules, or the visitor's error; after the first error
  // every call rejects the same.
  async feed(bytes) {
    if (this.#error) throw this.#error;
    try {
      let at = 0;
      while (at < bytes.length) at = await this.#step(bytes, at);
    } catch (err) {
      this.#error = err;
      throw err;
    }
  }

  // The stream is over (the frames' trailer verified): `bad_tree` unless END
  // was the last thing fed.
  finish() {
    if (this.#error) throw this.#error;
    if (!this.#ended || this.#headerFill !== 0) {
      this.#error = bad('the stream ended before its END record');
      throw this.#error;
    }
  }

  // Consumes what it can of bytes[at..]; returns the new position.
  async #step(bytes, at) {
    if (this.#ended) throw bad('bytes after the END record');
    if (this.#dataLeft > 0) {
      const n = Math.min(this.#dataLeft, bytes.length - at);
      this.#dataLeft -= n;
      this.#fileLeft -= n;
      await this.#visitor.onData(bytes.subarray(at, at + n));
      return at + n;
    }
    if (this.#body) {
      const n = Math.min(this.#body.length - this.#bodyFill, bytes.length - at);
      this.#body.set(bytes.subarray(at, at + n), this.#bodyFill);
      this.#bodyFill += n;
      if (this.#bodyFill === this.#body.length) {
        const body = this.#body;
        this.#body = null;
        await this.#record(this.#type, body);
      }
      return at + n;
    }
    const n = Math.min(RECORD_HEADER_BYTES - this.#headerFill, bytes.length - at);
    this.#header.set(bytes.subarray(at, at + n), this.#headerFill);
    this.#headerFill += n;
    if (this.#headerFill === RECORD_HEADER_BYTES) {
      this.#headerFill = 0;
      this.#begin(this.#header[0], new DataView(this.#header.buffer).getUint32(1, false));
    }
    return at + n;
  }

  // A record's header: every check that needs no body, before reading it.
  #begin(type, length) {
    const range = LENGTHS[type];
    if (!range) throw bad(`an unknown record type ${type}`);
    if (length < range[0] || length > range[1]) throw bad(`a record of type ${type} with length ${length}`);
    const inFile = this.#fileLeft !== null;
    if (type === RECORD.data) {
      if (!inFile) throw bad('DATA outside a file');
      if (length > this.#fileLeft) throw bad("DATA beyond the file's size");
      this.#dataLeft = length;
      return;
    }
    if (inFile && type !== RECORD.fileEnd) throw bad('a record other than DATA or FILE_END inside a file');
    if (!inFile && type === RECORD.fileEnd) throw bad('FILE_END outside a file');
    this.#type = type;
    this.#body = new Uint8Array(length);
    this.#bodyFill = 0;
  }

  async #record(type, body) {
    const view = new DataView(body.buffer, body.byteOffset, body.byteLength);
    const v = this.#visitor;
    switch (type) {
      case RECORD.dir: {
        const path = this.#path(body.subarray(12));
        const dir = { path, mtime: int(view.getBigInt64(0, false)), mode: mode(view.getUint32(8, false)) };
        this.#branch.push(body.slice(12));
        return v.onDir(dir);
      }
      case RECORD.file: return this.#file(view, body.subarray(28));
      case RECORD.fileEnd: return this.#fileEnd(body);
      case RECORD.skip: {
        const reason = SKIP_REASON[body[0]];
        if (!reason) throw bad(`an unknown skip reason ${body[0]}`);
        return v.onSkip({ path: this.#path(body.subarray(1)), reason });
      }
      default: {
        this.#ended = true;
        const [files, dirs, bytes, skipped] = [0, 8, 16, 24].map((at) => int(view.getBigUint64(at, false)));
        return v.onEnd({ files, dirs, bytes, skipped });
      }
    }
  }

  async #file(view, pathBytes) {
    const size = int(view.getBigUint64(0, false));
    const offset = int(view.getBigUint64(20, false));
    const file = { path: null, size, mtime: int(view.getBigInt64(8, false)), mode: mode(view.getUint32(16, false)),
                   offset };
    if (offset > size) throw bad('a FILE whose offset is beyond its size');
    if (!this.#contents && offset !== 0) throw bad('a FILE with an offset in a stream without contents');
    file.path = this.#path(pathBytes);
    if (this.#contents) this.#fileLeft = size - offset;
    return this.#visitor.onFile(file);
  }

  async #fileEnd(body) {
    const status = FILE_STATUS[body[0]];
    if (!status) throw bad(`an unknown file status ${body[0]}`);
    if (status === 'ok' && this.#fileLeft !== 0) throw bad("FILE_END (ok) before all of the file's content");
    this.#fileLeft = null;
    return this.#visitor.onFileEnd({ status, sha256: body.slice(1) });
  }

  // Rules 2, 3 and 4 on a record's path; returns it as a string.
  #path(bytes) {
    checkPath(bytes);
    if (this.#previous && comparePaths(bytes, this.#previous) <= 0) throw bad('a path out of stream order');
    const parent = parentOf(bytes);
    while (this.#branch.length > 0 && !isAncestor(this.#branch.at(-1), bytes)) this.#branch.pop();
    if (parent.length > 0 && (this.#branch.length === 0 || !sameBytes(this.#branch.at(-1), parent))) {
      throw bad('a path whose folder did not come before it');
    }
    if (++this.#entries > this.#maxEntries) {
      throw bad(`more than ${this.#maxEntries} entries (the limit of this download)`);
    }
    this.#previous = bytes.slice();
    return fromUtf8(bytes);
  }
}

function isAncestor(folder, path) {
  return path.length > folder.length && path[folder.length] === SLASH &&
         sameBytes(folder, path.subarray(0, folder.length));
}

function int(big) {
  if (big > BigInt(Number.MAX_SAFE_INTEGER) || big < BigInt(Number.MIN_SAFE_INTEGER)) {
    throw bad('a number beyond what this page can read exactly (2^53)');
  }
  return Number(big);
}

function mode(value) {
  if (value > MAX_MODE) throw bad('a mode above 0777');
  return value;
}
