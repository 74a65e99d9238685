// RateLimiter: the agent's optional bandwidth cap (thin shop uplinks). A
// token bucket of bytes: it refills at `bytes_per_second` up to `burst_bytes`;
// a sender asks before each chunk how long to wait. One limiter is shared by
// every transfer of the agent, so the cap holds for their sum.
#pragma once

#include "base/clock.h"

#include <cstdint>
#include <mutex>

namespace sealrelay::agent {

class RateLimiter {
 public:
  // bytes_per_second == 0 means no cap: every wait is zero. The bucket starts
  // full, so the first burst_bytes go out at once. The clock must outlive the
  // limiter.
  RateLimiter(uint64_t bytes_per_second, uint64_t burst_bytes, const Clock& clock);

  // Takes n bytes from the bucket and returns how long the caller must wait
  // before sending them: zero while within the burst, otherwise the time the
  // bucket needs to pay for them. The bucket may go into debt, so a chunk
  // larger than the burst still passes, and the average rate stays at the
  // cap whatever the chunk sizes. The caller must wait the returned time
  // before sending (or before reserving again). Thread-safe.
  Clock::duration reserve(uint64_t n);

  // How long reserve(n) would wait if called now, without taking anything.
  // Thread-safe.
  Clock::duration wait_time(uint64_t n) const;

  // The cap in bytes per second; 0 when unlimited.
  uint64_t bytes_per_second() const { return rate_; }

 private:
  // The bucket's content at `now`, refilled since refilled_at_. Requires mu_.
  double tokens_at_locked(Clock::time_point now) const;

  const uint64_t rate_;   // Immutable after construction.
  const double burst_;    // Immutable after construction.
  const Clock& clock_;
  mutable std::mutex mu_;
  double tokens_;                 // Guarded by mu_. Negative while in debt.
  Clock::time_point refilled_at_; // Guarded by mu_.
};

}  // namespace sealrelay::agent
