// Base64 as on every sealrelay wire (docs/protocol.md, docs/api.md): RFC 4648
// §4, standard alphabet `+/`, with `=` padding. Decoding is strict, as in
// proto/base64.h: length a multiple of 4, padding only at the end, no
// whitespace, unused bits zero. Anything else is refused.
//
// Decoding uses Uint8Array.fromBase64 where the engine has it (recent
// Chromium, Firefox, Safari) and libsodium's codec otherwise (node 18-22);
// the strict shape check runs first either way, so both accept exactly the
// same strings. libsodium is always called with the ORIGINAL variant: its JS
// default is URL-safe without padding (shared/reference/dependencies.md §4).
import sodium from './sodium.js';

const ORIGINAL = sodium.base64_variants.ORIGINAL;
const SHAPE = /^[A-Za-z0-9+/]*={0,2}$/;
const VALUE = new Int8Array(128).fill(-1);
for (let i = 0; i < 64; ++i) {
  VALUE['ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'.charCodeAt(i)] = i;
}
const native = typeof Uint8Array.fromBase64 === 'function' && typeof Uint8Array.prototype.toBase64 === 'function';

// Whether `text` is canonical standard base64 with padding.
export function isCanonical(text) {
  if (typeof text !== 'string' || text.length % 4 !== 0 || !SHAPE.test(text)) return false;
  if (text.length === 0) return true;
  const padding = text.endsWith('==') ? 2 : text.endsWith('=') ? 1 : 0;
  if (padding === 0) return true;
  const last = VALUE[text.charCodeAt(text.length - padding - 1)];
  return padding === 1 ? (last & 0x3) === 0 : (last & 0xf) === 0;
}

// Bytes of canonical base64 `text`; null for anything else.
export function decode(text) {
  if (!isCanonical(text)) return null;
  if (text.length === 0) return new Uint8Array(0);
  try {
    if (native) return Uint8Array.fromBase64(text, { alphabet: 'base64', lastChunkHandling: 'strict' });
    return sodium.from_base64(text, ORIGINAL);
  } catch {
    return null;
  }
}

// Standard base64 with padding of `bytes`.
export function encode(bytes) {
  if (bytes.length === 0) return '';
  if (native) return bytes.toBase64({ alphabet: 'base64' });
  return sodium.to_base64(bytes, ORIGINAL);
}
