// Fingerprints: the short, human-comparable name of an X25519 public key,
// mirroring base/fingerprint.h (docs/protocol.md §1 "Fingerprint"):
//
//   digest      = BLAKE2b-256("sealrelay fingerprint v1" || public_key)   (unkeyed)
//   fingerprint = base32(digest[0..15)), RFC 4648 alphabet, upper case, no padding,
//                 in 6 groups of 4 characters joined by "-"
//
// The all-zero key has fingerprint AQOA-7EMW-SAUE-QMV4-GRLR-X5KO.
import sodium from './sodium.js';
import { concat, utf8 } from './bytes.js';
import { KEY_BYTES } from './protocol.js';

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
export const DOMAIN_LABEL = 'sealrelay fingerprint v1';
export const DIGEST_BYTES = 15;   // 120 bits = 24 base32 characters
const DOMAIN = utf8(DOMAIN_LABEL);
const CHARS = 24;

function grouped(chars) {
  return chars.match(/.{1,4}/g).join('-');
}

// "XXXX-XXXX-XXXX-XXXX-XXXX-XXXX" of a 32-byte public key.
export function fingerprintOf(publicKey) {
  if (!(publicKey instanceof Uint8Array) || publicKey.length !== KEY_BYTES) {
    throw new TypeError(`public key must be ${KEY_BYTES} bytes`);
  }
  const digest = sodium.crypto_generichash(32, concat(DOMAIN, publicKey), null);
  let chars = '';
  let buffer = 0;
  let bits = 0;
  for (let i = 0; i < DIGEST_BYTES; ++i) {
    buffer = ((buffer << 8) | digest[i]) & 0xfff;  // at most 12 bits are ever pending
    bits += 8;
    while (bits >= 5) {
      chars += ALPHABET[(buffer >> (bits - 5)) & 0x1f];
      bits -= 5;
    }
  }
  return grouped(chars);
}

// Canonical form of a fingerprint a person typed or pasted: case-insensitive,
// dashes and spaces ignored. null when it is not 24 base32 characters.
export function normalizeFingerprint(typed) {
  if (typeof typed !== 'string') return null;
  let chars = '';
  for (const c of typed) {
    if (c === '-' || c === ' ') continue;
    const upper = c.length === 1 && c >= 'a' && c <= 'z' ? c.toUpperCase() : c;
    if (!ALPHABET.includes(upper) || upper.length !== 1) return null;
    chars += upper;
  }
  return chars.length === CHARS ? grouped(chars) : null;
}
