#include "agent/rate_limit.h"

#include "test_support.h"

#include <gtest/gtest.h>

#include <chrono>
#include <thread>
#include <vector>

namespace sealrelay::agent {
namespace {

using namespace std::chrono_literals;
using testing::FakeClock;

constexpr uint64_t kRate = 1'000'000;  // 1 MB/s

// One simulated send: `bytes` leave at `at` (after the wait was served).
struct Send {
  Clock::time_point at;
  uint64_t bytes;
};

// A sender that waits what the limiter says before each chunk, for
// `duration` of simulated time; returns when each chunk went out.
std::vector<Send> simulate(RateLimiter& limiter, FakeClock& clock, uint64_t chunk,
                           Clock::duration duration) {
  std::vector<Send> sends;
  auto end = clock.now() + duration;
  // Bounded, so a limiter that never makes anyone wait fails instead of
  // looping forever.
  while (sends.size() < 20'000'000) {
    clock.advance(limiter.reserve(chunk));
    if (clock.now() >= end) break;
    sends.push_back({clock.now(), chunk});
  }
  return sends;
}

class RateLimiterChunkSizes : public ::testing::TestWithParam<uint64_t> {};

TEST_P(RateLimiterChunkSizes, HoldsTheRateWithinTenPercentOverFiveSeconds) {
  FakeClock clock;
  RateLimiter limiter(kRate, 64 * 1024, clock);
  auto start = clock.now();
  auto sends = simulate(limiter, clock, GetParam(), 5s);
  uint64_t total = 0;
  for (const auto& s : sends) total += s.bytes;
  double rate = static_cast<double>(total) / std::chrono::duration<double>(5s).count();
  EXPECT_NEAR(rate, static_cast<double>(kRate), 0.10 * kRate) << "chunk " << GetParam();
  ASSERT_FALSE(sends.empty());
  EXPECT_GE(sends.front().at, start);
}

TEST_P(RateLimiterChunkSizes, NeverSendsMoreThanTheRatePlusTheBurstInAnyOneSecondWindow) {
  FakeClock clock;
  const uint64_t burst = 64 * 1024;
  RateLimiter limiter(kRate, burst, clock);
  auto sends = simulate(limiter, clock, GetParam(), 6s);
  // Sliding window [sends[i].at, sends[i].at + 1s).
  size_t j = 0;
  uint64_t in_window = 0;
  for (size_t i = 0; i < sends.size(); ++i) {
    while (j < sends.size() && sends[j].at < sends[i].at + 1s) in_window += sends[j++].bytes;
    // Pay-before-send: a window can hold at most burst + rate * 1s, plus
    // the one chunk at its very start when the chunk exceeds the burst.
    EXPECT_LE(in_window, burst + kRate + (GetParam() > burst ? GetParam() : 0)) << i;
    in_window -= sends[i].bytes;
  }
}

INSTANTIATE_TEST_SUITE_P(Table, RateLimiterChunkSizes,
                         ::testing::Values(1, 512, 1500, 4096, 16384, 65536, 100'000, 250'000),
                         [](const auto& info) { return "Chunk" + std::to_string(info.param); });

TEST(RateLimiter, LetsTheFirstBurstThroughWithoutWaiting) {
  FakeClock clock;
  RateLimiter limiter(kRate, 100'000, clock);
  EXPECT_EQ(limiter.reserve(60'000), 0s);
  EXPECT_EQ(limiter.reserve(40'000), 0s);
  EXPECT_EQ(limiter.reserve(1'000), 1ms);  // 1000 bytes of debt at 1 MB/s.
}

TEST(RateLimiter, AChunkLargerThanTheBurstWaitsForTheWholeExcess) {
  FakeClock clock;
  RateLimiter limiter(kRate, 100'000, clock);
  EXPECT_EQ(limiter.reserve(3'100'000), 3s);
  clock.advance(3s);
  EXPECT_EQ(limiter.reserve(500'000), 500ms);
}

TEST(RateLimiter, IdleTimeRefillsNoMoreThanTheBurst) {
  FakeClock clock;
  RateLimiter limiter(kRate, 100'000, clock);
  (void)limiter.reserve(100'000);
  clock.advance(1h);
  EXPECT_EQ(limiter.reserve(100'000), 0s);
  EXPECT_EQ(limiter.reserve(10'000), 10ms);
}

TEST(RateLimiter, WaitTimeAnswersWithoutTakingTokens) {
  FakeClock clock;
  RateLimiter limiter(kRate, 100'000, clock);
  EXPECT_EQ(limiter.wait_time(100'000), 0s);
  EXPECT_EQ(limiter.wait_time(150'000), 50ms);
  EXPECT_EQ(limiter.wait_time(150'000), 50ms);
  EXPECT_EQ(limiter.reserve(100'000), 0s);
  EXPECT_EQ(limiter.wait_time(1'000), 1ms);
  clock.advance(1ms);
  EXPECT_EQ(limiter.wait_time(1'000), 0s);
}

TEST(RateLimiter, ZeroBurstPacesEveryChunk) {
  FakeClock clock;
  RateLimiter limiter(kRate, 0, clock);
  EXPECT_EQ(limiter.reserve(1'000), 1ms);
  clock.advance(1ms);
  EXPECT_EQ(limiter.reserve(2'000), 2ms);
}

TEST(RateLimiter, ZeroRateMeansNoCap) {
  FakeClock clock;
  RateLimiter limiter(0, 0, clock);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(limiter.reserve(1ull << 40), 0s);
  EXPECT_EQ(limiter.wait_time(1ull << 40), 0s);
  EXPECT_EQ(limiter.bytes_per_second(), 0u);
}

TEST(RateLimiter, TransfersSharingOneLimiterShareTheCap) {
  FakeClock clock;
  RateLimiter limiter(kRate, 0, clock);
  // Two transfers reserving 10 KB each without waiting in between: the
  // second must wait for both.
  EXPECT_EQ(limiter.reserve(10'000), 10ms);
  EXPECT_EQ(limiter.reserve(10'000), 20ms);
}

TEST(RateLimiter, ConcurrentReservationsAccountForEveryByte) {
  FakeClock clock;  // Frozen: every byte past the burst becomes debt.
  RateLimiter limiter(kRate, 0, clock);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&] {
      for (int i = 0; i < 1000; ++i) (void)limiter.reserve(100);
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(limiter.wait_time(0), 400ms);  // 400,000 bytes of debt.
}

}  // namespace
}  // namespace sealrelay::agent
