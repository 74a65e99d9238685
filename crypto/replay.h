// Refusing replayed message 1s (docs/protocol.md §5 Replay). Each request
// carries the requester's clock in unix milliseconds. The agent accepts a
// timestamp only if it is
//   - within kMaxClockSkewMs of the agent's own clock, either way, so a
//     message 1 the relay kept (one never delivered, or one refused as busy
//     or unauthorized) is worthless once that much time has passed;
//   - new: never accepted before from the same requester key;
//   - not older than the newest accepted one minus a window. The window lets
//     a requester run several handshakes at once whose message 1s reach the
//     agent out of order; a strict "newer than the last" (WireGuard's rule)
//     is the window of 0.
// So only timestamps within the skew of now need remembering: a requester
// whose newest timestamp fell out of it is forgotten, and the remembered set
// stays bounded. No I/O and no clock of its own (the caller passes now);
// the agent persists to_json().
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>

#include "base/result.h"
#include "crypto/keys.h"

namespace sealrelay {

class ReplayGuard {
 public:
  static constexpr int64_t kDefaultWindowMs = 60'000;
  // How far a requester's clock may be from the agent's, either way.
  static constexpr int64_t kMaxClockSkewMs = 10 * 60'000;
  // Bounds memory if a requester sends a storm of distinct timestamps.
  static constexpr size_t kMaxRememberedPerRequester = 4096;

  explicit ReplayGuard(int64_t window_ms = kDefaultWindowMs) : window_ms_(window_ms) {}

  enum class Verdict { fresh, replayed, clock_skew };

  // Whether `timestamp_ms` from `requester` is fresh when the agent's clock
  // says `now_ms`; a fresh one is remembered, so the same message 1 is never
  // accepted again. The caller decides before anything else about the
  // request (authorization, capacity), so a refused message 1 is used up too.
  [[nodiscard]] Verdict accept(const PublicKey& requester, int64_t timestamp_ms, int64_t now_ms);

  // Persistence across agent restarts, so a restart does not reopen the door.
  std::string to_json() const;
  static Result<ReplayGuard> from_json(std::string_view text, int64_t window_ms = kDefaultWindowMs);

 private:
  struct Seen {
    int64_t newest = 0;
    std::set<int64_t> recent;  // accepted timestamps within the window of `newest`
  };
  // Forgets the requesters whose every timestamp is out of the skew window.
  void forget_stale(int64_t now_ms);

  int64_t window_ms_;
  std::map<PublicKey, Seen> seen_;
};

}  // namespace sealrelay
