#include "agent/backoff.h"

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <limits>

#include "proto/errors.h"

namespace sealrelay::agent {

Result<void> BackoffConfig::validate() const {
  if (base <= Clock::duration::zero())
    return make_error(ErrorCode::bad_config, "backoff base must be positive");
  if (cap < base)
    return make_error(ErrorCode::bad_config, "backoff cap must be at least the base delay");
  if (healthy_after < Clock::duration::zero())
    return make_error(ErrorCode::bad_config, "backoff healthy_after must not be negative");
  return {};
}

Backoff::Backoff(BackoffConfig config, const Clock& clock, Rng& rng)
    : config_(config), clock_(clock), rng_(rng), previous_(config.base) {
  if (!config_.validate()) std::abort();
}

void Backoff::reset() {
  failures_ = 0;
  previous_ = config_.base;
  connected_at_.reset();
}

void Backoff::succeeded() { connected_at_ = clock_.now(); }

namespace {

// A uniform duration in [lo, hi] (lo <= hi, both non-negative).
Clock::duration uniform_between(Rng& rng, Clock::duration lo, Clock::duration hi) {
  auto span = static_cast<uint64_t>((hi - lo).count());
  return lo + Clock::duration(static_cast<Clock::duration::rep>(rng.uniform(span)));
}

}  // namespace

Clock::duration Backoff::next_delay() {
  if (connected_at_ && clock_.now() - *connected_at_ >= config_.healthy_after) reset();
  connected_at_.reset();

  const Clock::duration cap = config_.cap;
  // The delays drawn from the first envelope: at least the first one.
  const unsigned quick = std::max(config_.quick_retries, 1u);
  Clock::duration delay;
  if (config_.jitter == BackoffConfig::Jitter::full) {
    // base * 2^doublings, computed by doubling so it cannot overflow; the
    // quick delays count as the first one.
    const unsigned doublings = failures_ < quick ? 0 : failures_ - quick + 1;
    Clock::duration envelope = config_.base;
    for (unsigned i = 0; i < doublings && envelope < cap; ++i)
      envelope = envelope > cap / 2 ? cap : envelope * 2;
    delay = uniform_between(rng_, Clock::duration::zero(), std::min(envelope, cap));
  } else {
    if (failures_ < quick) previous_ = config_.base;  // the first envelope again
    Clock::duration hi = previous_ > cap / 3 ? cap : previous_ * 3;
    delay = std::min(cap, uniform_between(rng_, config_.base, std::max(hi, config_.base)));
    previous_ = delay;
  }
  if (failures_ < std::numeric_limits<unsigned>::max()) ++failures_;
  return delay;
}

}  // namespace sealrelay::agent
