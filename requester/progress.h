// Progress of downloads: a bar with bytes, rate and ETA on a terminal, JSON
// lines for scripts, or nothing. Thread-safe: several transfers may report.
#pragma once

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <map>
#include <mutex>
#include <string>

namespace sealrelay::requester {

enum class OutputMode { kHuman, kJson, kQuiet };

std::string human_bytes(uint64_t bytes);

class ProgressReporter {
 public:
  // The bar is drawn only when `out` is a terminal and mode is kHuman.
  ProgressReporter(OutputMode mode, FILE* out);

  // Reports that `label` holds `bytes` of `total`.
  void update(const std::string& label, uint64_t bytes, uint64_t total);
  // Ends the bar line of `label` (on a terminal).
  void finish(const std::string& label);

 private:
  struct Line {
    std::chrono::steady_clock::time_point started, last_draw;
    uint64_t first_bytes = 0, bytes = 0, total = 0;
  };
  void draw_locked(const std::string& label, const Line& line);

  OutputMode mode_;
  FILE* out_;
  bool tty_;
  std::mutex mu_;
  std::map<std::string, Line> lines_;  // Guarded by mu_
};

}  // namespace sealrelay::requester
