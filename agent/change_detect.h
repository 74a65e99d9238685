// Change detection for a file being served: the agent snapshots the file it
// opened before the first chunk and checks it again before the trailer, so a
// file that was written to, truncated, appended to, replaced or deleted while
// it was being sent fails that transfer cleanly instead of delivering a mix
// of old and new content that happens to match its own trailer hash.
//
// Limits: the check compares metadata (inode, size, mtime and ctime in
// nanoseconds; on Windows the volume serial and file index, size, last-write
// and change times, change_detect_windows.cpp), not content. A write that leaves all of them unchanged — in
// practice only a same-size write within one timestamp tick of a write made
// just before the snapshot, on file systems with coarse timestamps — is not
// seen.
#pragma once

#include "agent/unique_fd.h"
#include "base/result.h"

#include <sys/stat.h>

#include <cstdint>
#include <string>

namespace sealrelay::agent {

// The identity and version of a file at one moment.
struct FileSnapshot {
  uint64_t dev = 0;  // Device (Windows: volume serial number).
  uint64_t ino = 0;  // Inode (Windows: file index on the volume).
  int64_t size = 0;
  int64_t mtime_ns = 0;  // Last content change, nanoseconds since the epoch.
  int64_t ctime_ns = 0;  // Last content or metadata change.

  friend bool operator==(const FileSnapshot&, const FileSnapshot&) = default;
};

// The snapshot of what fstat/stat returned.
FileSnapshot snapshot_from_stat(const struct stat& st);

// Takes a snapshot of the open file `fd` (fstat). Error "io_error" when
// fstat fails.
Result<FileSnapshot> snapshot_of(int fd);

// Watches one open file for changes. Move-only (owns a directory fd).
class FileWatch {
 public:
  // Snapshots the open file `fd`. When `dir_fd` is valid (>= 0) the watch
  // also keeps its own duplicate of it and `name`, the entry in that
  // directory the file was opened by, so a file replaced by a rename or
  // deleted is noticed too; otherwise only the open file is checked.
  // Error "io_error" when fstat or dup fails.
  static Result<FileWatch> start(int fd, int dir_fd = -1, std::string name = {});

  // Ok when the open file `fd` (the same file as given to start; another
  // file aborts, as misuse) still has
  // the snapshot's size, mtime and ctime, is still linked, and — when a
  // directory was given — `name` in it still names this file. Otherwise
  // error "changed" with a sentence saying what changed, or "io_error".
  Result<void> still_same(int fd) const;

  // The snapshot taken by start().
  const FileSnapshot& snapshot() const { return snapshot_; }

 private:
  FileWatch(FileSnapshot snapshot, UniqueFd dir, std::string name)
      : snapshot_(snapshot), dir_(std::move(dir)), name_(std::move(name)) {}

  FileSnapshot snapshot_;  // Immutable after construction.
  UniqueFd dir_;           // Immutable after construction; may be empty.
  std::string name_;       // Immutable after construction.
};

}  // namespace sealrelay::agent
