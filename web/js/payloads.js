// The payloads inside the handshake, mirroring crypto/payloads.h
// (docs/protocol.md §4): the request in message 1, the answer in message 2,
// and the listing streamed in frames. Versioned UTF-8 JSON; unknown fields
// are ignored so newer peers can add some; every known field is type- and
// bound-checked. Failures throw SealrelayError `bad_request` (or
// `unsupported_version`), with the C++ side's messages. No I/O.
//
// Encoders write the keys in sorted order, as nlohmann::json does, so the
// bytes are identical to the C++ encoders' (the interop test checks).
//
// The request and the answer travel padded (docs/protocol.md §4.4): spaces
// up to a multiple of PAYLOAD_BUCKET_BYTES after the JSON object, so the
// relay sees the bucket and not the length. Decoders accept the object
// followed by spaces only (none from older senders). Listings are not padded.
//
// Two differences from the C++ decoder, both from JavaScript numbers:
// integers above 2^53 - 1 (8 PiB) are refused rather than read, and a
// number written with a fraction or exponent that happens to be whole
// ("1.0", "1e3") is read as that integer where nlohmann refuses it.
import { SealrelayError, fromUtf8, utf8 } from './bytes.js';
import {
  COMPRESSION_ZSTD, DEFAULT_CHUNK_BYTES, MAX_CHUNK_BYTES, MAX_CODE_BYTES, MAX_MESSAGE_BYTES, MAX_NAME_BYTES,
  MAX_PATH_BYTES, MIN_CHUNK_BYTES, PAYLOAD_BUCKET_BYTES, VERSION,
} from './protocol.js';
import { MAX_DEPTH, MAX_SELECT_BYTES, MAX_SELECT_PATTERNS, checkPath } from './tree_stream.js';

const MAX_U64 = Number.MAX_SAFE_INTEGER;
const MIN_I64 = Number.MIN_SAFE_INTEGER;
const MAX_I64 = Number.MAX_SAFE_INTEGER;

export const OPS = ['get', 'list', 'stat', 'tree'];

function bad(what) {
  return new SealrelayError('bad_request', `malformed payload: ${what}`);
}

// Lone UTF-16 surrogates become U+FFFD, as nlohmann's dump(replace) turns
// invalid UTF-8 into U+FFFD: JSON.stringify would write "\ud800", which the
// C++ parser refuses.
function wellFormed(text) {
  if (typeof text.toWellFormed === 'function') return text.toWellFormed();
  return text.replace(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, '\ufffd');
}

function dump(object) {
  const sorted = {};
  for (const key of Object.keys(object).sort()) {
    const value = object[key];
    sorted[key] = typeof value === 'string' ? wellFormed(value) : value;
  }
  return utf8(JSON.stringify(sorted));
}

function parseObject(bytes) {
  let j;
  try {
    j = JSON.parse(fromUtf8(bytes));
  } catch {
    throw bad('not a JSON object');
  }
  if (j === null || typeof j !== 'object' || Array.isArray(j)) throw bad('not a JSON object');
  if (!Number.isSafeInteger(j.v) || j.v < 0) throw bad('missing version');
  if (j.v !== VERSION) {
    throw new SealrelayError('unsupported_version', `payload version ${j.v} is not supported (this build speaks ` +
                                                    'version 1); upgrade the older side');
  }
  return j;
}

const SPACE = 0x20;
const CLOSE_BRACE = 0x7d;

// Spaces rather than zeros: they are JSON whitespace, so a receiver from
// before padding reads a padded payload as it is (JSON.parse refuses NUL).
function padded(bytes) {
  const out = new Uint8Array(Math.ceil(bytes.length / PAYLOAD_BUCKET_BYTES) * PAYLOAD_BUCKET_BYTES).fill(SPACE);
  out.set(bytes);
  return out;
}

// A message 1 or 2 payload: the JSON object, then spaces and nothing else.
function parsePadded(bytes) {
  const j = parseObject(bytes);
  let end = bytes.length;
  while (end > 0 && bytes[end - 1] === SPACE) end -= 1;
  if (end === 0 || bytes[end - 1] !== CLOSE_BRACE) throw bad('only spaces may follow the JSON object (padding)');
  return j;
}

// A string field of at most `maxBytes` UTF-8 bytes without NUL; undefined
// when absent and required or wrong; '' when absent and optional.
function getString(j, key, maxBytes, required = true) {
  if (!Object.hasOwn(j, key)) return required ? undefined : '';
  const s = j[key];
  if (typeof s !== 'string' || s.includes('\0') || utf8(s).length > maxBytes) return undefined;
  return s;
}

