// RateLimiter: the agent's optional bandwidth cap (thin shop uplinks). A
// token bucket of bytes: it refills at the cap up to a burst; a sender asks
// before each frame how long to wait. One limiter is shared by every
// transfer of the agent, so the cap holds for their sum. The cap may follow
// a timetable of local time (rate_schedule.h): a new period applies to
// transfers already running, at their next frame or while they wait.
#pragma once

#include "agent/rate_schedule.h"
#include "base/clock.h"

#include <cstdint>
#include <mutex>

namespace sealrelay::agent {

class RateLimiter {
 public:
  // One cap all day. bytes_per_second == 0 means no cap: every wait is
  // zero. The bucket starts full, so the first burst_bytes go out at once.
  // The clock must outlive the limiter.
  RateLimiter(uint64_t bytes_per_second, uint64_t burst_bytes, const Clock& clock);

  // The cap of `schedule` at local.minute_of_day(), looked up at every
  // call; the burst of each period is max(cap / 4, min_burst_bytes). When
  // the period changes, the bucket keeps what it holds (up to the new
  // burst) and a debt is paid at the new cap; a period without a cap
  // forgives it, and the next capped period starts with a full bucket.
  // Both clocks must outlive the limiter.
  RateLimiter(RateSchedule schedule, uint64_t min_burst_bytes, const Clock& clock, const LocalTime& local);

  // Takes n bytes from the bucket and returns how long the caller must wait
  // before sending them: zero while within the burst, otherwise the time the
  // bucket needs to pay for them. The bucket may go into debt, so a chunk
  // larger than the burst still passes, and the average rate stays at the
  // cap whatever the chunk sizes. The caller must wait the returned time
  // before sending (or before reserving again); with a timetable it should
  // wait in steps and ask wait_time(0) again, so that a new period's cap
  // shortens (or lengthens) a wait already begun. Thread-safe.
  Clock::duration reserve(uint64_t n);

  // How long reserve(n) would wait if called now, without taking anything;
  // wait_time(0) is what is left of the wait of the last reserve().
  // Thread-safe.
  Clock::duration wait_time(uint64_t n);

  // The cap in force now, bytes per second; 0 when unlimited. Thread-safe.
  uint64_t bytes_per_second();

 private:
  // Settles the bucket at `now` and moves to the period in force then.
  // Requires mu_.
  void refill_locked(Clock::time_point now);
  uint64_t burst_for(uint64_t rate) const;

  const RateSchedule schedule_;      // Immutable after construction.
  const uint64_t burst_bytes_;       // Immutable: the fixed burst, or the least one of a timetable.
  const bool scale_burst_;           // Immutable: burst = max(rate / 4, burst_bytes_).
  const Clock& clock_;
  const LocalTime* const local_;     // Null: one cap all day (minute 0 of the schedule).
  std::mutex mu_;
  uint64_t rate_;                    // Guarded by mu_. The cap of the current period.
  double burst_;                     // Guarded by mu_.
  double tokens_;                    // Guarded by mu_. Negative while in debt.
  Clock::time_point refilled_at_;    // Guarded by mu_.
};

}  // namespace sealrelay::agent
