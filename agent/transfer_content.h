// What a transfer sends (docs/protocol.md §3): a file, a listing document
// or a folder stream, read by the upload from any chunk boundary so it can
// resume from the frame the relay committed last.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "agent/change_detect.h"
#include "agent/share_policy.h"
#ifndef _WIN32  // The folder walk is POSIX only so far (agent/CMakeLists.txt).
#include "agent/tree_source.h"
#include "agent/tree_walk.h"
#endif
#include "base/result.h"
#include "crypto/payloads.h"

namespace sealrelay::agent {

class Content {
 public:
  virtual ~Content() = default;
  // The content's size, once known (a folder stream's only at its end).
  virtual std::optional<uint64_t> size() const = 0;
  // Reads into.size() bytes at `at` (a chunk boundary), fewer only at the
  // end of the content (0 there); "changed" if a file is shorter now than
  // it said, "io_error" when reading failed.
  virtual Result<size_t> read(uint64_t at, std::span<uint8_t> into) = 0;
  // Before the trailer: the content is still what the answer described.
  virtual Result<void> still_same() { return {}; }
};

// A listing document.
class MemoryContent : public Content {
 public:
  explicit MemoryContent(std::string data) : data_(std::move(data)) {}
  std::optional<uint64_t> size() const override { return data_.size(); }
  Result<size_t> read(uint64_t at, std::span<uint8_t> into) override;

 private:
  std::string data_;
};

// A file of a get, under change detection.
class FileContent : public Content {
 public:
  FileContent(OpenedFile file, FileWatch watch) : file_(std::move(file)), watch_(std::move(watch)) {}
  std::optional<uint64_t> size() const override { return static_cast<uint64_t>(watch_.snapshot().size); }
  Result<size_t> read(uint64_t at, std::span<uint8_t> into) override;
  Result<void> still_same() override { return watch_.still_same(file_.fd.get()); }

 private:
  OpenedFile file_;
  FileWatch watch_;
};

#ifndef _WIN32
// A folder stream (docs/protocol.md §4.5): produced once, in order, while
// the folder is walked; its size is known at its end, and the trailer
// covers what was actually sent. The last chunks (kKeptBytes) stay at hand
// for an upload the relay sends back; further back the read fails
// (io_error), and the requester resumes the folder.
class TreeContent : public Content {
 public:
  static constexpr size_t kKeptBytes = 4 * 1024 * 1024;

  TreeContent(TreeRoot root, TreeWalkOptions options, Request request)
      : root_(std::move(root)), options_(std::move(options)), request_(std::move(request)) {}
  // Starts the walk; errors as TreeWalker::start's.
  Result<void> start();
  std::optional<uint64_t> size() const override { return end_; }
  Result<size_t> read(uint64_t at, std::span<uint8_t> into) override;

 private:
  Result<size_t> replay(uint64_t at, std::span<uint8_t> into) const;

  TreeRoot root_;
  TreeWalkOptions options_;
  Request request_;
  std::unique_ptr<TreeSource> source_;
  uint64_t produced_ = 0;
  std::optional<uint64_t> end_;
  std::deque<std::pair<uint64_t, std::vector<uint8_t>>> kept_;  // the last chunks, by offset
  size_t kept_bytes_ = 0;
};

#endif  // _WIN32

}  // namespace sealrelay::agent
