#include "agent/backoff.h"

#include "test_support.h"

#include <gtest/gtest.h>

#include <chrono>
#include <vector>

namespace sealrelay::agent {
namespace {

using namespace std::chrono_literals;
using testing::FakeClock;
using testing::FakeRng;
using Jitter = BackoffConfig::Jitter;

BackoffConfig config(Jitter jitter, Clock::duration base = 1s, Clock::duration cap = 60s) {
  BackoffConfig c;
  c.base = base;
  c.cap = cap;
  c.jitter = jitter;
  c.healthy_after = 30s;
  c.quick_retries = 0;  // the plain schedule; the quick retries have tests of their own
  return c;
}

std::vector<Clock::duration> delays(Backoff& b, int n) {
  std::vector<Clock::duration> out;
  for (int i = 0; i < n; ++i) out.push_back(b.next_delay());
  return out;
}

TEST(BackoffFullJitter, DoublesTheEnvelopeUpToTheCapWhenTheRngAlwaysPicksTheMaximum) {
  FakeClock clock;
  FakeRng rng(1.0);
  Backoff b(config(Jitter::full, 1s, 20s), clock, rng);
  std::vector<Clock::duration> want = {1s, 2s, 4s, 8s, 16s, 20s, 20s, 20s};
  EXPECT_EQ(delays(b, 8), want);
}

TEST(BackoffFullJitter, CanReturnZeroWhenTheRngPicksTheMinimum) {
  FakeClock clock;
  FakeRng rng(0.0);
  Backoff b(config(Jitter::full), clock, rng);
  for (auto d : delays(b, 5)) EXPECT_EQ(d, 0s);
}

TEST(BackoffFullJitter, AsksTheRngForTheWholeEnvelopeEachTime) {
  FakeClock clock;
  FakeRng rng(0.5);
  Backoff b(config(Jitter::full, 100ms, 1s), clock, rng);
  (void)delays(b, 6);
  std::vector<uint64_t> want;
  for (auto env : {100ms, 200ms, 400ms, 800ms, 1000ms, 1000ms})
    want.push_back(static_cast<uint64_t>(Clock::duration(env).count()));
  EXPECT_EQ(rng.bounds, want);
}

TEST(BackoffDecorrelatedJitter, TriplesUpToTheCapWhenTheRngAlwaysPicksTheMaximum) {
  FakeClock clock;
  FakeRng rng(1.0);
  Backoff b(config(Jitter::decorrelated, 1s, 60s), clock, rng);
  std::vector<Clock::duration> want = {3s, 9s, 27s, 60s, 60s};
  EXPECT_EQ(delays(b, 5), want);
}

TEST(BackoffDecorrelatedJitter, NeverGoesBelowTheBase) {
  FakeClock clock;
  FakeRng rng(0.0);
  Backoff b(config(Jitter::decorrelated, 1s, 60s), clock, rng);
  for (auto d : delays(b, 10)) EXPECT_EQ(d, 1s);
}

TEST(BackoffDecorrelatedJitter, DrawsBetweenTheBaseAndThreeTimesThePreviousDelay) {
  FakeClock clock;
  FakeRng rng;
  rng.script({0, 2'000'000'000, 5'000'000'000});  // Offsets above the base.
  Backoff b(config(Jitter::decorrelated, 1s, 60s), clock, rng);
  EXPECT_EQ(b.next_delay(), 1s);  // uniform(1s, 3s) -> 1s + 0
  EXPECT_EQ(b.next_delay(), 3s);  // uniform(1s, 3s) -> 1s + 2s
  EXPECT_EQ(b.next_delay(), 6s);  // uniform(1s, 9s) -> 1s + 5s
  std::vector<uint64_t> want = {2'000'000'000, 2'000'000'000, 8'000'000'000};
  std::vector<uint64_t> got(rng.bounds.begin(), rng.bounds.begin() + 3);
  EXPECT_EQ(got, want);
}

class BackoffBounds : public ::testing::TestWithParam<Jitter> {};

TEST_P(BackoffBounds, StaysWithinTheCapForThousandsOfFailuresWithRandomJitter) {
  FakeClock clock;
  SystemRng rng;
  auto c = config(GetParam(), 250ms, 45s);
  Backoff b(c, clock, rng);
  Clock::duration floor = GetParam() == Jitter::full ? 0s : c.base;
  for (int i = 0; i < 5000; ++i) {
    auto d = b.next_delay();
    ASSERT_GE(d, floor) << i;
    ASSERT_LE(d, c.cap) << i;
  }
  EXPECT_EQ(b.failures(), 5000u);
}

TEST_P(BackoffBounds, AHugeCapAndManyFailuresDoNotOverflow) {
  FakeClock clock;
  FakeRng rng(1.0);
  auto c = config(GetParam(), 1ns, Clock::duration::max() / 2);
  Backoff b(c, clock, rng);
  Clock::duration prev = 0s;
  for (int i = 0; i < 200; ++i) {
    auto d = b.next_delay();
    ASSERT_GE(d, prev) << i;
    ASSERT_LE(d, c.cap) << i;
    prev = d;
  }
  EXPECT_EQ(prev, c.cap);
}

TEST_P(BackoffBounds, ResetStartsTheScheduleAgain) {
  FakeClock clock;
  FakeRng rng(1.0);
  Backoff b(config(GetParam()), clock, rng);
  auto first = delays(b, 4);
  b.reset();
  EXPECT_EQ(b.failures(), 0u);
  EXPECT_EQ(delays(b, 4), first);
}

TEST_P(BackoffBounds, AConnectionThatStayedUpLongEnoughResetsTheSchedule) {
  FakeClock clock;
  FakeRng rng(1.0);
  Backoff b(config(GetParam()), clock, rng);
  auto first = delays(b, 4);
  b.succeeded();
  clock.advance(30s);  // healthy_after
  EXPECT_EQ(b.next_delay(), first[0]);
  EXPECT_EQ(b.failures(), 1u);
}

TEST_P(BackoffBounds, AFlappingConnectionKeepsTheDelaysGrowing) {
  FakeClock clock;
  FakeRng rng(1.0);
  Backoff b(config(GetParam()), clock, rng);
  auto first = delays(b, 3);
  b.succeeded();
  clock.advance(29s);  // Dropped before healthy_after.
  auto d = b.next_delay();
  EXPECT_GT(d, first[2]);
  EXPECT_EQ(b.failures(), 4u);
}

TEST_P(BackoffBounds, ASuccessOnlyCountsForTheConnectionItStarted) {
  FakeClock clock;
  FakeRng rng(1.0);
  Backoff b(config(GetParam()), clock, rng);
  (void)delays(b, 3);
  b.succeeded();
  clock.advance(1s);
  auto grown = b.next_delay();  // Flap: not reset, and the success is used up.
  clock.advance(10min);        // Long wait without a new success.
  EXPECT_GE(b.next_delay(), grown);
  EXPECT_EQ(b.failures(), 5u);
}

TEST_P(BackoffBounds, ZeroHealthyAfterMeansAnySuccessResets) {
  FakeClock clock;
  FakeRng rng(1.0);
  auto c = config(GetParam());
  c.healthy_after = 0s;
  Backoff b(c, clock, rng);
  auto first = delays(b, 3);
  b.succeeded();
  EXPECT_EQ(b.next_delay(), first[0]);
}

INSTANTIATE_TEST_SUITE_P(BothJitters, BackoffBounds,
                         ::testing::Values(Jitter::full, Jitter::decorrelated),
                         [](const auto& info) {
                           return info.param == Jitter::full ? "Full" : "Decorrelated";
                         });

TEST(BackoffSchedule, AnAgentFailingForTenMinutesRetriesSteadilyButDoesNotHammer) {
  FakeClock clock;
  SystemRng rng;
  Backoff b(config(Jitter::decorrelated, 500ms, 60s), clock, rng);
  auto start = clock.now();
  int attempts = 0;
  while (clock.now() - start < 10min) {
    clock.advance(b.next_delay());
    ++attempts;
  }
  // Decorrelated delays are at least the base and at most the cap.
  EXPECT_LE(attempts, 1200);
  EXPECT_GE(attempts, 10);
}

TEST(BackoffQuickRetries, TheFirstDelaysStayInTheFirstEnvelopeThenGrowFromThere) {
  FakeClock clock;
  FakeRng rng(1.0);
  auto c = config(Jitter::decorrelated, 500ms, 60s);
  c.quick_retries = 4;
  Backoff b(c, clock, rng);
  std::vector<Clock::duration> want = {1500ms, 1500ms, 1500ms, 1500ms, 4500ms, 13500ms, 40500ms, 60s};
  EXPECT_EQ(delays(b, 8), want);
}

TEST(BackoffQuickRetries, FullJitterKeepsTheFirstEnvelopeForTheQuickDelaysThenDoubles) {
  FakeClock clock;
  FakeRng rng(1.0);
  auto c = config(Jitter::full, 1s, 20s);
  c.quick_retries = 3;
  Backoff b(c, clock, rng);
  std::vector<Clock::duration> want = {1s, 1s, 1s, 2s, 4s, 8s, 16s, 20s};
  EXPECT_EQ(delays(b, 8), want);
}

TEST(BackoffQuickRetries, ZeroAndOneAreThePlainSchedule) {
  for (unsigned quick : {0u, 1u}) {
    FakeClock clock;
    FakeRng rng(1.0);
    auto c = config(Jitter::decorrelated, 1s, 60s);
    c.quick_retries = quick;
    Backoff b(c, clock, rng);
    std::vector<Clock::duration> want = {3s, 9s, 27s, 60s, 60s};
    EXPECT_EQ(delays(b, 5), want) << quick;
  }
}

TEST(BackoffQuickRetries, AConnectionThatDroppedAfterBeingHealthyGetsTheQuickRetriesAgain) {
  FakeClock clock;
  FakeRng rng(1.0);
  auto c = config(Jitter::decorrelated, 500ms, 60s);
  c.quick_retries = 2;
  Backoff b(c, clock, rng);
  auto first = delays(b, 4);  // 1.5, 1.5 (quick), 4.5, 13.5 s
  b.succeeded();
  clock.advance(30s);  // healthy_after: then the relay restarts under it
  EXPECT_EQ(delays(b, 4), first);
}

// The agent's defaults after a healthy stream drops (a relay node holding
// 10,000 streams restarted): the drop and the next four refused attempts
// (connection refused while the node starts, 503 while the others come
// back, even a 503 that took 5 s to come) are each followed by a retry
// within 1.5 s, whatever the draws; only then does the schedule grow.
TEST(BackoffQuickRetries, WithTheDefaultsTheFirstFiveRetriesAfterADropComeWithinOneAndAHalfSeconds) {
  FakeClock clock;
  SystemRng rng;
  BackoffConfig c;
  for (int agent = 0; agent < 2000; ++agent) {
    Backoff b(c, clock, rng);
    for (int retry = 0; retry < 5; ++retry) {
      auto d = b.next_delay();
      ASSERT_LE(d, 1500ms) << "agent " << agent << ", retry " << retry;
      ASSERT_GE(d, c.base);
      clock.advance(d + 5s);  // the attempt itself may take seconds to be refused
    }
  }
}

struct BadConfig {
  const char* name;
  Clock::duration base, cap, healthy_after;
};

class BackoffConfigValidation : public ::testing::TestWithParam<BadConfig> {};

TEST_P(BackoffConfigValidation, IsRefused) {
  BackoffConfig c;
  c.base = GetParam().base;
  c.cap = GetParam().cap;
  c.healthy_after = GetParam().healthy_after;
  auto r = c.validate();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, "bad_config");
}

INSTANTIATE_TEST_SUITE_P(
    Table, BackoffConfigValidation,
    ::testing::Values(BadConfig{"ZeroBase", 0s, 10s, 30s}, BadConfig{"NegativeBase", -1s, 10s, 30s},
                      BadConfig{"CapBelowBase", 10s, 9s, 30s},
                      BadConfig{"NegativeHealthyAfter", 1s, 10s, -1s}),
    [](const auto& info) { return std::string(info.param.name); });

TEST(BackoffConfigValidation, AcceptsTheDefaults) { EXPECT_TRUE(BackoffConfig{}.validate().ok()); }

TEST(BackoffConfigValidationDeathTest, ConstructingWithAnInvalidConfigAborts) {
  FakeClock clock;
  FakeRng rng;
  BackoffConfig c;
  c.cap = c.base / 2;
  EXPECT_DEATH(Backoff(c, clock, rng), "");
}

}  // namespace
}  // namespace sealrelay::agent
