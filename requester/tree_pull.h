// A folder pull (`sealrelay get -r`, docs/protocol.md §4.5): one `tree`
// request whose verified stream feeds a TreeDecoder and a TreeWriter, the
// resume point kept in a journal, and the automatic resume after a cut.
//
// The journal is OUT/.sealrelay-tree.journal (0600, O_NOFOLLOW): which
// agent and folder is being pulled and the entry a new stream would start
// at (requester/tree_writer.h ResumePoint). It is rewritten as the stream
// goes (no fsync: it is one small file, and a lost update only means one
// file is asked for again), synced when a pull is cut, and deleted when the
// stream ended verified. With it, `--resume` — and the automatic resume
// after history_gone, transfer_lost or stalled — asks the agent to start at
// that entry: files verified before are not sent again, and the partial one
// goes on from its .part.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>

#include "requester/transfer.h"
#include "requester/tree_writer.h"

namespace sealrelay::requester {

struct TreePullOptions {
  std::string agent;             // for the journal: a resume must pull the same folder
  std::string remote_path;       // "/share/dir"
  std::filesystem::path out;     // OUT: an existing folder
  std::string folder;            // the folder made in OUT ("" for a glob: files land in OUT)
  Request::Select select;
  bool resume = false;           // --resume: continue from the journal
  bool overwrite = false;        // --force
  bool strict = false;
  uint64_t max_entries = tree::kDefaultMaxEntries;
  int auto_resumes = 5;          // new requests after a cut, while each gets further
};

// Runs one `tree` request with `options` (op, select and resume filled in)
// through `sink`: run_request with the CLI's relay, keys and clock.
using TreeRunner = std::function<Result<Outcome>(const RequestOptions& options, Sink& sink)>;

struct TreePullResult {
  tree::EndRecord end;  // what the agent counted
};

// Pulls the folder. Errors: those of run_request (an agent from before
// `tree` is told to be upgraded), the writer's (`partial` under --strict),
// `part_exists` when OUT holds an interrupted pull's journal and !resume,
// `usage` when that journal is another folder's.
Result<TreePullResult> pull_tree(const TreePullOptions& options, RequestOptions request, TreeReporter& reporter,
                                 const TreeRunner& run);

inline constexpr const char* kTreeJournalName = ".sealrelay-tree.journal";

}  // namespace sealrelay::requester
