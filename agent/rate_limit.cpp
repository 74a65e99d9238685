#include "agent/rate_limit.h"

#include <algorithm>
#include <cmath>

namespace sealrelay::agent {
namespace {

RateSchedule constant(uint64_t rate) {
  auto s = RateSchedule::parse(std::to_string(rate));
  return s ? *s : RateSchedule();
}

Clock::duration time_to_pay(double debt, uint64_t rate) {
  if (debt <= 0 || rate == 0) return Clock::duration::zero();
  double ns = std::ceil(debt * 1e9 / static_cast<double>(rate));
  return Clock::duration(static_cast<Clock::duration::rep>(ns));
}

}  // namespace

RateLimiter::RateLimiter(uint64_t bytes_per_second, uint64_t burst_bytes, const Clock& clock)
    : schedule_(constant(bytes_per_second)),
      burst_bytes_(burst_bytes),
      scale_burst_(false),
      clock_(clock),
      local_(nullptr),
      rate_(bytes_per_second),
      burst_(static_cast<double>(burst_bytes)),
      tokens_(burst_),
      refilled_at_(clock.now()) {}

RateLimiter::RateLimiter(RateSchedule schedule, uint64_t min_burst_bytes, const Clock& clock, const LocalTime& local)
    : schedule_(std::move(schedule)),
      burst_bytes_(min_burst_bytes),
      scale_burst_(true),
      clock_(clock),
      local_(&local),
      rate_(schedule_.rate_at(local.minute_of_day())),
      burst_(static_cast<double>(burst_for(rate_))),
      tokens_(burst_),
      refilled_at_(clock.now()) {}

uint64_t RateLimiter::burst_for(uint64_t rate) const {
  return scale_burst_ ? std::max(rate / 4, burst_bytes_) : burst_bytes_;
}

void RateLimiter::refill_locked(Clock::time_point now) {
  if (now > refilled_at_) {
    double earned = std::chrono::duration<double>(now - refilled_at_).count() * static_cast<double>(rate_);
    tokens_ = std::min(burst_, tokens_ + earned);
    refilled_at_ = now;
  }
  if (!local_) return;
  const uint64_t rate = schedule_.rate_at(local_->minute_of_day());
  if (rate == rate_) return;
  const bool was_capped = rate_ != 0;
  rate_ = rate;
  burst_ = static_cast<double>(burst_for(rate));
  tokens_ = was_capped && rate != 0 ? std::min(tokens_, burst_) : burst_;
}

Clock::duration RateLimiter::reserve(uint64_t n) {
  std::lock_guard lock(mu_);
  refill_locked(clock_.now());
  if (rate_ == 0) return Clock::duration::zero();
  tokens_ -= static_cast<double>(n);
  return time_to_pay(-tokens_, rate_);
}

Clock::duration RateLimiter::wait_time(uint64_t n) {
  std::lock_guard lock(mu_);
  refill_locked(clock_.now());
  return time_to_pay(static_cast<double>(n) - tokens_, rate_);
}

uint64_t RateLimiter::bytes_per_second() {
  std::lock_guard lock(mu_);
  refill_locked(clock_.now());
  return rate_;
}

}  // namespace sealrelay::agent
