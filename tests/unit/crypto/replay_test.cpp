#include "crypto/replay.h"

#include <gtest/gtest.h>

namespace sealrelay {
namespace {

PublicKey key(uint8_t b) {
  PublicKey k{};
  k[0] = b;
  return k;
}

TEST(ReplayGuard, TheSameMessageOneTwiceIsRefused) {
  ReplayGuard g(1000);
  EXPECT_TRUE(g.accept(key(1), 5000));
  EXPECT_FALSE(g.accept(key(1), 5000));
}

TEST(ReplayGuard, OlderThanTheWindowIsRefusedNewerIsAccepted) {
  ReplayGuard g(1000);
  EXPECT_TRUE(g.accept(key(1), 10'000));
  EXPECT_FALSE(g.accept(key(1), 9'000)) << "exactly one window old";
  EXPECT_FALSE(g.accept(key(1), 1));
  EXPECT_TRUE(g.accept(key(1), 9'500)) << "within the window: concurrent handshakes arrive out of order";
  EXPECT_FALSE(g.accept(key(1), 9'500));
  EXPECT_TRUE(g.accept(key(1), 20'000));
  EXPECT_FALSE(g.accept(key(1), 10'001)) << "the window moved with the newest";
}

TEST(ReplayGuard, ZeroWindowIsStrictlyNewerThanTheLast) {
  ReplayGuard g(0);
  EXPECT_TRUE(g.accept(key(1), 100));
  EXPECT_FALSE(g.accept(key(1), 100));
  EXPECT_FALSE(g.accept(key(1), 99));
  EXPECT_TRUE(g.accept(key(1), 101));
}

TEST(ReplayGuard, RequestersAreIndependent) {
  ReplayGuard g(1000);
  EXPECT_TRUE(g.accept(key(1), 5000));
  EXPECT_TRUE(g.accept(key(2), 5000));
}

TEST(ReplayGuard, SurvivesARestartThroughItsJson) {
  ReplayGuard g(1000);
  ASSERT_TRUE(g.accept(key(1), 5000));
  ASSERT_TRUE(g.accept(key(1), 4800));
  auto back = ReplayGuard::from_json(g.to_json(), 1000);
  ASSERT_TRUE(back.ok());
  EXPECT_FALSE(back->accept(key(1), 5000));
  EXPECT_FALSE(back->accept(key(1), 4800));
  EXPECT_FALSE(back->accept(key(1), 3000));
  EXPECT_TRUE(back->accept(key(1), 5001));
}

TEST(ReplayGuard, MalformedStateIsRefusedRatherThanForgotten) {
  for (const char* text : {"", "[]", "{\"x\":1}", "{\"AAAA\":{\"newest\":1,\"recent\":[1]}}"}) {
    EXPECT_FALSE(ReplayGuard::from_json(text).ok()) << text;
  }
}

TEST(ReplayGuard, MemoryStaysBoundedUnderAStormOfDistinctTimestamps) {
  ReplayGuard g(1'000'000'000);
  for (int64_t t = 1; t <= 10'000; ++t) ASSERT_TRUE(g.accept(key(1), t));
  auto state = g.to_json();
  EXPECT_LT(state.size(), ReplayGuard::kMaxRememberedPerRequester * 12);
  EXPECT_FALSE(g.accept(key(1), 1)) << "forgotten timestamps are refused, never accepted again";
}

}  // namespace
}  // namespace sealrelay
