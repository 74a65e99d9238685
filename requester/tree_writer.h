// TreeWriter: lands a folder stream (docs/protocol.md §4.5) on disk, under
// one folder, safely. The decoder (crypto/tree_stream.h) has checked every
// name's grammar; here the names meet the local disk, and the agent is
// still not trusted:
//  * every file and folder is reached through directory descriptors, from
//    the landing folder down, with openat/mkdirat and O_NOFOLLOW: no path
//    string is joined and opened, so no name leads outside, and a symbolic
//    link planted in the landing folder is never followed (that entry
//    fails, with the reason; the rest goes on);
//  * a file is written to NAME.part (O_EXCL|O_NOFOLLOW, 0600) and renamed
//    to NAME only once the SHA-256 of FILE_END matched the bytes on disk
//    (a resumed prefix included): nothing unverified carries a final name;
//  * modes are the permission bits only (no setuid/setgid/sticky, umask
//    applied), mtimes are set; a folder's once everything inside it arrived;
//  * a name the local file system cannot hold (ENAMETOOLONG, EILSEQ, ...)
//    fails that entry with the reason; nothing is renamed or mangled;
//  * an existing final file fails its entry ("exists") unless overwriting,
//    as a single-file get; a symbolic link or folder in the way, always.
// Per-entry outcomes go to a TreeReporter as they happen; the writer holds
// only the current branch of folders and the current file.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "crypto/sha256.h"
#include "crypto/tree_stream.h"

namespace sealrelay::requester {

enum class EntryOutcome { kOk, kSkipped, kFailed };
std::string_view entry_outcome_name(EntryOutcome outcome);  // "ok", "skipped", "failed"

struct EntryResult {
  std::string path;  // relative to the pulled folder, as the agent named it (checked, not yet escaped)
  bool folder = false;
  EntryOutcome outcome = EntryOutcome::kOk;
  uint64_t bytes = 0;                  // a file's size
  std::optional<Sha256Digest> sha256;  // ok files
  std::string reason;                  // skipped: the agent's; failed: ours
  bool skip_record = false;            // the agent's SKIP (not among the files it announced)
};

// Receives what the writer did, entry by entry. Calls come from the thread
// that feeds the stream.
class TreeReporter {
 public:
  virtual ~TreeReporter() = default;
  // The agent accepted: how many files and content bytes it expects to send.
  virtual void started(uint64_t /*files*/, uint64_t /*bytes*/) {}
  virtual void file_started(const tree::FileRecord& /*record*/) {}
  virtual void file_bytes(uint64_t /*count*/) {}
  // Ok files, skipped entries (the agent's SKIP or a file's status), failed
  // entries; folders only when they failed.
  virtual void entry(const EntryResult& result) = 0;
  // Something the user should know that is not an entry (an automatic resume).
  virtual void notice(const std::string& /*text*/) {}
};

struct TreeWriterOptions {
  bool overwrite = false;  // --force: replace existing regular files
  // A glob pull: files land straight in the landing folder, folders are not
  // made (the request asked for depth 1).
  bool flat = false;
  bool strict = false;     // the first skipped or failed entry stops the pull ("partial")
  // From the journal of an interrupted pull (tree_pull): the entry the new
  // stream starts at. Not `done`: its NAME.part may be continued (or
  // replaced when the agent starts it over). `done`: it was handled before;
  // a file is sent again with offset = size and nothing more, and left alone.
  std::optional<std::string> resume_path = std::nullopt;
  bool resume_done = false;
};

class TreeWriter : public tree::TreeVisitor {
 public:
  // The landing folder is `out`/`folder` (made when missing, mode 0777 &
  // ~umask; `folder` one component, "" for `out` itself). `out` must be an
  // existing folder; `folder` must not be a symbolic link.
  static Result<std::unique_ptr<TreeWriter>> open(const std::filesystem::path& out, const std::string& folder,
                                                  TreeWriterOptions options, TreeReporter& reporter);
  ~TreeWriter() override;
  TreeWriter(const TreeWriter&) = delete;
  TreeWriter& operator=(const TreeWriter&) = delete;

  Result<void> on_dir(const tree::DirRecord& record) override;
  Result<void> on_file(const tree::FileRecord& record) override;
  Result<void> on_data(std::span<const uint8_t> bytes) override;
  Result<void> on_file_end(const tree::FileEndRecord& record) override;
  Result<void> on_skip(const tree::SkipRecord& record) override;
  Result<void> on_end(const tree::EndRecord& record) override;

  // Where a new stream would start so that nothing verified comes again:
  // the open file (not done, with the bytes its .part holds), or the last
  // entry handled (done; so is an open file that already failed here).
  // Empty before the first entry.
  struct ResumePoint {
    std::string path;
    bool done = false;
    uint64_t offset = 0;  // not done: the bytes its .part holds; a done file: its size
    bool operator==(const ResumePoint&) const = default;
  };
  std::optional<ResumePoint> resume_point() const;
  // The stream ended (END): counts as the agent sent them.
  const std::optional<tree::EndRecord>& end() const { return end_; }

 private:
  struct Folder {
    std::string path;  // "" for the landing folder
    int fd = -1;
    std::string failed;  // why it could not be made (then fd < 0)
    std::optional<tree::DirRecord> meta;  // applied when the writer leaves it
  };
  struct File;
  TreeWriter(int landing_fd, TreeWriterOptions options, TreeReporter& reporter);

  Result<Folder*> enter_parent_of(const std::string& path);
  Folder open_child(const Folder& parent, const std::string& path);
  void leave_top();
  Result<void> fail_entry(const std::string& path, bool folder, std::string reason);
  Result<void> skip_entry(const EntryResult& skipped);
  std::string start_file(Folder& parent, const tree::FileRecord& record, File& file);
  std::string finish_file(File& file, const tree::FileEndRecord& record, Result<void>& stop);
  void drop_file();

  TreeWriterOptions options_;
  TreeReporter& reporter_;
  mode_t umask_;
  std::vector<Folder> branch_;  // landing folder first, then the current branch of folders
  std::unique_ptr<File> file_;  // the open file, between FILE and FILE_END
  std::optional<ResumePoint> last_;
  std::optional<tree::EndRecord> end_;
};

}  // namespace sealrelay::requester
