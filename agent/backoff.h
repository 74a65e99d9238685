// Backoff: how long the agent waits before reconnecting to the relay after a
// failed attempt or a dropped control stream. Exponential, capped, with
// jitter so a relay restart is not met by every agent at the same instant
// (the "full" and "decorrelated" schemes of Marc Brooker, "Exponential
// Backoff And Jitter", AWS Architecture Blog, 2015).
#pragma once

#include "base/clock.h"
#include "base/result.h"

#include <chrono>
#include <optional>

namespace sealrelay::agent {

struct BackoffConfig {
  enum class Jitter {
    // delay = uniform(0, min(cap, base * 2^attempt)).
    full,
    // delay = min(cap, uniform(base, previous_delay * 3)); never below base.
    decorrelated,
  };

  // The scale of the first delay. Must be positive.
  Clock::duration base = std::chrono::milliseconds(500);
  // No delay is ever longer than this. Must be at least `base`.
  Clock::duration cap = std::chrono::seconds(60);
  Jitter jitter = Jitter::decorrelated;
  // The first `quick_retries` delays after a reset are all drawn from the
  // first envelope ([base, 3 * base] decorrelated, [0, base] full) instead
  // of growing; after them the schedule grows as usual. A relay restart
  // refuses the first attempts (the node is still dying or starting, or
  // answers 503 while thousands of agents come back at once, some only after
  // waiting 5 s for a Redis connection), and growth by 3 turned one refusal
  // into a wait of up to 4.5 s and two into 13.5 s: most of a reconnect
  // storm's tail (docs/performance.md, "The reconnect storm"). Counted in
  // attempts, not time, because a refused attempt can itself take seconds.
  // The first envelope's spread is what keeps agents from arriving at once.
  // 0 or 1: the plain schedule (only the first delay is in the envelope).
  unsigned quick_retries = 5;
  // A connection that stayed up at least this long counts as healthy: the
  // failure that ends it starts the schedule again from `base`. A connection
  // that drops sooner (a flapping relay) keeps the delays growing. Zero means
  // any success resets the schedule.
  Clock::duration healthy_after = std::chrono::seconds(30);

  // Ok when the fields make sense together; otherwise says which does not.
  Result<void> validate() const;
};

// The reconnect schedule of one connection. Not thread-safe: owned by the
// loop that reconnects. The clock and rng must outlive it.
class Backoff {
 public:
  // Aborts if config.validate() fails (check user-supplied values first).
  Backoff(BackoffConfig config, const Clock& clock, Rng& rng);

  // Records a failure (an attempt failed or a connection dropped) and returns
  // how long to wait before the next attempt. Always within [0, cap] (full)
  // or [base, cap] (decorrelated).
  Clock::duration next_delay();

  // Records that a connection attempt succeeded now. The schedule is reset
  // by the next failure if, by then, the connection has lasted
  // healthy_after.
  void succeeded();

  // Forgets every failure: the next delay is computed as for a first
  // failure.
  void reset();

  // Failures recorded since the last reset.
  unsigned failures() const { return failures_; }

 private:
  BackoffConfig config_;  // Immutable after construction.
  const Clock& clock_;
  Rng& rng_;
  unsigned failures_ = 0;
  Clock::duration previous_{};  // Last decorrelated delay; base after reset.
  std::optional<Clock::time_point> connected_at_;
};

}  // namespace sealrelay::agent