// An integer field in [min, max]; `missing` when absent; undefined when wrong.
function getNumber(j, key, min, max, missing = undefined) {
  if (!Object.hasOwn(j, key)) return missing;
  const v = j[key];
  if (!Number.isSafeInteger(v) || v < min || v > max) return undefined;
  return v;
}

function getType(j) {
  const t = getString(j, 'type', 16);
  return t === 'file' || t === 'dir' ? t : undefined;
}

// A tree request's own fields (docs/protocol.md §4.1, §4.5), each left out
// when it says nothing: select only with something in it, contents only
// when false, resume only when given. Nested keys sorted too, as nlohmann.
function treeFields(request, { select = {}, contents = true, resume = null }) {
  const { include = [], exclude = [], newerThan, maxDepth } = select;
  const patterns = [...include, ...exclude];
  if (!patterns.every((g) => typeof g === 'string' && !/[\u0000-\u001f\u007f]/.test(g)) ||
      include.length > MAX_SELECT_PATTERNS || exclude.length > MAX_SELECT_PATTERNS ||
      patterns.reduce((n, g) => n + utf8(g).length, 0) > MAX_SELECT_BYTES) {
    throw new TypeError('include/exclude: at most 64 patterns each, 8192 bytes in all, no control characters');
  }
  if (maxDepth !== undefined && (!Number.isSafeInteger(maxDepth) || maxDepth < 1 || maxDepth > MAX_DEPTH)) {
    throw new TypeError('max_depth must be between 1 and 128');
  }
  if (newerThan !== undefined && !Number.isSafeInteger(newerThan)) throw new TypeError('newer_than: unix seconds');
  const sel = {};
  if (exclude.length) sel.exclude = exclude;
  if (include.length) sel.include = include;
  if (maxDepth !== undefined) sel.max_depth = maxDepth;
  if (newerThan !== undefined) sel.newer_than = newerThan;
  if (Object.keys(sel).length) request.select = sel;
  if (!contents) request.contents = false;
  if (resume) {
    checkPath(resume.path);
    if (!Number.isSafeInteger(resume.offset) || resume.offset < 0) throw new TypeError('resume.offset: bytes');
    request.resume = { offset: resume.offset, path: resume.path };
  }
}

// request: {op: 'get'|'list'|'stat'|'tree', path, offset = 0, chunkSize =
// 262144, timestampMs, offerCompression = false}, and for a tree {select:
// {include, exclude, newerThan, maxDepth}, contents, resume: {path,
// offset}}. Throws TypeError on values the agent would refuse.
// offerCompression sends "compress":["zstd"] (docs/protocol.md §3.1).
export function encodeRequest({ op, path, offset = 0, chunkSize = DEFAULT_CHUNK_BYTES, timestampMs,
                                offerCompression = false, ...tree }) {
  if (!OPS.includes(op)) throw new TypeError('op must be get, list, stat or tree');
  if (typeof path !== 'string' || path.length === 0 || path.includes('\0') ||
      utf8(wellFormed(path)).length > MAX_PATH_BYTES) {
    throw new TypeError('path must be a non-empty string of at most 4096 bytes without NUL');
  }
  if (!Number.isSafeInteger(offset) || offset < 0) throw new TypeError('offset must be an unsigned integer');
  if (!Number.isSafeInteger(chunkSize) || chunkSize < MIN_CHUNK_BYTES || chunkSize > MAX_CHUNK_BYTES) {
    throw new TypeError('chunk_size must be between 4 KiB and 1 MiB');
  }
  if (!Number.isSafeInteger(timestampMs) || timestampMs < 1) {
    throw new TypeError('ts must be a positive integer (unix milliseconds)');
  }
  const request = { v: VERSION, op, path, offset, chunk_size: chunkSize, ts: timestampMs };
  if (offerCompression) request.compress = [COMPRESSION_ZSTD];
  if (op === 'tree') treeFields(request, tree);
  return padded(dump(request));
}

// "compress": at most 8 names of at most 16 bytes; unknown names are skipped.
function getCompressionOffer(j) {
  if (!Object.hasOwn(j, 'compress')) return false;
  const list = j.compress;
  if (!Array.isArray(list) || list.length > 8) return undefined;
  if (!list.every((n) => typeof n === 'string' && utf8(n).length <= 16)) return undefined;
  return list.includes(COMPRESSION_ZSTD);
}

