// `sealrelay get -r AGENT:/share/dir -o OUT/` and `get 'AGENT:/dir/*.csv'`:
// the command line of a folder pull, from arguments to exit status. The
// pull itself is tree_pull.h; what the user sees, tree_report.h.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "requester/progress.h"
#include "requester/transfer.h"

namespace sealrelay::requester {

struct TreeGetArgs {
  std::string source;  // AGENT:/share/dir, or AGENT:/share/dir/GLOB
  std::string output;  // OUT ("" = the current folder); made when missing
  std::vector<std::string> include, exclude;
  std::string newer_than;  // "" = any age
  uint32_t max_depth = 0;  // 0 = the agent's limit
  uint64_t max_entries = 0;
  bool strict = false, resume = false, force = false;
  OutputMode mode = OutputMode::kHuman;
};

// The last component of `path` is a glob (`*`, `?` or `[`): a glob pull.
bool names_a_glob(const std::string& path);

// Runs one request with `options` (op, select, resume filled in) to the
// target's agent, through the CLI's relay, keys and clock.
using TreeSender = std::function<Result<Outcome>(const Target& target, const RequestOptions& options, Sink& sink)>;

// The exit status (0, or kExitPartial when entries were skipped or failed),
// or the error that stopped the pull (after the summary was printed).
Result<int> get_tree(const TreeGetArgs& args, const TreeSender& send);

// `sealrelay ls -r AGENT:/share/dir`: the folder's entries, without their
// contents, one line each (--json: one JSON line each). `max_depth` 0: the
// agent's limit.
Result<int> list_tree(const std::string& source, uint32_t max_depth, OutputMode mode, const TreeSender& send);

}  // namespace sealrelay::requester
