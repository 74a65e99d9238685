#include "agent/rate_limit.h"

#include <algorithm>
#include <cmath>

namespace sealrelay::agent {

RateLimiter::RateLimiter(uint64_t bytes_per_second, uint64_t burst_bytes, const Clock& clock)
    : rate_(bytes_per_second),
      burst_(static_cast<double>(burst_bytes)),
      clock_(clock),
      tokens_(static_cast<double>(burst_bytes)),
      refilled_at_(clock.now()) {}

double RateLimiter::tokens_at_locked(Clock::time_point now) const {
  auto elapsed = now - refilled_at_;
  double earned = std::chrono::duration<double>(elapsed).count() * static_cast<double>(rate_);
  return std::min(burst_, tokens_ + std::max(0.0, earned));
}

namespace {

Clock::duration time_to_pay(double debt, uint64_t rate) {
  if (debt <= 0) return Clock::duration::zero();
  double ns = std::ceil(debt * 1e9 / static_cast<double>(rate));
  return Clock::duration(static_cast<Clock::duration::rep>(ns));
}

}  // namespace

Clock::duration RateLimiter::reserve(uint64_t n) {
  if (rate_ == 0) return Clock::duration::zero();
  std::lock_guard lock(mu_);
  Clock::time_point now = clock_.now();
  tokens_ = tokens_at_locked(now) - static_cast<double>(n);
  refilled_at_ = std::max(refilled_at_, now);
  return time_to_pay(-tokens_, rate_);
}

Clock::duration RateLimiter::wait_time(uint64_t n) const {
  if (rate_ == 0) return Clock::duration::zero();
  std::lock_guard lock(mu_);
  return time_to_pay(static_cast<double>(n) - tokens_at_locked(clock_.now()), rate_);
}

}  // namespace sealrelay::agent
