#include "agent/rate_schedule.h"

#include <charconv>
#include <cstdio>
#include <ctime>
#include <limits>
#include <optional>
#include <sstream>

namespace sealrelay::agent {
namespace {

constexpr const char* kExample =
    "write a rate in bytes per second (250000, 512k, 4M, off) or a timetable of local times, e.g. "
    "\"08:00,512k 18:00,4M 23:00,off\"";

Error bad(const std::string& what) { return make_error("bad_config", "--rate-limit: " + what + "; " + kExample); }

// "512k" → 524288; "off" and "0" → 0.
std::optional<uint64_t> parse_rate(std::string_view text) {
  if (text == "off") return 0;
  uint64_t unit = 1;
  if (!text.empty()) {
    switch (text.back()) {
      case 'k': case 'K': unit = uint64_t{1} << 10; break;
      case 'M': unit = uint64_t{1} << 20; break;
      case 'G': unit = uint64_t{1} << 30; break;
      default: break;
    }
    if (unit != 1) text.remove_suffix(1);
  }
  uint64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  if (value > std::numeric_limits<uint64_t>::max() / unit) return std::nullopt;
  return value * unit;
}

// "08:00" → 480.
std::optional<int> parse_time(std::string_view text) {
  if (text.size() != 5 || text[2] != ':') return std::nullopt;
  int h = 0, m = 0;
  auto r1 = std::from_chars(text.data(), text.data() + 2, h);
  auto r2 = std::from_chars(text.data() + 3, text.data() + 5, m);
  if (r1.ec != std::errc() || r1.ptr != text.data() + 2 || r2.ec != std::errc() || r2.ptr != text.data() + 5 ||
      h > 23 || m > 59) {
    return std::nullopt;
  }
  return h * 60 + m;
}

std::string rate_text(uint64_t rate) {
  if (rate == 0) return "no cap";
  if (rate % (1 << 20) == 0) return std::to_string(rate >> 20) + " MiB/s";
  if (rate % (1 << 10) == 0) return std::to_string(rate >> 10) + " KiB/s";
  return std::to_string(rate) + " bytes/s";
}

}  // namespace

int SystemLocalTime::minute_of_day() const {
  std::time_t now = std::time(nullptr);
  std::tm tm{};
  if (!localtime_r(&now, &tm)) return 0;
  return tm.tm_hour * 60 + tm.tm_min;
}

Result<RateSchedule> RateSchedule::parse(std::string_view text) {
  std::vector<std::string> words;
  std::istringstream in{std::string(text)};
  for (std::string w; in >> w;) words.push_back(w);
  if (words.empty()) return bad("it is empty");
  if (words.size() == 1 && words[0].find(',') == std::string::npos) {
    auto rate = parse_rate(words[0]);
    if (!rate) return bad("\"" + words[0] + "\" is not a rate");
    return RateSchedule(std::vector<Period>{Period{0, *rate}});
  }
  std::vector<Period> periods;
  for (const auto& word : words) {
    size_t comma = word.find(',');
    if (comma == std::string::npos) return bad("\"" + word + "\" is not a period HH:MM,RATE");
    auto start = parse_time(std::string_view(word).substr(0, comma));
    auto rate = parse_rate(std::string_view(word).substr(comma + 1));
    if (!start) return bad("\"" + word + "\" does not start with a time HH:MM (00:00 to 23:59)");
    if (!rate) return bad("\"" + word + "\" does not end with a rate");
    if (!periods.empty() && *start <= periods.back().start_minute) {
      return bad("\"" + word + "\" is not later than the period before it (list the periods in time order)");
    }
    periods.push_back(Period{*start, *rate});
  }
  return RateSchedule(std::move(periods));
}

uint64_t RateSchedule::rate_at(int minute_of_day) const {
  if (periods_.empty()) return 0;
  // Before the first period of the day, the last one (from yesterday) holds.
  const Period* current = &periods_.back();
  for (const auto& p : periods_) {
    if (p.start_minute > minute_of_day) break;
    current = &p;
  }
  return current->bytes_per_second;
}

bool RateSchedule::limits() const {
  for (const auto& p : periods_) {
    if (p.bytes_per_second) return true;
  }
  return false;
}

std::string RateSchedule::describe() const {
  if (periods_.size() == 1 && periods_[0].start_minute == 0) return rate_text(periods_[0].bytes_per_second);
  std::string out;
  for (const auto& p : periods_) {
    char at[16];
    std::snprintf(at, sizeof at, "%02d:%02d", p.start_minute / 60, p.start_minute % 60);
    out += (out.empty() ? "" : ", ") + std::string(at) + " " + rate_text(p.bytes_per_second);
  }
  return out;
}

}  // namespace sealrelay::agent
