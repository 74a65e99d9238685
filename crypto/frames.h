// Frames after the handshake (docs/protocol.md §Frames): each chunk sealed on
// its own with XChaCha20-Poly1305 under the transfer's frame key, a random
// nonce carried in the frame, and associated data binding the handshake hash,
// the version, the flags and the index. The last frame (final flag) is the
// trailer: total byte count and SHA-256 of the whole file. No I/O.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "crypto/compress.h"
#include "crypto/session.h"
#include "crypto/sha256.h"

namespace sealrelay {

// The SHA-256 of a transfer's content from byte 0 and how many bytes it
// covers, kept for the whole transfer so that an upload resumed after a cut
// (or sent back to an earlier frame) never hashes a byte twice: the content
// is read once for the hash, and again only where frames are re-sent.
class ContentHash {
 public:
  // Feeds the content bytes at offsets [at, at + size): only the part past
  // absorbed() is hashed, bytes already hashed are skipped (not compared).
  // A gap (at > absorbed()) or new bytes after digest() abort: either would
  // make a digest of something other than the content.
  void absorb(uint64_t at, std::span<const uint8_t> bytes);

  uint64_t absorbed() const { return absorbed_; }

  // The SHA-256 of the absorbed bytes. Finishes the hash on the first call;
  // later calls return the same digest, so a trailer sealed again after a
  // cut carries the same figures.
  const Sha256Digest& digest();

 private:
  Sha256 sha_;
  uint64_t absorbed_ = 0;
  std::optional<Sha256Digest> digest_;
};

// Agent side. Seals the chunks of one transfer in order and keeps the running
// byte count and SHA-256 for the trailer.
class FrameSealer {
 public:
  // `first_index` is the index of the first frame sent in this session
  // (offset / chunk size when resuming); `keys` are copied. The sealer
  // hashes on its own, from byte 0: feed it the prefix with absorb_prefix().
  FrameSealer(const TransferKeys& keys, uint64_t first_index);

  // One attempt of an upload that may be cut and resumed: the chunks go on
  // from content byte `position`, and `hash` (which must outlive the sealer)
  // is the transfer's, shared by all its attempts. `position` must not be
  // past hash.absorbed() (aborts): the bytes before it are either hashed
  // already or not hashable at all.
  FrameSealer(const TransferKeys& keys, uint64_t first_index, ContentHash& hash, uint64_t position);

  // Feeds the file bytes before the resume offset into the hash and count;
  // they are not sent. Call before the first seal_chunk().
  void absorb_prefix(std::span<const uint8_t> bytes);

  // From now on, chunks go compressed whenever that pays
  // (ChunkCompressor): only after the answer agreed compression
  // (docs/protocol.md §3.1). The trailer still hashes the chunks as read.
  void compress_chunks();

  // Replaces `frame` with the sealed frame for the next chunk
  // (1..kMaxChunkBytes bytes; misuse aborts).
  void seal_chunk(std::span<const uint8_t> chunk, std::vector<uint8_t>& frame);

  // Replaces `frame` with the trailer; nothing may be sealed after it.
  void seal_trailer(std::vector<uint8_t>& frame);

  // Replaces `frame` with an abort frame: the authenticated last word of an
  // agent that cannot finish (the file changed, a read failed). `code` and
  // `message` are sent encrypted; nothing may be sealed after it.
  void seal_abort(std::string_view code, std::string_view message, std::vector<uint8_t>& frame);

  // A trailer claiming other figures, so tests can check that a lying one is
  // refused. Never call it outside tests.
  void seal_trailer_for_test(uint64_t total_bytes, const Sha256Digest& digest, std::vector<uint8_t>& frame);

  uint64_t next_index() const { return next_index_; }
  // The content offset after the last chunk sealed (or prefix absorbed).
  uint64_t total_bytes() const { return position_; }

 private:
  void seal(uint8_t flags, std::span<const uint8_t> plaintext, std::vector<uint8_t>& frame);

  Secret<protocol::kKeyBytes> key_;
  noise::Hash h_{};
  uint64_t next_index_;
  uint64_t position_ = 0;
  std::unique_ptr<ContentHash> own_hash_;  // Set by the first constructor only.
  ContentHash* hash_;
  bool finished_ = false;
  std::unique_ptr<ChunkCompressor> compressor_;  // Set by compress_chunks().
  std::vector<uint8_t> compressed_;              // Reused output of compressor_.
};

// What the answer agreed about the data frames, which the opener holds them
// to: no data frame opens to more than `chunk_bytes` (compressed or not),
// and a compressed one is refused unless `compression` was agreed.
struct FrameLimits {
  size_t chunk_bytes = protocol::kMaxChunkBytes;
  bool compression = false;
};

// Requester side. Opens the frames of one transfer, enforcing order, and
// reports complete only once the trailer verified against everything opened.
// After any error it stays failed: every later call returns the same error.
class FrameOpener {
 public:
  FrameOpener(const TransferKeys& keys, uint64_t first_index, FrameLimits limits = {});

  // Feeds bytes already on disk (a resumed .part) into the hash and count.
  void absorb_prefix(std::span<const uint8_t> bytes);

  enum class Kind { kData, kTrailer };
  // Opens `frame`. On kData, `chunk` holds the plaintext to write; on
  // kTrailer it is empty and complete() is now true. On error `chunk` is
  // empty and nothing of the frame was released. Error codes:
  //   bad_frame        malformed header or size; a data frame larger than
  //                    the chunk size, or compressed when that was not
  //                    agreed, or whose compressed content is not valid or
  //                    would decompress past the chunk size
  //   out_of_order     index other than the next one (reordered, dropped, duplicated)
  //   tampered         did not authenticate (changed bytes, other transfer, wrong key)
  //   after_end        a frame after the trailer
  //   trailer_mismatch the trailer's byte count or SHA-256 differs from what arrived
  //   aborted          the agent sent an abort frame; the message carries its reason
  Result<Kind> open(std::span<const uint8_t> frame, std::vector<uint8_t>& chunk);

  // Call at the end of the stream: fails with `truncated` unless the trailer
  // verified (or with the earlier error).
  Result<void> finish() const;

  bool complete() const { return complete_; }
  uint64_t next_index() const { return next_index_; }
  uint64_t total_bytes() const { return total_bytes_; }

 private:
  Error fail(std::string code, std::string message);
  // Why `frame` cannot be a frame of this transfer (docs/protocol.md §3,
  // receiver rule 1: size, version, flags, the agreed chunk and
  // compression), or nullptr.
  const char* impossible(std::span<const uint8_t> frame) const;
  // The content of an authenticated data frame whose plaintext is `chunk`.
  Result<Kind> open_data(uint64_t index, bool compressed, std::vector<uint8_t>& chunk);

  Secret<protocol::kKeyBytes> key_;
  noise::Hash h_{};
  uint64_t next_index_;
  uint64_t total_bytes_ = 0;
  Sha256 sha_;
  bool complete_ = false;
  std::optional<Error> failed_;
  FrameLimits limits_;
  std::unique_ptr<ChunkDecompressor> decompressor_;  // Set when limits_.compression.
  std::vector<uint8_t> packed_;                      // Reused: a compressed frame's plaintext.
};

}  // namespace sealrelay
