#include "crypto/replay.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace sealrelay {
namespace {

PublicKey key(uint8_t b) {
  PublicKey k{};
  k[0] = b;
  return k;
}

// The agent's clock in these tests (unix ms, late 2027); timestamps are
// given relative to it.
constexpr int64_t kNow = 1'820'000'000'000;
constexpr int64_t kSkew = ReplayGuard::kMaxClockSkewMs;
using Verdict = ReplayGuard::Verdict;

// Whether `g` accepts `t` ms after kNow when the agent's clock is `now`.
bool fresh(ReplayGuard& g, const PublicKey& k, int64_t t, int64_t now = kNow) {
  return g.accept(k, kNow + t, now) == Verdict::fresh;
}

TEST(ReplayGuard, TheSameMessageOneTwiceIsRefused) {
  ReplayGuard g(1000);
  EXPECT_TRUE(fresh(g, key(1), 5000));
  EXPECT_FALSE(fresh(g, key(1), 5000));
}

TEST(ReplayGuard, OlderThanTheWindowIsRefusedNewerIsAccepted) {
  ReplayGuard g(1000);
  EXPECT_TRUE(fresh(g, key(1), 10'000));
  EXPECT_FALSE(fresh(g, key(1), 9'000)) << "exactly one window old";
  EXPECT_FALSE(fresh(g, key(1), 1));
  EXPECT_TRUE(fresh(g, key(1), 9'500)) << "within the window: concurrent handshakes arrive out of order";
  EXPECT_FALSE(fresh(g, key(1), 9'500));
  EXPECT_TRUE(fresh(g, key(1), 20'000));
  EXPECT_FALSE(fresh(g, key(1), 10'001)) << "the window moved with the newest";
}

TEST(ReplayGuard, ZeroWindowIsStrictlyNewerThanTheLast) {
  ReplayGuard g(0);
  EXPECT_TRUE(fresh(g, key(1), 100));
  EXPECT_FALSE(fresh(g, key(1), 100));
  EXPECT_FALSE(fresh(g, key(1), 99));
  EXPECT_TRUE(fresh(g, key(1), 101));
}

TEST(ReplayGuard, RequestersAreIndependent) {
  ReplayGuard g(1000);
  EXPECT_TRUE(fresh(g, key(1), 5000));
  EXPECT_TRUE(fresh(g, key(2), 5000));
}

TEST(ReplayGuard, SurvivesARestartThroughItsJson) {
  ReplayGuard g(1000);
  ASSERT_TRUE(fresh(g, key(1), 5000));
  ASSERT_TRUE(fresh(g, key(1), 4800));
  auto back = ReplayGuard::from_json(g.to_json(), 1000);
  ASSERT_TRUE(back.ok());
  EXPECT_FALSE(fresh(*back, key(1), 5000));
  EXPECT_FALSE(fresh(*back, key(1), 4800));
  EXPECT_FALSE(fresh(*back, key(1), 3000));
  EXPECT_TRUE(fresh(*back, key(1), 5001));
}

TEST(ReplayGuard, MalformedStateIsRefusedRatherThanForgotten) {
  for (const char* text : {"", "[]", "{\"x\":1}", "{\"AAAA\":{\"newest\":1,\"recent\":[1]}}"}) {
    EXPECT_FALSE(ReplayGuard::from_json(text).ok()) << text;
  }
}

TEST(ReplayGuard, MemoryStaysBoundedUnderAStormOfDistinctTimestamps) {
  ReplayGuard g(1'000'000'000);
  for (int64_t t = 1; t <= 10'000; ++t) ASSERT_TRUE(fresh(g, key(1), t));
  auto state = g.to_json();
  EXPECT_LT(state.size(), ReplayGuard::kMaxRememberedPerRequester * 16);  // 13-digit timestamps
  EXPECT_FALSE(fresh(g, key(1), 1)) << "forgotten timestamps are refused, never accepted again";
}

// Issue 15: a message 1 the relay kept (never delivered, or refused as busy
// or unauthorized) could be replayed days later. Now it is worthless once
// it is more than the skew away from the agent's clock, either way.
TEST(ReplayGuard, ATimestampOutsideTheClockWindowIsRefusedAsClockSkew) {
  ReplayGuard g;
  EXPECT_EQ(g.accept(key(1), kNow - kSkew - 1, kNow), Verdict::clock_skew);
  EXPECT_EQ(g.accept(key(1), kNow + kSkew + 1, kNow), Verdict::clock_skew);
  EXPECT_EQ(g.accept(key(1), kNow - 3 * 86'400'000, kNow), Verdict::clock_skew) << "days old";
  EXPECT_EQ(g.accept(key(1), kNow - kSkew, kNow), Verdict::fresh) << "the edge is inside";
  EXPECT_EQ(g.accept(key(2), kNow + kSkew, kNow), Verdict::fresh);
}

TEST(ReplayGuard, AFreshTimestampIsUsedUpAndAReplayLaterIsRefused) {
  ReplayGuard g;
  const int64_t t = kNow - 1000;
  ASSERT_EQ(g.accept(key(1), t, kNow), Verdict::fresh);  // The caller then refused it (busy, say).
  EXPECT_EQ(g.accept(key(1), t, kNow + 1000), Verdict::replayed) << "within the window: remembered";
  EXPECT_EQ(g.accept(key(1), t, kNow + kSkew + 2000), Verdict::clock_skew) << "after it: too old";
}

TEST(ReplayGuard, RequestersOutOfTheClockWindowAreForgottenSoTheStateStaysSmall) {
  ReplayGuard g(0);
  for (uint8_t k = 0; k < 200; ++k) ASSERT_EQ(g.accept(key(k), kNow, kNow), Verdict::fresh);
  const int64_t later = kNow + kSkew + 1;
  ASSERT_EQ(g.accept(key(250), later, later), Verdict::fresh);
  auto state = nlohmann::json::parse(g.to_json());
  EXPECT_EQ(state.size(), 1u) << "only the requester still inside the window is remembered";
  // Forgetting them reopened nothing: their old timestamps are out of the window.
  EXPECT_EQ(g.accept(key(0), kNow, later), Verdict::clock_skew);
}

}  // namespace
}  // namespace sealrelay
