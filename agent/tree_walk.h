// The folder walker of a `tree` transfer (docs/protocol.md §4.5): the
// entries of a pulled folder in stream order, under the share's policy and
// the request's select, one at a time.
//
// Same guarantees as a get (share_policy.h): every entry is reached through
// directory descriptors (openat with O_NOFOLLOW from the folder's), never by
// a path string; the share's includes, excludes, scope, max_file_size and
// hard-link rule apply to each entry as they would to a get of it; symbolic
// links are followed by the resolver's own rules (inside the share and the
// scope, or reported as SKIP symlink_out), and a link back to a folder on
// the current branch (same device and inode) is SKIP loop. Device files,
// FIFOs, sockets, excluded entries and entries outside the scope are left
// out silently, as in a listing.
//
// Bounded memory: one sorted list of names per level of the current branch
// (at most max_dir_entries each; the rest of a bigger directory is one SKIP
// too_many), and one descriptor per level. Nothing else grows with the tree.
#pragma once

#include <sys/stat.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "agent/glob.h"
#include "agent/share_policy.h"
#include "agent/unique_fd.h"
#include "base/result.h"
#include "crypto/payloads.h"
#include "crypto/tree_stream.h"

namespace sealrelay::agent {

// Most entries of one directory a tree walk sends; the rest is SKIP too_many.
constexpr size_t kMaxTreeDirEntries = 100'000;

struct TreeWalkOptions {
  std::vector<GlobPattern> include;  // the request's select, anchored at the pulled folder
  std::vector<GlobPattern> exclude;
  std::optional<int64_t> newer_than;  // unix seconds
  std::optional<uint32_t> max_depth;
  std::optional<std::string> resume_path;  // nothing before it in stream order is reported
  size_t max_dir_entries = kMaxTreeDirEntries;

  // From a request's select and resume; error "bad_request" for a pattern
  // that does not compile.
  static Result<TreeWalkOptions> of(const Request& request);
};

// A regular file the walker found, to be opened with open_walked_file().
struct WalkedFile {
  int parent_fd = -1;        // O_PATH of its directory, valid during the call
  const std::string* name;   // its name there
  struct stat st {};         // fstat when the walker saw it
};

class TreeWalkSink {
 public:
  virtual ~TreeWalkSink() = default;
  virtual Result<void> on_dir(std::string_view path, const struct stat& st) = 0;
  virtual Result<void> on_file(std::string_view path, const WalkedFile& file) = 0;
  virtual Result<void> on_skip(std::string_view path, tree::SkipReason reason) = 0;
};

// Walks the folder `root` one entry at a time: each step() reports at most
// one entry to the sink (none for an entry left out) and returns false once
// the walk is over. The root, `options` and the sink must outlive it.
class TreeWalker {
 public:
  // Error (not_allowed, io_error) when the folder itself cannot be read.
  static Result<std::unique_ptr<TreeWalker>> start(const TreeRoot& root, const TreeWalkOptions& options,
                                                   TreeWalkSink& sink);
  ~TreeWalker();
  // A sink's error stops the walk and is returned as it is.
  Result<bool> step();

 private:
  struct State;
  explicit TreeWalker(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

// Opens the file the walker reported for reading. Error "vanished" when it
// is gone, "changed" when the name now holds another file, "unreadable"
// when the agent may not read it.
Result<UniqueFd> open_walked_file(const WalkedFile& file);

}  // namespace sealrelay::agent
