// The end-to-end wire format between requester and agent, mirroring
// docs/protocol.md (the source of truth). Every size and label that crosses
// the wire is defined here once. Bump kVersion on any incompatible change.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include <sodium.h>

#include "base/key_bytes.h"

namespace sealrelay::protocol {

inline constexpr uint8_t kVersion = 1;

// Noise (docs/protocol.md §Handshake).
inline constexpr std::string_view kNoiseProtocolName = "Noise_IK_25519_ChaChaPoly_BLAKE2b";
inline constexpr std::string_view kPrologue = "sealrelay/1";
using ::sealrelay::kKeyBytes;                    // X25519 keys, cipher keys (base/key_bytes.h)
inline constexpr size_t kHashBytes = 64;         // BLAKE2b, the handshake hash h
inline constexpr size_t kNoiseTagBytes = 16;     // ChaChaPoly tag
inline constexpr size_t kMaxNoiseMessageBytes = 65535;

// Frames (docs/protocol.md §Frames):
//   version u8 | flags u8 | index u64 big-endian | nonce 24B | ciphertext (plaintext + 16B tag)
inline constexpr uint8_t kFlagFinal = 0x01;      // the last frame; nothing may follow it
inline constexpr uint8_t kFlagError = 0x02;      // with kFlagFinal: the agent aborts (JSON reason)
// Only on data frames, and only when the answer agreed compression
// (docs/protocol.md §3.1): the plaintext is the chunk as one zstd frame.
inline constexpr uint8_t kFlagCompressed = 0x04;
// The compression the answer can agree; the request offers a list of names.
inline constexpr std::string_view kCompressionZstd = "zstd";
inline constexpr size_t kFrameNonceBytes = crypto_aead_xchacha20poly1305_ietf_NPUBBYTES;
inline constexpr size_t kFrameTagBytes = crypto_aead_xchacha20poly1305_ietf_ABYTES;
inline constexpr size_t kFrameIndexOffset = 2;
inline constexpr size_t kFrameNonceOffset = 10;
inline constexpr size_t kFrameHeaderBytes = kFrameNonceOffset + kFrameNonceBytes;
inline constexpr size_t kFrameOverheadBytes = kFrameHeaderBytes + kFrameTagBytes;
// AD = h (64B) | version u8 | flags u8 | index u64 big-endian: the header minus the nonce.
inline constexpr size_t kFrameAdBytes = kHashBytes + kFrameNonceOffset;
inline constexpr std::string_view kFrameKeyLabel = "sealrelay/1 frame key";

inline constexpr size_t kMinChunkBytes = 4 * 1024;
// 252 KiB, not 256: a frame kept as a Redis stream entry (13-byte record
// header + 50 bytes of frame overhead + listpack fields) then fits jemalloc's
// 256 KiB size class; a 256 KiB chunk lands in the 320 KiB class, 25% of every
// window and history held in Redis for nothing (docs/performance-history.md).
// Page-aligned, so file reads and writes stay aligned.
inline constexpr size_t kDefaultChunkBytes = 252 * 1024;
inline constexpr size_t kMaxChunkBytes = 1024 * 1024;
inline constexpr size_t kMaxFrameBytes = kFrameOverheadBytes + kMaxChunkBytes;

// Trailer plaintext: total file bytes u64 big-endian | SHA-256 of the whole file.
inline constexpr size_t kSha256Bytes = 32;
inline constexpr size_t kTrailerBytes = 8 + kSha256Bytes;

// An abort frame's plaintext: {"v":1,"error":CODE,"message":...}, at most this long.
inline constexpr size_t kMaxAbortBytes = 4096;

// Payloads (docs/protocol.md §Payloads).
inline constexpr size_t kMaxPathBytes = 4096;
// The longest entry name (answer, listing), refusal message and error code
// (the grammar of error codes, proto/errors.h, has the same bound).
inline constexpr size_t kMaxNameBytes = 1024;
inline constexpr size_t kMaxMessageBytes = 1024;
inline constexpr size_t kMaxCodeBytes = 64;
// The payloads of messages 1 and 2 are followed by spaces up to a multiple
// of this (docs/protocol.md §4.4), so the relay sees the bucket, not the
// length of the path, the name or the refusal.
inline constexpr size_t kPayloadBucketBytes = 256;
// Message 1 around its payload: e (32), s encrypted (32 + 16), the payload's tag (16).
inline constexpr size_t kMessage1OverheadBytes = 2 * kKeyBytes + 2 * kNoiseTagBytes;
// A tree request's select patterns, all together (docs/protocol.md §4.5;
// tree_stream.h has the rest of the folder stream's bounds).
inline constexpr size_t kMaxSelectBytes = 8192;
// The longest request, a tree's: every path byte written as \u00XX (6
// bytes); every select pattern byte and resume path byte a '"', written \"
// (2 bytes: neither may hold a control character); and the other fields —
// 128 patterns' quotes and commas, the numbers, the names — at their
// longest about 800 bytes, in the four more buckets.
inline constexpr size_t kMaxPaddedRequestBytes =
    6 * kMaxPathBytes + 2 * kMaxSelectBytes + 2 * kMaxPathBytes + 4 * kPayloadBucketBytes;

static_assert(kFrameNonceBytes == 24 && kFrameTagBytes == 16);
static_assert(kFrameHeaderBytes == 34);
static_assert(kKeyBytes == crypto_scalarmult_BYTES && kKeyBytes == crypto_scalarmult_SCALARBYTES);
static_assert(kKeyBytes == crypto_aead_xchacha20poly1305_ietf_KEYBYTES);
static_assert(kKeyBytes == crypto_aead_chacha20poly1305_ietf_KEYBYTES);
static_assert(kHashBytes == crypto_generichash_BYTES_MAX);
static_assert(kMaxFrameBytes < (size_t{1} << 32), "frames are length-prefixed with u32 on upload");
static_assert(kTrailerBytes <= kMinChunkBytes && kMaxAbortBytes <= kMaxChunkBytes);
static_assert(kMaxPaddedRequestBytes % kPayloadBucketBytes == 0);
static_assert(kMessage1OverheadBytes + kMaxPaddedRequestBytes <= kMaxNoiseMessageBytes,
              "the largest padded request must fit in message 1");

}  // namespace sealrelay::protocol
