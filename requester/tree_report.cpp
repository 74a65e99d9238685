#include "requester/tree_report.h"

#include <unistd.h>

#include <cstring>
#include <ctime>
#include <nlohmann/json.hpp>

#include "proto/errors.h"
#include "requester/terminal.h"

namespace sealrelay::requester {
namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

std::string hex(const Sha256Digest& d) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  for (uint8_t b : d) {
    out += digits[b >> 4];
    out += digits[b & 15];
  }
  return out;
}

std::string clock_text(double seconds) {
  const auto s = static_cast<uint64_t>(seconds);
  char buf[32];
  std::snprintf(buf, sizeof buf, "%llu:%02llu:%02llu", static_cast<unsigned long long>(s / 3600),
                static_cast<unsigned long long>(s / 60 % 60), static_cast<unsigned long long>(s % 60));
  return buf;
}

}  // namespace

TreeReport::TreeReport(OutputMode mode, std::string source)
    : mode_(mode), source_(std::move(source)), tty_(::isatty(STDERR_FILENO) == 1) {}

void TreeReport::started(uint64_t files, uint64_t bytes) {
  accepted_ = true;
  expected_files_ = files;
  expected_bytes_ = bytes;
}

void TreeReport::file_started(const tree::FileRecord& record) {
  current_ = escaped(record.path);
  draw(false);
}

void TreeReport::file_bytes(uint64_t count) {
  stream_bytes_ += count;
  draw(false);
}

void TreeReport::entry(const EntryResult& r) {
  if (!r.folder && !r.skip_record) ++done_files_;  // the agent's count holds files only
  if (r.outcome == EntryOutcome::kOk) {
    ++ok_;
    ok_bytes_ += r.bytes;
  } else {
    ++(r.outcome == EntryOutcome::kSkipped ? skipped_ : failed_);
    if (listed_.size() < kListedEntries) {
      char head[64];
      std::snprintf(head, sizeof head, "  %-8s ", std::string(entry_outcome_name(r.outcome)).c_str());
      listed_.push_back(head + escaped(r.path) + (r.folder ? "/" : "") + ": " + r.reason);
    } else {
      ++unlisted_;
    }
  }
  if (mode_ == OutputMode::kJson) {
    json j{{"event", "file"}, {"path", r.path}, {"type", r.folder ? "dir" : "file"}, {"bytes", r.bytes},
           {"result", entry_outcome_name(r.outcome)}};
    if (r.sha256) j["sha256"] = hex(*r.sha256);
    if (!r.reason.empty()) j["reason"] = r.reason;
    std::printf("%s\n", j.dump(-1, ' ', false, json::error_handler_t::replace).c_str());
  }
  draw(false);
}

void TreeReport::notice(const std::string& text) {
  if (mode_ != OutputMode::kHuman) return;
  clear_line();
  std::fprintf(stderr, "%s: %s\n", escaped(source_).c_str(), text.c_str());
}

void TreeReport::clear_line() {
  if (drawn_) std::fputs("\r\033[K", stderr);
  drawn_ = false;
}

// The progress line: on a terminal only, at most ten times a second.
void TreeReport::draw(bool force) {
  if (mode_ != OutputMode::kHuman || !tty_) return;
  const auto now = Clock::now();
  if (!force && now - last_draw_ < std::chrono::milliseconds(100)) return;
  last_draw_ = now;
  const double secs = std::chrono::duration<double>(now - began_).count();
  const double rate = secs > 0.05 ? static_cast<double>(stream_bytes_) / secs : 0;
  std::string eta = "-";
  if (rate > 0 && expected_bytes_ > stream_bytes_) eta = clock_text(static_cast<double>(expected_bytes_ - stream_bytes_) / rate);
  std::string line = "files " + std::to_string(done_files_) + "/" + std::to_string(expected_files_) + "  " +
                     human_bytes(stream_bytes_) + "/" + human_bytes(expected_bytes_) + "  " +
                     human_bytes(static_cast<uint64_t>(rate)) + "/s  ETA " + eta + "  ";
  std::string name = current_;
  if (line.size() + name.size() > 100) name = "..." + name.substr(name.size() - std::min<size_t>(name.size(), 40));
  std::fprintf(stderr, "\r\033[K%s%s", line.c_str(), name.c_str());
  std::fflush(stderr);
  drawn_ = true;
}

void TreeReport::summarize(const std::string& output, const std::string& error_code) {
  const double secs = std::chrono::duration<double>(Clock::now() - began_).count();
  if (mode_ == OutputMode::kJson) {
    json j{{"event", "summary"}, {"source", source_},   {"output", output},     {"files", ok_},
           {"bytes", ok_bytes_}, {"skipped", skipped_}, {"failed", failed_},    {"seconds", secs},
           {"ok", error_code.empty() && skipped_ == 0 && failed_ == 0}};
    if (!error_code.empty()) j["error"] = error_code;
    std::printf("%s\n", j.dump(-1, ' ', false, json::error_handler_t::replace).c_str());
    return;
  }
  clear_line();
  if (mode_ == OutputMode::kQuiet && skipped_ == 0 && failed_ == 0) return;
  std::fprintf(stderr, "%s %s into %s: %llu files (%s, verified), %llu skipped, %llu failed, %.1f s\n",
               error_code.empty() ? "Pulled" : "Stopped pulling", escaped(source_).c_str(), escaped(output).c_str(),
               static_cast<unsigned long long>(ok_), human_bytes(ok_bytes_).c_str(),
               static_cast<unsigned long long>(skipped_), static_cast<unsigned long long>(failed_), secs);
  for (const auto& line : listed_) std::fprintf(stderr, "%s\n", line.c_str());
  if (unlisted_) {
    std::fprintf(stderr, "  ... and %llu more skipped or failed (--json lists every one)\n",
                 static_cast<unsigned long long>(unlisted_));
  }
}

Result<int64_t> parse_newer_than(const std::string& text, int64_t now) {
  const Error bad = make_error(ErrorCode::usage, "--newer-than \"" + escaped(text) +
                                                     "\" is not an age (24h, 30m, 7d, 2w) or a local date "
                                                     "(2026-12-01 or 2026-12-01T10:00)");
  if (text.size() >= 2 && std::strchr("mhdw", text.back()) && text.find_first_not_of("0123456789") == text.size() - 1) {
    const int64_t unit = text.back() == 'm' ? 60 : text.back() == 'h' ? 3600 : text.back() == 'd' ? 86400 : 604800;
    if (text.size() > 10) return bad;
    return now - std::stoll(text.substr(0, text.size() - 1)) * unit;
  }
  std::tm tm{};
  tm.tm_isdst = -1;
  const char* end = ::strptime(text.c_str(), "%Y-%m-%d", &tm);
  if (end && *end == 'T') {
    const char* more = ::strptime(end + 1, "%H:%M", &tm);
    if (more && *more == ':') more = ::strptime(more + 1, "%S", &tm);
    end = more;
  }
  if (!end || *end != '\0') return bad;
  const std::time_t t = std::mktime(&tm);
  if (t == static_cast<std::time_t>(-1)) return bad;
  return static_cast<int64_t>(t);
}

}  // namespace sealrelay::requester
