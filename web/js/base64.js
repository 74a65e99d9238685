// Base64 as on every sealrelay wire (docs/protocol.md, docs/api.md): RFC 4648
// §4, standard alphabet `+/`, with `=` padding. Decoding is strict, as in
// base/base64.h: length a multiple of 4, padding only at the end, no
// whitespace, unused bits zero. Anything else is refused (null).
//
// Like the C++ side, two codecs:
// * decode()/decodeInto()/encode(): the data path (frames of up to 1 MiB
//   arrive as base64 in SSE events). Uint8Array.fromBase64/setFromBase64/
//   toBase64 where the engine has them (recent Chromium, Firefox, Safari),
//   else a table-driven decoder here that validates while it decodes
//   (libsodium-wrappers' from_base64 runs at a third of its speed: string →
//   UTF-8 → wasm heap → back). decodeInto() writes into the caller's buffer,
//   so the page decodes every frame into the same memory instead of a new
//   allocation per frame. NOT constant time: ciphertext and public values
//   only.
// * decodeSecret(): keys and other secrets, through libsodium's constant-time
//   codec, always with the ORIGINAL variant (libsodium-wrappers defaults to
//   URL-safe without padding; docs/dependencies.md §4).
import sodium from './sodium.js';

const ORIGINAL = sodium.base64_variants.ORIGINAL;
const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const INVALID = 0x100;
// Sextet of each ASCII code; INVALID elsewhere. Codes >= 128 are caught by
// the 0xff80 mask in the loop.
const SEXTET = new Uint16Array(128).fill(INVALID);
for (let i = 0; i < 64; ++i) SEXTET[ALPHABET.charCodeAt(i)] = i;
const EQUALS = 61;

const native = typeof Uint8Array.fromBase64 === 'function' && typeof Uint8Array.prototype.toBase64 === 'function';

function sextet(code) {
  return SEXTET[code & 127] | (code & 0xff80);
}

// Bytes of canonical base64 `text`; null for anything else.
export function decode(text) {
  if (typeof text !== 'string' || text.length % 4 !== 0) return null;
  if (native) return decodeNative(text);
  return decodeJs(text);
}

// Decodes canonical base64 `text` into the start of `target` (a Uint8Array)
// and returns the number of bytes written; -1 for anything decode() refuses,
// and when `target` is too small (nothing useful is left in it then).
export function decodeInto(text, target) {
  return decodeIntoWith(native, text, target);
}

function decodeIntoWith(useNative, text, target) {
  if (typeof text !== 'string' || text.length % 4 !== 0) return -1;
  const n = text.length === 0 ? 0 : (text.length / 4) * 3 - paddingOf(text);
  if (n > target.length) return -1;
  if (useNative) return decodeIntoNative(text, target, n);
  return decodeJs(text, target) ? n : -1;
}

// setFromBase64 with 'strict' refuses what fromBase64 refuses and skips
// the same whitespace, so the same length check applies; all of `text`
// must have been read.
function decodeIntoNative(text, target, n) {
  let result;
  try {
    result = target.setFromBase64(text, { alphabet: 'base64', lastChunkHandling: 'strict' });
  } catch {
    return -1;
  }
  return result.read === text.length && result.written === n ? n : -1;
}

// The engine's codec with 'strict' refuses missing padding and stray bits
// but skips ASCII whitespace. Skipped characters make the output shorter
// than the input's shape says (by at least 1 byte per 4 skipped), so an
// exact length check refuses them without another pass over the text.
function decodeNative(text) {
  let out;
  try {
    out = Uint8Array.fromBase64(text, { alphabet: 'base64', lastChunkHandling: 'strict' });
  } catch {
    return null;
  }
  return out.length === (text.length / 4) * 3 - paddingOf(text) ? out : null;
}

function paddingOf(text) {
  const n = text.length;
  if (n === 0 || text.charCodeAt(n - 1) !== EQUALS) return 0;
  return text.charCodeAt(n - 2) !== EQUALS ? 1 : 2;
}

// Decodes into `into` when given (room checked by the caller), else into a
// new array; null when `text` is not canonical.
function decodeJs(text, into = null) {
  const n = text.length;
  if (n === 0) return into ?? new Uint8Array(0);
  const padding = paddingOf(text);
  const out = into ?? new Uint8Array((n / 4) * 3 - padding);
  const whole = padding === 0 ? n : n - 4;
  let bad = 0;
  let o = 0;
  for (let i = 0; i < whole; i += 4) {
    const a = sextet(text.charCodeAt(i));
    const b = sextet(text.charCodeAt(i + 1));
    const c = sextet(text.charCodeAt(i + 2));
    const d = sextet(text.charCodeAt(i + 3));
    bad |= a | b | c | d;
    const v = (a << 18) | (b << 12) | (c << 6) | d;
    out[o] = v >> 16;
    out[o + 1] = v >> 8;
    out[o + 2] = v;
    o += 3;
  }
  if (padding > 0) {
    const a = sextet(text.charCodeAt(n - 4));
    const b = sextet(text.charCodeAt(n - 3));
    const c = padding === 1 ? sextet(text.charCodeAt(n - 2)) : 0;
    bad |= a | b | c;
    // The unused low bits of the last character must be zero (canonical).
    if (padding === 1 ? (c & 0x3) !== 0 : (b & 0xf) !== 0) return null;
    out[o] = (a << 2) | (b >> 4);
    if (padding === 1) out[o + 1] = ((b & 0xf) << 4) | (c >> 2);
  }
  return (bad & ~63) === 0 ? out : null;
}

// Every decoder as text → bytes or null, so tests hold them all to one
// table ('native*' are null where the engine has no Uint8Array.fromBase64);
// the *Into ones decode through decodeInto into a buffer `slack` bytes
// larger than the text needs.
const viaInto = (useNative) => (text, slack = 0) => {
  const target = new Uint8Array(Math.ceil((typeof text === 'string' ? text.length : 0) / 4) * 3 + slack);
  const n = decodeIntoWith(useNative, text, target);
  return n < 0 ? null : target.slice(0, n);
};
export const decodersForTest = {
  js: decodeJs,
  native: native ? decodeNative : null,
  jsInto: viaInto(false),
  nativeInto: native ? viaInto(true) : null,
};

// Standard base64 with padding of `bytes`.
export function encode(bytes) {
  if (bytes.length === 0) return '';
  if (native) return bytes.toBase64({ alphabet: 'base64' });
  return sodium.to_base64(bytes, ORIGINAL);
}

// Like decode(), in constant time for the content: for private keys and
// other secrets. The shape check first (the length and the position of '='
// are public), then libsodium's codec.
export function decodeSecret(text) {
  if (typeof text !== 'string' || text.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(text)) return null;
  if (text.length === 0) return new Uint8Array(0);
  try {
    return sodium.from_base64(text, ORIGINAL);
  } catch {
    return null;
  }
}
