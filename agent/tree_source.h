// The content of a `tree` transfer: the folder stream of docs/protocol.md
// §4.5, produced while the folder is walked (tree_walk.h), in pieces of the
// caller's size. Files are read straight into the stream's buffer, each
// under change detection (change_detect.h): a file that changes, vanishes or
// fails to read ends with that status and the walk goes on. Memory: the
// walker's, plus one chunk and one DATA record of buffer.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>

#include "agent/share_policy.h"
#include "agent/tree_walk.h"
#include "base/result.h"
#include "crypto/payloads.h"

namespace sealrelay::agent {

// What a counting walk found before the stream starts, for the answer.
struct TreeCount {
  uint64_t files = 0;
  uint64_t bytes = 0;  // content bytes from the resume point on
};

// Walks `root` without opening a file. Errors as TreeWalker::start's.
Result<TreeCount> count_tree(const TreeRoot& root, const TreeWalkOptions& options, const Request& request);

class TreeSource {
 public:
  // `request` says contents and resume; root and options must outlive the source.
  static Result<std::unique_ptr<TreeSource>> start(const TreeRoot& root, const TreeWalkOptions& options,
                                                   const Request& request);
  ~TreeSource();
  // The stream's next bytes into `into`: all of it unless the stream ends
  // first; 0 once it has ended. Errors are the walker's (io_error).
  Result<size_t> next(std::span<uint8_t> into);

 private:
  struct State;
  explicit TreeSource(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

}  // namespace sealrelay::agent
