// zstd for data frames (docs/protocol.md §3.1): the agent compresses a chunk
// before it is sealed, and keeps the compressed form only when it saves
// enough; the requester decompresses after the frame authenticated, never
// past the chunk size the answer agreed. No I/O.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

namespace sealrelay {

// The zstd level of `auto`. Level 1 shrinks CSV and logs 5-10x at several
// hundred MB/s per core; higher levels cost more CPU than a 5-50 Mbit/s
// uplink saves on already-small output, lower (negative) levels lose a third
// of the ratio on text.
inline constexpr int kZstdLevel = 1;
// A chunk is sent compressed only when that saves at least this share
// (percent) of its bytes: below that the requester's work is not worth it.
inline constexpr size_t kMinSavingPercent = 5;
// After a chunk that did not compress, the next ones are sent as they are
// without trying, 1, 2, 4 ... up to this many of them, before trying again:
// incompressible content (JPEG, archives) then costs a fast link almost no
// compression CPU, and compressible content after it is noticed within
// this many chunks.
inline constexpr unsigned kMaxSkippedChunks = 16;

// Agent side; one per upload attempt (owns a zstd context of about 1 MiB).
class ChunkCompressor {
 public:
  ChunkCompressor();
  ~ChunkCompressor();
  ChunkCompressor(const ChunkCompressor&) = delete;
  ChunkCompressor& operator=(const ChunkCompressor&) = delete;

  // Replaces `out` with `chunk` compressed as one zstd frame and returns
  // true when that is at most (100 - kMinSavingPercent) % of its size;
  // returns false (out unspecified) otherwise, or without trying while it
  // skips chunks after an incompressible one (see kMaxSkippedChunks).
  bool compress(std::span<const uint8_t> chunk, std::vector<uint8_t>& out);

 private:
  struct Context;
  std::unique_ptr<Context> ctx_;
  unsigned skip_ = 0;       // chunks still to send without trying
  unsigned next_skip_ = 1;  // how many to skip after the next miss
};

// Requester side; one per transfer (a zstd context of about 160 KiB; output
// goes straight into the caller's buffer, so memory does not grow with the
// content).
class ChunkDecompressor {
 public:
  ChunkDecompressor();
  ~ChunkDecompressor();
  ChunkDecompressor(const ChunkDecompressor&) = delete;
  ChunkDecompressor& operator=(const ChunkDecompressor&) = delete;

  // Replaces `out` with the content of `compressed` (zstd frames). Fails,
  // leaving `out` empty, when it is not valid zstd, decompresses to nothing,
  // or would decompress to more than `limit` bytes: no more than `limit`
  // bytes are ever written.
  bool decompress(std::span<const uint8_t> compressed, size_t limit, std::vector<uint8_t>& out);

 private:
  struct Context;
  std::unique_ptr<Context> ctx_;
};

}  // namespace sealrelay
