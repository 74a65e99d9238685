// What a folder pull tells its user: a progress line on a terminal (files
// done/total, bytes, rate, ETA, the current file), one JSON line per file
// with --json, and the summary at the end — the skipped and failed entries
// with their reasons. Memory is bounded whatever the count: at most
// kListedEntries lines are kept for the summary, the rest are counted.
// Every name from the agent is escaped before it reaches the terminal.
#pragma once

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "requester/progress.h"
#include "requester/tree_writer.h"

namespace sealrelay::requester {

class TreeReport : public TreeReporter {
 public:
  static constexpr size_t kListedEntries = 50;

  // `source` ("agent:/path") labels the JSON lines. JSON goes to stdout,
  // the rest to stderr.
  TreeReport(OutputMode mode, std::string source);

  void started(uint64_t files, uint64_t bytes) override;
  void file_started(const tree::FileRecord& record) override;
  void file_bytes(uint64_t count) override;
  void entry(const EntryResult& result) override;
  void notice(const std::string& text) override;

  bool began() const { return accepted_; }  // the agent accepted
  uint64_t ok() const { return ok_; }
  uint64_t skipped() const { return skipped_; }
  uint64_t failed() const { return failed_; }
  uint64_t bytes() const { return ok_bytes_; }
  uint64_t files_done() const { return done_files_; }  // the progress line's count, against the agent's files

  // The summary: a JSON line, or (human) counts and the listed entries.
  void summarize(const std::string& output, const std::string& error_code);

 private:
  void draw(bool force);
  void clear_line();

  const OutputMode mode_;
  const std::string source_;
  const bool tty_;
  const std::chrono::steady_clock::time_point began_ = std::chrono::steady_clock::now();
  std::chrono::steady_clock::time_point last_draw_{};
  bool drawn_ = false;
  bool accepted_ = false;
  uint64_t expected_files_ = 0, expected_bytes_ = 0;
  uint64_t done_files_ = 0, stream_bytes_ = 0;
  uint64_t ok_ = 0, skipped_ = 0, failed_ = 0, ok_bytes_ = 0;
  std::string current_;                // escaped
  std::vector<std::string> listed_;    // escaped summary lines, at most kListedEntries
  uint64_t unlisted_ = 0;
};

// Parses --newer-than: "24h", "30m", "7d", "2w" before now, or a date in
// the local time zone, "2026-12-01" or "2026-12-01T10:00[:SS]". Unix seconds.
Result<int64_t> parse_newer_than(const std::string& text, int64_t now);

}  // namespace sealrelay::requester
