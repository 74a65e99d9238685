// Refusing replayed message 1s (docs/protocol.md §Replay). Each request
// carries the requester's clock in unix milliseconds. Per requester key the
// agent accepts a timestamp only if it is new (never accepted before) and not
// older than the newest accepted one minus a window. The window lets a
// requester run several handshakes at once whose message 1s reach the agent
// out of order; a strict "newer than the last" (WireGuard's rule) is the
// window of 0. Everything older than the window is refused outright, so the
// remembered set stays bounded. No I/O: the agent persists to_json().
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>

#include "crypto/keys.h"
#include "proto/result.h"

namespace sealrelay {

class ReplayGuard {
 public:
  static constexpr int64_t kDefaultWindowMs = 60'000;
  // Bounds memory if a requester sends a storm of distinct timestamps.
  static constexpr size_t kMaxRememberedPerRequester = 4096;

  explicit ReplayGuard(int64_t window_ms = kDefaultWindowMs) : window_ms_(window_ms) {}

  // True, and remembered, if `timestamp_ms` from `requester` is fresh.
  [[nodiscard]] bool accept(const PublicKey& requester, int64_t timestamp_ms);

  // Persistence across agent restarts, so a restart does not reopen the door.
  std::string to_json() const;
  static Result<ReplayGuard> from_json(std::string_view text, int64_t window_ms = kDefaultWindowMs);

 private:
  struct Seen {
    int64_t newest = 0;
    std::set<int64_t> recent;  // accepted timestamps within the window of `newest`
  };
  int64_t window_ms_;
  std::map<PublicKey, Seen> seen_;
};

}  // namespace sealrelay
