// Small byte helpers shared by the protocol modules, and the error type they
// throw. No crypto here.

// An error with a machine-readable code, like the C++ side's Error{code,
// message}: `bad_frame`, `tampered`, `handshake_failed`, `bad_request`, ...
export class SealrelayError extends Error {
  constructor(code, message) {
    super(message);
    this.name = 'SealrelayError';
    this.code = code;
  }
}

const encoder = new TextEncoder();

export function utf8(text) {
  return encoder.encode(text);
}

// Decodes UTF-8, throwing TypeError on invalid input (fatal), so a payload
// with bad UTF-8 is refused as the C++ JSON parser refuses it.
export function fromUtf8(bytes) {
  return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
}

export function concat(...parts) {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

export function equal(a, b) {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; ++i) if (a[i] !== b[i]) return false;
  return true;
}

// u64 big-endian, as BigInt, at `offset`.
export function getU64(bytes, offset) {
  return new DataView(bytes.buffer, bytes.byteOffset + offset, 8).getBigUint64(0, false);
}

// Writes `value` (BigInt or a safe non-negative integer) as u64 big-endian.
export function putU64(bytes, offset, value) {
  new DataView(bytes.buffer, bytes.byteOffset + offset, 8).setBigUint64(0, BigInt(value), false);
}

export function hex(bytes) {
  let s = '';
  for (const b of bytes) s += b.toString(16).padStart(2, '0');
  return s;
}

export function fromHex(text) {
  if (text.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(text)) throw new TypeError('not hex');
  const out = new Uint8Array(text.length / 2);
  for (let i = 0; i < out.length; ++i) out[i] = parseInt(text.substr(2 * i, 2), 16);
  return out;
}
