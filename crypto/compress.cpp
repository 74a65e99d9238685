#include "crypto/compress.h"

#include <zstd.h>

#include <cstdlib>

namespace sealrelay {

struct ChunkCompressor::Context {
  ZSTD_CCtx* cctx = ZSTD_createCCtx();
  ~Context() { ZSTD_freeCCtx(cctx); }
};

ChunkCompressor::ChunkCompressor() : ctx_(std::make_unique<Context>()) {
  if (!ctx_->cctx) std::abort();  // Out of memory.
  // No checksum: the frame's AEAD tag and the trailer's SHA-256 already
  // cover the content. No content size: the receiver bounds by the chunk.
  ZSTD_CCtx_setParameter(ctx_->cctx, ZSTD_c_compressionLevel, kZstdLevel);
  ZSTD_CCtx_setParameter(ctx_->cctx, ZSTD_c_checksumFlag, 0);
}

ChunkCompressor::~ChunkCompressor() = default;

bool ChunkCompressor::compress(std::span<const uint8_t> chunk, std::vector<uint8_t>& out) {
  if (skip_ > 0) {
    --skip_;
    return false;
  }
  // Room for the largest output worth keeping only: zstd stops with
  // dstSize_tooSmall as soon as it would not save enough.
  const size_t room = chunk.size() * (100 - kMinSavingPercent) / 100;
  out.resize(room);
  size_t n = room == 0 ? 0 : ZSTD_compress2(ctx_->cctx, out.data(), room, chunk.data(), chunk.size());
  if (room == 0 || ZSTD_isError(n)) {
    ZSTD_CCtx_reset(ctx_->cctx, ZSTD_reset_session_only);
    skip_ = next_skip_;
    next_skip_ = std::min(next_skip_ * 2, kMaxSkippedChunks);
    return false;
  }
  out.resize(n);
  next_skip_ = 1;
  return true;
}

struct ChunkDecompressor::Context {
  ZSTD_DCtx* dctx = ZSTD_createDCtx();
  ~Context() { ZSTD_freeDCtx(dctx); }
};

ChunkDecompressor::ChunkDecompressor() : ctx_(std::make_unique<Context>()) {
  if (!ctx_->dctx) std::abort();  // Out of memory.
}

ChunkDecompressor::~ChunkDecompressor() = default;

bool ChunkDecompressor::decompress(std::span<const uint8_t> compressed, size_t limit, std::vector<uint8_t>& out) {
  // One-shot into a buffer of `limit` bytes: zstd writes only there (no
  // window buffer of its own) and fails with dstSize_tooSmall rather than
  // write past it, whatever the frame header claims.
  out.resize(limit);
  size_t n = ZSTD_decompressDCtx(ctx_->dctx, out.data(), out.size(), compressed.data(), compressed.size());
  if (ZSTD_isError(n) || n == 0) {
    out.clear();
    return false;
  }
  out.resize(n);
  return true;
}

}  // namespace sealrelay
