#include "crypto/replay.h"

#include <nlohmann/json.hpp>

namespace sealrelay {

ReplayGuard::Verdict ReplayGuard::accept(const PublicKey& requester, int64_t timestamp_ms, int64_t now_ms) {
  // Checked before any state is touched: the difference cannot overflow for
  // timestamps a requester may send (> 0, and now is a real clock).
  if (timestamp_ms <= 0 || timestamp_ms < now_ms - kMaxClockSkewMs || timestamp_ms > now_ms + kMaxClockSkewMs) {
    return Verdict::clock_skew;
  }
  forget_stale(now_ms);
  Seen& s = seen_[requester];
  if (!s.recent.empty() && timestamp_ms <= s.newest - window_ms_) return Verdict::replayed;
  if (s.recent.contains(timestamp_ms)) return Verdict::replayed;
  if (s.recent.size() >= kMaxRememberedPerRequester && timestamp_ms < *s.recent.begin()) return Verdict::replayed;
  s.recent.insert(timestamp_ms);
  s.newest = std::max(s.newest, timestamp_ms);
  while (!s.recent.empty() &&
         (*s.recent.begin() <= s.newest - window_ms_ || s.recent.size() > kMaxRememberedPerRequester)) {
    s.recent.erase(s.recent.begin());
  }
  // The newest always stays remembered: the floor of the window hangs on it.
  if (s.recent.empty()) s.recent.insert(s.newest);
  return Verdict::fresh;
}

void ReplayGuard::forget_stale(int64_t now_ms) {
  // Every timestamp accepted from now on is >= now - skew > newest >= all
  // of `recent`: none of them can repeat, and none is below the window.
  std::erase_if(seen_, [&](const auto& entry) { return entry.second.newest < now_ms - kMaxClockSkewMs; });
}

std::string ReplayGuard::to_json() const {
  nlohmann::json out = nlohmann::json::object();
  for (const auto& [key, s] : seen_) {
    if (s.recent.empty()) continue;
    out[encode_public_key(key)] = nlohmann::json{{"newest", s.newest}, {"recent", s.recent}};
  }
  return out.dump();
}

Result<ReplayGuard> ReplayGuard::from_json(std::string_view text, int64_t window_ms) {
  auto j = nlohmann::json::parse(text, nullptr, false);
  auto bad = make_error("replay_state", "replay state is malformed; refusing to start with an empty one, which "
                                        "would accept old requests again (remove the file only if you accept that)");
  if (j.is_discarded() || !j.is_object()) return bad;
  ReplayGuard g(window_ms);
  for (const auto& [key_text, v] : j.items()) {
    auto key = decode_public_key(key_text);
    if (!key || !v.is_object() || !v.contains("newest") || !v["newest"].is_number_integer() ||
        !v.contains("recent") || !v["recent"].is_array()) {
      return bad;
    }
    Seen s;
    s.newest = v["newest"].get<int64_t>();
    for (const auto& t : v["recent"]) {
      if (!t.is_number_integer()) return bad;
      s.recent.insert(t.get<int64_t>());
    }
    if (s.recent.empty() || s.recent.size() > kMaxRememberedPerRequester) return bad;
    g.seen_[*key] = std::move(s);
  }
  return g;
}

}  // namespace sealrelay
