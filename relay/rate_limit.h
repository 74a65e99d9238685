// Token-bucket rate limiting by key (token id, client IP). Thread-safe;
// time is passed in so tests control it.
#pragma once

#include <chrono>
#include <mutex>
#include <string>
#include <unordered_map>

namespace sealrelay::relay {

class RateLimiter {
 public:
  using Clock = std::chrono::steady_clock;
  // `rate` tokens per second, bucket of `burst`. rate <= 0 disables.
  RateLimiter(double rate, double burst) : rate_(rate), burst_(burst) {}

  // Takes one token from `key`'s bucket; false when it is empty.
  bool allow(const std::string& key, Clock::time_point now = Clock::now());
  // Seconds until `key` has a token again (for Retry-After), at least 1.
  int retry_after(const std::string& key, Clock::time_point now = Clock::now());
  // Forgets buckets that are full again (they behave like new ones).
  void prune(Clock::time_point now = Clock::now());
  size_t size();

 private:
  struct Bucket {
    double tokens;
    Clock::time_point at;
  };
  double refill_locked(Bucket& b, Clock::time_point now) const;

  const double rate_;
  const double burst_;
  std::mutex mu_;
  std::unordered_map<std::string, Bucket> buckets_;  // guarded by mu_
};

}  // namespace sealrelay::relay
