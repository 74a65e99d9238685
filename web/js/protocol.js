// The end-to-end wire constants: mirrors of crypto/protocol.h and base/
// (their one definition; docs/protocol.md §7 lists each pair). A test,
// web/test/contract.test.mjs, fails when a value here differs from C++.

export const VERSION = 1;

// Noise (docs/protocol.md §2).
export const PROLOGUE = 'sealrelay/1';
export const KEY_BYTES = 32;            // X25519 keys, cipher keys
export const HASH_BYTES = 64;           // BLAKE2b, the handshake hash h
export const NOISE_TAG_BYTES = 16;      // ChaChaPoly tag
export const MAX_NOISE_MESSAGE_BYTES = 65535;

// Frames (docs/protocol.md §3):
//   version u8 | flags u8 | index u64 big-endian | nonce 24B | ciphertext (plaintext + 16B tag)
export const FLAG_FINAL = 0x01;         // the last frame; nothing may follow it
export const FLAG_ERROR = 0x02;         // with FLAG_FINAL: the agent aborts (JSON reason)
// Only on data frames, only when the answer agreed compression
// (docs/protocol.md §3.1): the plaintext is the chunk as zstd.
export const FLAG_COMPRESSED = 0x04;
export const COMPRESSION_ZSTD = 'zstd';
export const FRAME_NONCE_BYTES = 24;
export const FRAME_TAG_BYTES = 16;
export const FRAME_INDEX_OFFSET = 2;
export const FRAME_NONCE_OFFSET = 10;
export const FRAME_HEADER_BYTES = FRAME_NONCE_OFFSET + FRAME_NONCE_BYTES;   // 34
export const FRAME_OVERHEAD_BYTES = FRAME_HEADER_BYTES + FRAME_TAG_BYTES;   // 50
// AD = h (64B) | version u8 | flags u8 | index u64 big-endian: the header minus the nonce.
export const FRAME_AD_BYTES = HASH_BYTES + FRAME_NONCE_OFFSET;
export const FRAME_KEY_LABEL = 'sealrelay/1 frame key';

export const MIN_CHUNK_BYTES = 4 * 1024;
export const DEFAULT_CHUNK_BYTES = 252 * 1024;   // as crypto/protocol.h: fits Redis's 256 KiB allocations
export const MAX_CHUNK_BYTES = 1024 * 1024;
export const MAX_FRAME_BYTES = FRAME_OVERHEAD_BYTES + MAX_CHUNK_BYTES;

// Trailer plaintext: total bytes u64 big-endian | SHA-256 of the whole content.
export const SHA256_BYTES = 32;
export const TRAILER_BYTES = 8 + SHA256_BYTES;

// An abort frame's plaintext: {"v":1,"error":CODE,"message":...}, at most this long.
export const MAX_ABORT_BYTES = 4096;

// Payloads (docs/protocol.md §4).
export const MAX_PATH_BYTES = 4096;
// The longest entry name (answer, listing), refusal message and error code.
export const MAX_NAME_BYTES = 1024;
export const MAX_MESSAGE_BYTES = 1024;
export const MAX_CODE_BYTES = 64;

// Ids (docs/api.md §Ids), as base/ids.h: an agent id names a folder, a pin
// and a word on the screen, so one received from the relay is checked first.
export const AGENT_ID_RULE = '1-64 characters of A-Z a-z 0-9 . _ -, starting with a letter or digit';
const AGENT_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const TRANSFER_ID = /^t_[0-9a-f]{32}$/;
export function validAgentId(id) { return typeof id === 'string' && AGENT_ID.test(id); }
export function validTransferId(id) { return typeof id === 'string' && TRANSFER_ID.test(id); }

// Payload padding (docs/protocol.md §4.4), as crypto/protocol.h: the request
// and the answer are followed by spaces up to a multiple of this, so the
// relay sees the bucket, not the length of the path, the name or the refusal.
export const PAYLOAD_BUCKET_BYTES = 256;
