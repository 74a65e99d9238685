// Landing: writes a folder stream's files into their NAME.part on a small
// pool of writer threads, so that the thread reading the stream goes on
// decrypting while files are created, written, hashed and closed. Creating
// many small files is the requester's cost (docs/performance.md, Folders):
// one at a time on the stream's thread it left the network idle.
//
// What a writer does to one file (FileJob): open its .part (new, O_EXCL |
// O_NOFOLLOW, 0600; or the interrupted pull's, to continue), write and hash
// the bytes the stream thread hands it, and at FILE_END compare the SHA-256,
// set mode and mtime and close it. It never gives a file its final name:
// the TreeWriter renames landed files on the stream thread, in stream order,
// so the journal and the reports follow the stream and nothing unverified
// is renamed.
//
// Bounded whatever the folder: the bytes handed over and not yet written
// are counted (at most `max_bytes`, or one chunk), and the TreeWriter keeps
// at most `max_entries` entries in flight.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "crypto/sha256.h"
#include "crypto/tree_stream.h"

namespace sealrelay::requester {

struct LandingLimits {
  size_t threads = 4;                 // writer threads
  size_t max_bytes = 8u << 20;        // stream bytes handed over, not yet written
  size_t max_entries = 4096;          // entries the TreeWriter holds before their turn
};

// How a writer treats what it finds (TreeWriterOptions).
struct LandingRules {
  bool overwrite = false;
  std::optional<std::string> resume_path;  // the entry the stream starts at
  bool resume_done = false;
  mode_t umask = 022;
};

// One file from FILE to FILE_END.
struct FileJob {
  // Set by the stream thread before it is submitted.
  tree::FileRecord record;
  int dir_fd = -1;  // its folder's; held open until the job is committed
  std::string name, part;
  std::string failed;  // why it cannot be written; the writer leaves such a job alone
  // Written by its writer; read by the stream thread once landed.
  int fd = -1;
  Sha256 hash;
  bool resumed = false;   // a prefix from the interrupted pull is in the hash
  bool already = false;   // verified in the interrupted pull: nothing to write
  bool mismatch = false;  // the bytes did not match FILE_END's SHA-256 (the .part is deleted)
  bool cut = false;       // the stream stopped inside it: its .part stays for a resume
  std::optional<tree::FileEndRecord> end;
  std::atomic<uint64_t> written{0};  // bytes its .part holds
  // Under the Landing's lock.
  std::condition_variable more;  // its writer waits for bytes, FILE_END or a cut
  std::deque<std::vector<uint8_t>> chunks;
  bool no_more = false;  // FILE_END came, or the stream stopped
  bool landed = false;
};

class Landing {
 public:
  Landing(LandingRules rules, LandingLimits limits);
  ~Landing();  // stops every job without FILE_END (cut) and joins the writers
  Landing(const Landing&) = delete;
  Landing& operator=(const Landing&) = delete;

  void submit(const std::shared_ptr<FileJob>& job);
  // Copies the bytes to the job (nothing for a job that failed before).
  // The caller made room first (fits).
  void add(FileJob& job, std::span<const uint8_t> bytes);
  void end(FileJob& job, const tree::FileEndRecord& record);
  void cut(FileJob& job);  // no more bytes and no FILE_END will come

  bool landed(const FileJob& job) const;
  bool idle() const;  // every job submitted has landed
  bool fits(size_t bytes) const;  // `bytes` more stay within max_bytes (or nothing is queued)
  // A counter that moves whenever a writer wrote a chunk or landed a job;
  // wait_past(seen) returns once it moved past `seen`.
  uint64_t progress() const;
  void wait_past(uint64_t seen) const;
  size_t peak_bytes() const;  // the most ever queued (for tests)

 private:
  void run();
  void land(FileJob& job);
  std::string open_part(FileJob& job);
  std::string continue_part(FileJob& job);
  void write_chunk(FileJob& job, const std::vector<uint8_t>& chunk);
  void finish(FileJob& job);
  void drop(FileJob& job);
  void mark_landed(FileJob& job);

  const LandingRules rules_;
  const LandingLimits limits_;
  mutable std::mutex mu_;
  std::condition_variable work_;                // writers: a job came
  mutable std::condition_variable progressed_;  // the stream thread: a writer moved on
  std::deque<std::shared_ptr<FileJob>> queue_;  // submitted, no writer yet
  std::vector<std::shared_ptr<FileJob>> open_;  // submitted, not landed (cut on destruction)
  size_t queued_bytes_ = 0, peak_bytes_ = 0;
  uint64_t progress_ = 0;
  bool stopping_ = false;
  std::vector<std::thread> writers_;
};

// The .part a file is written to: NAME.part, or for a name too long to take
// the suffix a fixed-length name made from its SHA-256 (several such files
// may be in flight at once; a resume finds the same one).
std::string part_name(const std::string& name);

// Why an entry could not be made, from errno, without its name (the
// reporter prints the path, escaped).
std::string name_reason(int err);

}  // namespace sealrelay::requester
