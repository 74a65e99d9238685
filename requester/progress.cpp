#include "requester/progress.h"

#include <unistd.h>

#include <nlohmann/json.hpp>

namespace sealrelay::requester {

std::string human_bytes(uint64_t bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(bytes);
  int u = 0;
  while (v >= 1024 && u < 4) {
    v /= 1024;
    ++u;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, u == 0 ? "%.0f %s" : "%.1f %s", v, units[u]);
  return buf;
}

ProgressReporter::ProgressReporter(OutputMode mode, FILE* out)
    : mode_(mode), out_(out), tty_(::isatty(::fileno(out)) == 1) {}

void ProgressReporter::update(const std::string& label, uint64_t bytes, uint64_t total) {
  if (mode_ == OutputMode::kQuiet || (mode_ == OutputMode::kHuman && !tty_)) return;
  std::lock_guard lock(mu_);
  auto now = std::chrono::steady_clock::now();
  auto [it, fresh] = lines_.try_emplace(label);
  Line& line = it->second;
  if (fresh) {
    line.started = now;
    line.first_bytes = bytes;
  }
  line.bytes = bytes;
  line.total = total;
  auto interval = mode_ == OutputMode::kJson ? std::chrono::milliseconds(500) : std::chrono::milliseconds(100);
  if (!fresh && bytes < total && now - line.last_draw < interval) return;
  line.last_draw = now;
  draw_locked(label, line);
}

void ProgressReporter::draw_locked(const std::string& label, const Line& line) {
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - line.started).count();
  double rate = secs > 0.05 ? static_cast<double>(line.bytes - line.first_bytes) / secs : 0;
  if (mode_ == OutputMode::kJson) {
    nlohmann::json j{{"event", "progress"}, {"source", label}, {"bytes", line.bytes}, {"total", line.total},
                     {"bytes_per_second", static_cast<uint64_t>(rate)}};
    std::fprintf(out_, "%s\n", j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
    std::fflush(out_);
    return;
  }
  double frac = line.total ? static_cast<double>(line.bytes) / static_cast<double>(line.total) : 1.0;
  const int width = 24;
  int filled = static_cast<int>(frac * width);
  std::string bar(static_cast<size_t>(filled), '=');
  if (filled < width) bar += '>';
  bar.resize(width, ' ');
  std::string eta = "--:--";
  if (rate > 0 && line.total >= line.bytes) {
    auto left = static_cast<uint64_t>(static_cast<double>(line.total - line.bytes) / rate);
    char buf[32];
    std::snprintf(buf, sizeof buf, "%02llu:%02llu", static_cast<unsigned long long>(left / 60),
                  static_cast<unsigned long long>(left % 60));
    eta = buf;
  }
  std::string name = label.size() > 28 ? "…" + label.substr(label.size() - 27) : label;
  std::fprintf(out_, "\r\033[K%-28s %3d%% [%s] %s / %s  %s/s  ETA %s", name.c_str(), static_cast<int>(frac * 100),
               bar.c_str(), human_bytes(line.bytes).c_str(), human_bytes(line.total).c_str(),
               human_bytes(static_cast<uint64_t>(rate)).c_str(), eta.c_str());
  std::fflush(out_);
}

void ProgressReporter::finish(const std::string& label) {
  if (mode_ != OutputMode::kHuman || !tty_) return;
  std::lock_guard lock(mu_);
  auto it = lines_.find(label);
  if (it == lines_.end()) return;
  draw_locked(label, it->second);
  std::fprintf(out_, "\n");
  lines_.erase(it);
}

}  // namespace sealrelay::requester
