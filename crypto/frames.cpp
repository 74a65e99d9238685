#include "crypto/frames.h"

#include <cstring>

#include <nlohmann/json.hpp>

namespace sealrelay {
namespace {

using protocol::kFrameHeaderBytes;
using protocol::kFrameIndexOffset;
using protocol::kFrameNonceBytes;
using protocol::kFrameNonceOffset;
using protocol::kFrameOverheadBytes;
using protocol::kFrameTagBytes;

void put_u64(uint8_t* p, uint64_t v) {
  for (int i = 7; i >= 0; --i, v >>= 8) p[i] = static_cast<uint8_t>(v);
}

uint64_t get_u64(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | p[i];
  return v;
}

// AD = h | version | flags | index, i.e. h followed by the header minus the nonce.
void make_ad(const noise::Hash& h, const uint8_t* header, uint8_t ad[protocol::kFrameAdBytes]) {
  std::memcpy(ad, h.data(), h.size());
  std::memcpy(ad + h.size(), header, kFrameNonceOffset);
}

Secret<protocol::kKeyBytes> copy_key(const TransferKeys& keys) { return keys.frame_key.clone(); }

}  // namespace

void ContentHash::absorb(uint64_t at, std::span<const uint8_t> bytes) {
  if (at > absorbed_) std::abort();  // Misuse: a gap would go unhashed.
  const uint64_t seen = absorbed_ - at;
  if (seen >= bytes.size()) return;
  if (digest_) std::abort();  // Misuse: content past the end the trailer announced.
  sha_.update(bytes.subspan(static_cast<size_t>(seen)));
  absorbed_ = at + bytes.size();
}

const Sha256Digest& ContentHash::digest() {
  if (!digest_) digest_ = sha_.finish();
  return *digest_;
}

FrameSealer::FrameSealer(const TransferKeys& keys, uint64_t first_index)
    : key_(copy_key(keys)),
      h_(keys.handshake_hash),
      next_index_(first_index),
      own_hash_(std::make_unique<ContentHash>()),
      hash_(own_hash_.get()) {}

FrameSealer::FrameSealer(const TransferKeys& keys, uint64_t first_index, ContentHash& hash, uint64_t position)
    : key_(copy_key(keys)), h_(keys.handshake_hash), next_index_(first_index), position_(position), hash_(&hash) {
  if (position > hash.absorbed()) std::abort();  // Misuse: the bytes before `position` were never hashed.
}

void FrameSealer::absorb_prefix(std::span<const uint8_t> bytes) {
  hash_->absorb(position_, bytes);
  position_ += bytes.size();
}

void FrameSealer::seal(uint8_t flags, std::span<const uint8_t> plaintext, std::vector<uint8_t>& frame) {
  if (finished_) std::abort();  // Misuse: nothing follows the trailer.
  frame.resize(kFrameOverheadBytes + plaintext.size());
  uint8_t* p = frame.data();
  p[0] = protocol::kVersion;
  p[1] = flags;
  put_u64(p + kFrameIndexOffset, next_index_);
  randombytes_buf(p + kFrameNonceOffset, kFrameNonceBytes);
  uint8_t ad[protocol::kFrameAdBytes];
  make_ad(h_, p, ad);
  unsigned long long clen = 0;
  crypto_aead_xchacha20poly1305_ietf_encrypt(p + kFrameHeaderBytes, &clen, plaintext.data(), plaintext.size(), ad,
                                             sizeof ad, nullptr, p + kFrameNonceOffset, key_.data());
  ++next_index_;
}

void FrameSealer::compress_chunks() {
  if (!compressor_) compressor_ = std::make_unique<ChunkCompressor>();
}

void FrameSealer::seal_chunk(std::span<const uint8_t> chunk, std::vector<uint8_t>& frame) {
  if (chunk.empty() || chunk.size() > protocol::kMaxChunkBytes) std::abort();  // Misuse.
  // A chunk re-sent after a rewind was hashed on its first pass and is not
  // hashed again. Should the file have changed in between, what is re-sent
  // no longer matches the digest: the requester fails the transfer as an
  // integrity error (and the agent's change check before the trailer
  // catches it first).
  hash_->absorb(position_, chunk);
  position_ += chunk.size();
  if (compressor_ && compressor_->compress(chunk, compressed_)) {
    seal(protocol::kFlagCompressed, compressed_, frame);
  } else {
    seal(0, chunk, frame);
  }
}

void FrameSealer::seal_trailer(std::vector<uint8_t>& frame) {
  // The trailer speaks for the whole content: the sealer must stand at the
  // end of what was hashed (a sealer sent back must re-send up to there).
  if (position_ != hash_->absorbed()) std::abort();  // Misuse.
  seal_trailer_for_test(position_, hash_->digest(), frame);
}

void FrameSealer::seal_trailer_for_test(uint64_t total_bytes, const Sha256Digest& digest,
                                        std::vector<uint8_t>& frame) {
  uint8_t trailer[protocol::kTrailerBytes];
  put_u64(trailer, total_bytes);
  std::memcpy(trailer + 8, digest.data(), digest.size());
  seal(protocol::kFlagFinal, trailer, frame);
  finished_ = true;
}

void FrameSealer::seal_abort(std::string_view code, std::string_view message, std::vector<uint8_t>& frame) {
  std::string text = nlohmann::json{{"v", protocol::kVersion}, {"error", code}, {"message", message}}.dump(
      -1, ' ', false, nlohmann::json::error_handler_t::replace);
  if (text.size() > protocol::kMaxAbortBytes) {
    text = nlohmann::json{{"v", protocol::kVersion}, {"error", code.substr(0, protocol::kMaxCodeBytes)}, {"message", "(reason too long)"}}
               .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  }
  seal(protocol::kFlagFinal | protocol::kFlagError, std::span<const uint8_t>(
      reinterpret_cast<const uint8_t*>(text.data()), text.size()), frame);
  finished_ = true;
}

FrameOpener::FrameOpener(const TransferKeys& keys, uint64_t first_index, FrameLimits limits)
    : key_(copy_key(keys)), h_(keys.handshake_hash), next_index_(first_index), limits_(limits) {
  if (limits_.compression) decompressor_ = std::make_unique<ChunkDecompressor>();
}

void FrameOpener::absorb_prefix(std::span<const uint8_t> bytes) {
  sha_.update(bytes);
  total_bytes_ += bytes.size();
}

Error FrameOpener::fail(std::string code, std::string message) {
  failed_ = make_error(std::move(code), std::move(message));
  return *failed_;
}

const char* FrameOpener::impossible(std::span<const uint8_t> frame) const {
  if (frame.size() < kFrameOverheadBytes || frame.size() > protocol::kMaxFrameBytes) {
    return "frame has an impossible size";
  }
  const uint8_t flags = frame[1];
  const bool final = (flags & protocol::kFlagFinal) != 0;
  const bool aborting = (flags & protocol::kFlagError) != 0;
  const bool compressed = (flags & protocol::kFlagCompressed) != 0;
  constexpr uint8_t kKnown = protocol::kFlagFinal | protocol::kFlagError | protocol::kFlagCompressed;
  if (frame[0] != protocol::kVersion || (flags & ~kKnown) != 0 || (aborting && !final) || (compressed && final)) {
    return "frame has an unknown version or flags";
  }
  if (compressed && !limits_.compression) {
    return "a compressed frame arrived, but compression was not agreed for this transfer";
  }
  const size_t plain_size = frame.size() - kFrameOverheadBytes;
  const bool size_ok = aborting ? plain_size > 0 && plain_size <= protocol::kMaxAbortBytes
                       : final  ? plain_size == protocol::kTrailerBytes
                                : plain_size > 0 && plain_size <= limits_.chunk_bytes;
  return size_ok ? nullptr : "frame has an impossible size";
}

Result<FrameOpener::Kind> FrameOpener::open(std::span<const uint8_t> frame, std::vector<uint8_t>& chunk) {
  chunk.clear();
  if (failed_) return *failed_;
  if (complete_) return fail("after_end", "a frame arrived after the trailer");
  if (const char* why = impossible(frame)) return fail("bad_frame", why);
  const uint8_t* p = frame.data();
  const bool final = (p[1] & protocol::kFlagFinal) != 0;
  const bool aborting = (p[1] & protocol::kFlagError) != 0;
  const bool compressed = (p[1] & protocol::kFlagCompressed) != 0;
  const size_t plain_size = frame.size() - kFrameOverheadBytes;
  const uint64_t index = get_u64(p + kFrameIndexOffset);
  if (index != next_index_) {
    return fail("out_of_order", "frame " + std::to_string(index) + " arrived where frame " +
                                    std::to_string(next_index_) + " was due (reordered, dropped or duplicated)");
  }

  uint8_t ad[protocol::kFrameAdBytes];
  make_ad(h_, p, ad);
  std::vector<uint8_t>& plain = compressed ? packed_ : chunk;
  plain.resize(plain_size);
  unsigned long long mlen = 0;
  if (crypto_aead_xchacha20poly1305_ietf_decrypt(plain.data(), &mlen, nullptr, p + kFrameHeaderBytes,
                                                 frame.size() - kFrameHeaderBytes, ad, sizeof ad,
                                                 p + kFrameNonceOffset, key_.data()) != 0) {
    plain.clear();
    return fail("tampered", "frame " + std::to_string(index) + " failed authentication (altered, or not from this "
                            "transfer)");
  }
  ++next_index_;
  if (aborting) {
    auto reason = nlohmann::json::parse(chunk.begin(), chunk.end(), nullptr, false);
    chunk.clear();
    std::string code = "unknown", message;
    if (reason.is_object() && reason.value("error", nlohmann::json()).is_string()) {
      code = reason["error"].get<std::string>();
      if (reason.value("message", nlohmann::json()).is_string()) message = reason["message"].get<std::string>();
    }
    return fail("aborted", "the agent stopped the transfer: " + message + " (" + code + ")");
  }
  if (!final) return open_data(index, compressed, chunk);

  const uint64_t claimed_bytes = get_u64(chunk.data());
  Sha256Digest digest = sha_.finish();
  const bool same = claimed_bytes == total_bytes_ &&
                    sodium_memcmp(digest.data(), chunk.data() + 8, digest.size()) == 0;
  chunk.clear();
  if (!same) {
    return fail("trailer_mismatch", "the trailer's byte count or SHA-256 does not match what arrived (" +
                                        std::to_string(total_bytes_) + " bytes received, " +
                                        std::to_string(claimed_bytes) + " announced)");
  }
  complete_ = true;
  return Kind::kTrailer;
}

Result<FrameOpener::Kind> FrameOpener::open_data(uint64_t index, bool compressed, std::vector<uint8_t>& chunk) {
  // The frame authenticated, so it is the agent's: a compressed one that
  // would grow past the agreed chunk is an agent's lie (or a bomb), refused
  // as an integrity error before more than a chunk's worth is written.
  if (compressed && !decompressor_->decompress(packed_, limits_.chunk_bytes, chunk)) {
    return fail("bad_frame", "frame " + std::to_string(index) + " is compressed content that is not valid zstd or "
                             "would decompress to more than the agreed chunk size (" +
                             std::to_string(limits_.chunk_bytes) + " bytes)");
  }
  sha_.update(chunk);
  total_bytes_ += chunk.size();
  return Kind::kData;
}

Result<void> FrameOpener::finish() const {
  if (failed_) return *failed_;
  if (!complete_) {
    return make_error("truncated", "the stream ended before the trailer: the file is incomplete (" +
                                       std::to_string(total_bytes_) + " bytes so far)");
  }
  return {};
}

}  // namespace sealrelay
