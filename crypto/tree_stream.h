// The folder stream of a `tree` transfer (docs/protocol.md §4.5): the
// records an agent packs into the content of one transfer's frames, and the
// receiver's checks on them. No I/O; the frames (crypto/frames.h) carry the
// bytes, authenticate them and verify the whole stream's trailer.
//
// The encoder appends records to a byte buffer, which the agent cuts into
// chunks without regard to record boundaries (frame boundaries must not
// reveal file boundaries). The decoder takes the stream's bytes in pieces of
// any size, holds at most one record that is not DATA (≤ kMaxRecordBytes),
// passes DATA through as it comes, and checks every rule of §4.5 before the
// visitor sees anything: the visitor only ever gets paths that pass
// check_path(), in stream order, each under a folder it was told of.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "crypto/protocol.h"

namespace sealrelay::tree {

inline constexpr size_t kRecordHeaderBytes = 5;      // type u8 ‖ length u32
inline constexpr size_t kMaxDataBytes = 64 * 1024;   // one DATA record's content
inline constexpr size_t kMaxComponentBytes = 255;
inline constexpr size_t kMaxDepth = 128;             // components of a path; also select.max_depth's maximum
inline constexpr size_t kMaxPathBytes = protocol::kMaxPathBytes;
// The longest non-DATA record: FILE with a kMaxPathBytes path.
inline constexpr size_t kMaxRecordBytes = kRecordHeaderBytes + 28 + kMaxPathBytes;
inline constexpr size_t kMaxSelectPatterns = 64;     // each of include and exclude
inline constexpr size_t kMaxSelectBytes = protocol::kMaxSelectBytes;  // all patterns together
inline constexpr uint64_t kDefaultMaxEntries = 1'000'000;
inline constexpr uint32_t kMaxMode = 0777;

enum class RecordType : uint8_t { kDir = 1, kFile = 2, kData = 3, kFileEnd = 4, kSkip = 5, kEnd = 6 };

enum class FileStatus : uint8_t { kOk = 0, kChanged = 1, kVanished = 2, kUnreadable = 3 };
std::string_view file_status_name(FileStatus status);  // "ok", "changed", "vanished", "unreadable"

enum class SkipReason : uint8_t {
  kSymlinkOut = 1, kLoop = 2, kUnreadable = 3, kTooLarge = 4, kHardLink = 5, kBadName = 6, kTooDeep = 7, kTooMany = 8,
};
std::string_view skip_reason_name(SkipReason reason);  // "symlink_out", "loop", ... as in §4.5

struct DirRecord {
  std::string path;
  int64_t mtime = 0;  // unix seconds
  uint32_t mode = 0;  // 0 .. kMaxMode
};

struct FileRecord {
  std::string path;
  uint64_t size = 0;
  int64_t mtime = 0;
  uint32_t mode = 0;
  uint64_t offset = 0;  // where the DATA starts (resume); ≤ size
};

struct FileEndRecord {
  FileStatus status = FileStatus::kOk;
  std::array<uint8_t, protocol::kSha256Bytes> sha256{};  // of bytes 0 .. size; zeros unless ok
};

struct SkipRecord {
  std::string path;
  SkipReason reason = SkipReason::kUnreadable;
};

struct EndRecord {
  uint64_t files = 0;
  uint64_t dirs = 0;
  uint64_t bytes = 0;
  uint64_t skipped = 0;
};

// Rule 2 of §4.5: ok, or error "bad_tree" saying what is wrong (the message
// never echoes the name's bytes).
Result<void> check_path(std::string_view path);

// Stream order (§4.5): component by component, each compared bytewise; a
// folder comes before everything inside it. <0, 0, >0 like strcmp.
int compare_paths(std::string_view a, std::string_view b);

// Encoders: each appends one whole record to `out`. Paths must pass
// check_path (SKIP paths after the agent replaced bad bytes with U+FFFD).
void append_dir(std::vector<uint8_t>& out, const DirRecord& record);
void append_file(std::vector<uint8_t>& out, const FileRecord& record);
// Appends the 5-byte header of a DATA record of `length` (1 .. kMaxDataBytes)
// bytes; the caller appends exactly that many content bytes next (so the
// agent can read the file straight into the buffer).
void append_data_header(std::vector<uint8_t>& out, size_t length);
void append_file_end(std::vector<uint8_t>& out, const FileEndRecord& record);
void append_skip(std::vector<uint8_t>& out, const SkipRecord& record);
void append_end(std::vector<uint8_t>& out, const EndRecord& record);

// What the receiver does with checked records. An error from a visitor
// method stops the decoder and is returned by feed() as it is.
class TreeVisitor {
 public:
  virtual ~TreeVisitor() = default;
  virtual Result<void> on_dir(const DirRecord& record) = 0;
  virtual Result<void> on_file(const FileRecord& record) = 0;
  // The current file's content, in order, in pieces of any size (a DATA
  // record may be handed over in several pieces as its bytes arrive).
  virtual Result<void> on_data(std::span<const uint8_t> bytes) = 0;
  // After exactly size − offset bytes (status ok), or fewer (other status).
  // The SHA-256 is the visitor's to check: it alone holds a resumed prefix.
  virtual Result<void> on_file_end(const FileEndRecord& record) = 0;
  virtual Result<void> on_skip(const SkipRecord& record) = 0;
  virtual Result<void> on_end(const EndRecord& record) = 0;
};

struct DecoderOptions {
  bool contents = true;                    // the request's `contents`
  std::optional<std::string> resume_path;  // the request's resume.path (its folders are known)
  uint64_t max_entries = kDefaultMaxEntries;
};

class TreeDecoder {
 public:
  TreeDecoder(TreeVisitor& visitor, DecoderOptions options);
  ~TreeDecoder();
  TreeDecoder(TreeDecoder&&) noexcept;
  TreeDecoder& operator=(TreeDecoder&&) noexcept;

  // The stream's next bytes. Error "bad_tree" on any break of §4.5's rules,
  // or the visitor's error; after the first error every call fails the same.
  Result<void> feed(std::span<const uint8_t> bytes);

  // The stream is over (the frames' trailer verified): "bad_tree" unless
  // END was the last thing fed.
  Result<void> finish();

  bool ended() const;
  uint64_t entries() const;  // records with a path so far

 private:
  struct State;
  std::unique_ptr<State> state_;  // defined in tree_stream.cpp
};

}  // namespace sealrelay::tree
