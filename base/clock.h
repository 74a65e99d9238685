// Clock, WallClock and Rng: the one idiom for time and randomness in policy
// code (the agent's backoff and rate limit, the freshness of message 1s).
// Passed in, never global, so tests drive them by hand and run without
// sleeping.
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <random>

namespace sealrelay {

// A monotonic clock. Implementations must be safe to call from any thread.
class Clock {
 public:
  using duration = std::chrono::nanoseconds;
  using time_point = std::chrono::time_point<std::chrono::steady_clock, duration>;

  virtual ~Clock() = default;
  // The current time; never goes backwards.
  virtual time_point now() const = 0;
};

// The real monotonic clock (std::chrono::steady_clock).
class SteadyClock final : public Clock {
 public:
  time_point now() const override {
    return std::chrono::time_point_cast<duration>(std::chrono::steady_clock::now());
  }
};

// The calendar clock, unix milliseconds: what the timestamp of a message 1
// is held to (crypto/replay.h). May jump either way (NTP, an admin), so
// never used to measure intervals. Implementations must be safe to call
// from any thread.
class WallClock {
 public:
  virtual ~WallClock() = default;
  virtual int64_t unix_ms() const = 0;
};

// The real one (std::chrono::system_clock).
class SystemWallClock final : public WallClock {
 public:
  int64_t unix_ms() const override {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  }
};

// A source of uniformly distributed integers for jitter. Not for secrets:
// keys and nonces come from libsodium (crypto/). Implementations must be
// safe to call from any thread.
class Rng {
 public:
  virtual ~Rng() = default;
  // A uniformly distributed integer in [0, bound]; returns 0 when bound is 0.
  virtual uint64_t uniform(uint64_t bound) = 0;
};

// Rng backed by a 64-bit Mersenne Twister seeded from std::random_device.
class SystemRng final : public Rng {
 public:
  SystemRng() : engine_(std::random_device{}()) {}
  uint64_t uniform(uint64_t bound) override {
    std::lock_guard lock(mu_);
    return std::uniform_int_distribution<uint64_t>(0, bound)(engine_);
  }

 private:
  std::mutex mu_;
  std::mt19937_64 engine_;  // Guarded by mu_.
};

}  // namespace sealrelay
