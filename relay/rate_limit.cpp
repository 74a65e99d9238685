#include "relay/rate_limit.h"

#include <algorithm>
#include <cmath>

namespace sealrelay::relay {

double RateLimiter::refill_locked(Bucket& b, Clock::time_point now) const {
  double dt = std::chrono::duration<double>(now - b.at).count();
  if (dt > 0) {
    b.tokens = std::min(burst_, b.tokens + dt * rate_);
    b.at = now;
  }
  return b.tokens;
}

bool RateLimiter::allow(const std::string& key, Clock::time_point now) {
  if (rate_ <= 0) return true;
  std::lock_guard lk(mu_);
  auto [it, fresh] = buckets_.try_emplace(key, Bucket{burst_, now});
  Bucket& b = it->second;
  refill_locked(b, now);
  if (b.tokens < 1.0) return false;
  b.tokens -= 1.0;
  return true;
}

int RateLimiter::retry_after(const std::string& key, Clock::time_point now) {
  if (rate_ <= 0) return 1;
  std::lock_guard lk(mu_);
  auto it = buckets_.find(key);
  if (it == buckets_.end()) return 1;
  double missing = 1.0 - refill_locked(it->second, now);
  return std::max(1, static_cast<int>(std::ceil(missing / rate_)));
}

void RateLimiter::prune(Clock::time_point now) {
  std::lock_guard lk(mu_);
  for (auto it = buckets_.begin(); it != buckets_.end();) {
    if (refill_locked(it->second, now) >= burst_) {
      it = buckets_.erase(it);
    } else {
      ++it;
    }
  }
}

size_t RateLimiter::size() {
  std::lock_guard lk(mu_);
  return buckets_.size();
}

}  // namespace sealrelay::relay