export function decodeRequest(bytes) {
  const j = parsePadded(bytes);
  const op = getString(j, 'op', 8);
  if (!OPS.includes(op)) throw bad('op must be get, list, stat or tree');
  const path = getString(j, 'path', MAX_PATH_BYTES);
  if (!path) throw bad('path must be a non-empty string of at most 4096 bytes without NUL');
  const offset = getNumber(j, 'offset', 0, MAX_U64, 0);
  const chunkSize = getNumber(j, 'chunk_size', MIN_CHUNK_BYTES, MAX_CHUNK_BYTES, DEFAULT_CHUNK_BYTES);
  const timestampMs = getNumber(j, 'ts', 1, MAX_I64);
  if (offset === undefined) throw bad('offset must be an unsigned integer');
  if (chunkSize === undefined) throw bad('chunk_size must be between 4 KiB and 1 MiB');
  if (timestampMs === undefined) throw bad('ts must be a positive integer (unix milliseconds)');
  const offerCompression = getCompressionOffer(j);
  if (offerCompression === undefined) throw bad('compress must be a list of at most 8 short names');
  return { op, path, offset, chunkSize, timestampMs, offerCompression };
}

// answer: {ok: false, error, message} or {ok: true, type: 'file'|'dir', name,
// size, mtime, chunkSize, offset, firstIndex, frames, compression, files}
// (files: a tree's expected count, 0 when left out).
export function encodeAnswer(a) {
  if (!a.ok) return padded(dump({ v: VERSION, ok: false, error: a.error, message: a.message ?? '' }));
  const answer = {
    v: VERSION, ok: true, type: a.type, name: a.name, size: a.size, mtime: a.mtime, chunk_size: a.chunkSize,
    offset: a.offset, first_index: a.firstIndex, frames: a.frames,
  };
  if (a.compression) answer.compress = COMPRESSION_ZSTD;
  if (a.files) answer.files = a.files;
  return padded(dump(answer));
}

export function decodeAnswer(bytes) {
  const j = parsePadded(bytes);
  if (typeof j.ok !== 'boolean') throw bad('ok must be a boolean');
  if (!j.ok) {
    const error = getString(j, 'error', MAX_CODE_BYTES);
    const message = getString(j, 'message', MAX_MESSAGE_BYTES, false);
    if (!error || message === undefined) throw bad('a refusal needs an error code and a message');
    return { ok: false, error, message };
  }
  const a = {
    ok: true,
    type: getType(j),
    name: getString(j, 'name', MAX_NAME_BYTES),
    size: getNumber(j, 'size', 0, MAX_U64),
    mtime: getNumber(j, 'mtime', MIN_I64, MAX_I64),
    chunkSize: getNumber(j, 'chunk_size', 0, MAX_CHUNK_BYTES),
    offset: getNumber(j, 'offset', 0, MAX_U64),
    firstIndex: getNumber(j, 'first_index', 0, MAX_U64),
    frames: j.frames,
  };
  if (Object.values(a).includes(undefined) || typeof a.frames !== 'boolean') {
    throw bad('answer metadata missing or of the wrong type');
  }
  if (a.frames && a.chunkSize < MIN_CHUNK_BYTES) throw bad('chunk_size out of range');
  if (a.offset > a.size) throw bad('offset beyond the end of the file');
  const compress = getString(j, 'compress', 16, false);
  if (compress === undefined || (compress !== '' && compress !== COMPRESSION_ZSTD)) {
    throw bad('compress must be "zstd" when present');
  }
  a.compression = compress !== '';
  a.files = getNumber(j, 'files', 0, MAX_U64, 0);
  if (a.files === undefined) throw bad('files must be an unsigned integer');
  return a;
}

// entries: [{name, type: 'file'|'dir', size, mtime}]
export function encodeListing(entries) {
  return dump({
    v: VERSION,
    entries: entries.map((e) => {
      const entry = { mtime: e.mtime, name: wellFormed(e.name), size: e.size, type: e.type };
      return entry;
    }),
  });
}

export function decodeListing(bytes) {
  const j = parseObject(bytes);
  if (!Array.isArray(j.entries)) throw bad('entries must be an array');
  return j.entries.map((e) => {
    if (e === null || typeof e !== 'object' || Array.isArray(e)) throw bad('each entry must be an object');
    const entry = {
      name: getString(e, 'name', MAX_NAME_BYTES),
      type: getType(e),
      size: getNumber(e, 'size', 0, MAX_U64),
      mtime: getNumber(e, 'mtime', MIN_I64, MAX_I64),
    };
    const { name } = entry;
    if (!name || name.includes('/') || name === '.' || name === '..' || Object.values(entry).includes(undefined)) {
      throw bad('entry with a missing, unsafe or mistyped field');
    }
    return entry;
  });
}
