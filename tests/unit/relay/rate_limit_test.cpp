// relay/rate_limit.h: token buckets per key. The limiter takes the time as an
// argument, so every test here drives it with made-up time points; nothing
// sleeps.
#include "relay/rate_limit.h"

#include <gtest/gtest.h>

#include <chrono>

namespace sealrelay::relay {
namespace {

using namespace std::chrono_literals;

TEST(RateLimiterTest, AllowsTheBurstThenTheRate) {
  RateLimiter rl(2.0, 3.0);
  auto t0 = RateLimiter::Clock::now();
  EXPECT_TRUE(rl.allow("k", t0));
  EXPECT_TRUE(rl.allow("k", t0));
  EXPECT_TRUE(rl.allow("k", t0));
  EXPECT_FALSE(rl.allow("k", t0));
  EXPECT_TRUE(rl.allow("other", t0)) << "buckets are per key";
  EXPECT_EQ(rl.retry_after("k", t0), 1);
  EXPECT_TRUE(rl.allow("k", t0 + 500ms));
  EXPECT_FALSE(rl.allow("k", t0 + 500ms));
  rl.prune(t0 + 10s);
  EXPECT_EQ(rl.size(), 0u) << "full buckets are forgotten";
  RateLimiter off(0, 0);
  for (int i = 0; i < 100; ++i) EXPECT_TRUE(off.allow("k", t0));
}

TEST(RateLimiterTest, AFreshKeyGetsExactlyTheBurstAndNoMore) {
  RateLimiter rl(1.0, 5.0);
  auto t0 = RateLimiter::Clock::now();
  for (int i = 0; i < 5; ++i) EXPECT_TRUE(rl.allow("k", t0)) << "request " << i + 1 << " of the burst";
  EXPECT_FALSE(rl.allow("k", t0)) << "the sixth request at the same instant is over the burst";
  EXPECT_FALSE(rl.allow("k", t0)) << "a refused request does not reset the bucket";
}

TEST(RateLimiterTest, ALongIdleRefillsOnlyUpToTheBurst) {
  RateLimiter rl(10.0, 3.0);
  auto t0 = RateLimiter::Clock::now();
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(rl.allow("k", t0));
  ASSERT_FALSE(rl.allow("k", t0));
  // An hour at 10/s would be 36,000 tokens; the bucket holds 3.
  auto later = t0 + 1h;
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(rl.allow("k", later));
  EXPECT_FALSE(rl.allow("k", later)) << "idle time saved up more than the burst";
}

TEST(RateLimiterTest, RefillIsProportionalToElapsedTime) {
  RateLimiter rl(4.0, 1.0);  // one token every 250 ms
  auto t0 = RateLimiter::Clock::now();
  ASSERT_TRUE(rl.allow("k", t0));
  EXPECT_FALSE(rl.allow("k", t0 + 200ms)) << "0.8 of a token is not a token";
  EXPECT_TRUE(rl.allow("k", t0 + 250ms));
  EXPECT_FALSE(rl.allow("k", t0 + 250ms));
}

// Callers read the clock before taking the limiter's lock, so two threads can
// arrive out of order: the later call must not move the bucket's time back.
TEST(RateLimiterTest, AClockThatGoesBackMintsNoTokens) {
  RateLimiter rl(1.0, 2.0);
  auto t0 = RateLimiter::Clock::now();
  ASSERT_TRUE(rl.allow("k", t0));
  ASSERT_TRUE(rl.allow("k", t0));
  EXPECT_FALSE(rl.allow("k", t0 - 10s));
  EXPECT_FALSE(rl.allow("k", t0)) << "going back and forth again must not refill";
}

TEST(RateLimiterTest, RetryAfterIsTheWholeSecondsUntilTheNextToken) {
  RateLimiter rl(0.25, 1.0);  // one token every 4 s
  auto t0 = RateLimiter::Clock::now();
  EXPECT_EQ(rl.retry_after("unseen", t0), 1) << "a key never seen has a token now";
  ASSERT_TRUE(rl.allow("k", t0));
  ASSERT_FALSE(rl.allow("k", t0));
  EXPECT_EQ(rl.retry_after("k", t0), 4);
  EXPECT_EQ(rl.retry_after("k", t0 + 500ms), 4) << "3.5 s rounds up: after 3 s the token is not there";
  EXPECT_EQ(rl.retry_after("k", t0 + 1s), 3);
  EXPECT_EQ(rl.retry_after("k", t0 + 3500ms), 1) << "rounded up, never 0";
  EXPECT_EQ(rl.retry_after("k", t0 + 4s), 1) << "a token is there: at least 1";
  EXPECT_TRUE(rl.allow("k", t0 + 4s)) << "the Retry-After it gave was honest";
}

TEST(RateLimiterTest, PruneKeepsBucketsThatAreStillRefilling) {
  RateLimiter rl(1.0, 2.0);
  auto t0 = RateLimiter::Clock::now();
  ASSERT_TRUE(rl.allow("busy", t0));
  ASSERT_TRUE(rl.allow("busy", t0));
  ASSERT_TRUE(rl.allow("idle", t0));
  rl.prune(t0 + 1s);  // "idle" is full again (1 + 1), "busy" holds 1 of 2
  EXPECT_EQ(rl.size(), 1u);
  // Pruning a bucket that was still owed tokens would hand it a full burst.
  ASSERT_TRUE(rl.allow("busy", t0 + 1s));
  EXPECT_FALSE(rl.allow("busy", t0 + 1s)) << "prune forgot a bucket that was not full";
}

TEST(RateLimiterTest, ADisabledLimiterKeepsNoBuckets) {
  RateLimiter off(0, 0);
  auto t0 = RateLimiter::Clock::now();
  for (int i = 0; i < 1000; ++i) ASSERT_TRUE(off.allow("key-" + std::to_string(i), t0));
  EXPECT_EQ(off.size(), 0u) << "a disabled limiter must not grow per key";
  EXPECT_EQ(off.retry_after("key-0", t0), 1);
}

}  // namespace
}  // namespace sealrelay::relay
