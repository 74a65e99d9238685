// relay/presence.h on MemoryStore with a hand-driven store clock, refreshed
// by hand (refresh(now)) so no test waits for the refresher's thread.
#include "relay/presence.h"

#include <gtest/gtest.h>

#include "relay/memory_store.h"
#include "tests/support/support.h"

namespace sealrelay::relay {
namespace {

using namespace std::chrono_literals;
using Steady = std::chrono::steady_clock;

struct PresenceTest : ::testing::Test {
  std::atomic<int64_t> now{1'700'000'000'000};
  StoreLimits limits = [] {
    StoreLimits l;
    l.presence_ttl = 45s;
    return l;
  }();
  MemoryStore store{limits, [this] { return now.load(); }};
  static constexpr std::chrono::milliseconds kInterval = 15s;
  Presence presence{store, kInterval};
  Steady::time_point t0 = Steady::now();

  void connect(const std::string& agent, const std::string& session) {
    ASSERT_TRUE(store.agent_connect({agent, "pk", "1.0", 0, true}, session).ok());
  }
  bool online(const std::string& agent) { return store.get_agent(agent)->online; }
  void advance(std::chrono::milliseconds d) { now += d.count(); }
};

TEST_F(PresenceTest, AnAgentStaysOnlinePastItsPresenceTtlWhileItsRegistrationIsHeld) {
  connect("shop-1", "s1");
  auto reg = presence.add("shop-1", "s1");
  for (int i = 1; i <= 6; ++i) {  // 90 s: twice the presence TTL
    advance(kInterval);
    EXPECT_EQ(presence.refresh(t0 + i * kInterval), 1u) << "interval " << i;
    EXPECT_TRUE(online("shop-1")) << "interval " << i;
  }
  reg.reset();  // the stream ended without a disconnect (e.g. the node is going away)
  EXPECT_EQ(presence.refresh(t0 + 7 * kInterval), 0u);
  advance(46s);
  EXPECT_FALSE(online("shop-1")) << "a dropped registration is no longer refreshed";
  EXPECT_EQ(presence.registered(), 0u);
}

TEST_F(PresenceTest, EachRefreshIsDueOneIntervalAfterTheLastAndTakenAtMostAnEighthEarly) {
  connect("shop-1", "s1");
  auto reg = presence.add("shop-1", "s1");
  EXPECT_EQ(presence.refresh(t0 + kInterval / 2), 0u);
  EXPECT_EQ(presence.refresh(t0 + kInterval - kInterval / 8 - 100ms), 0u);
  EXPECT_EQ(presence.refresh(t0 + kInterval), 1u);
  EXPECT_EQ(presence.refresh(t0 + kInterval), 0u) << "refreshed once per interval";
  EXPECT_EQ(presence.refresh(t0 + 2 * kInterval - kInterval / 4), 0u);
  EXPECT_EQ(presence.refresh(t0 + 2 * kInterval), 1u);
}

TEST_F(PresenceTest, OneRefreshSendsEveryDueRegistrationOfEveryBatchAndSkipsEndedStreams) {
  const size_t n = 2 * Presence::kMaxBatch + 7;
  std::vector<std::shared_ptr<Presence::Registration>> regs;
  for (size_t i = 0; i < n; ++i) {
    connect("shop-" + std::to_string(i), "s");
    regs.push_back(presence.add("shop-" + std::to_string(i), "s"));
  }
  regs.erase(regs.begin(), regs.begin() + 3);  // three streams ended
  EXPECT_EQ(presence.refresh(Steady::now() + kInterval), n - 3);
  EXPECT_EQ(presence.registered(), n - 3);
}

TEST_F(PresenceTest, ATakenOverSessionIsMarkedSupersededItsMailboxPokedAndNotRefreshedAgain) {
  connect("shop-1", "old");
  auto older = presence.add("shop-1", "old");
  auto box = std::make_shared<Mailbox>(1024);
  older->wake_through(box);
  connect("shop-1", "new");  // a newer stream, on this node or another
  auto newer = presence.add("shop-1", "new");
  EXPECT_FALSE(older->superseded());
  EXPECT_EQ(presence.refresh(t0 + kInterval + 1s), 2u);
  EXPECT_TRUE(older->superseded());
  EXPECT_FALSE(newer->superseded());
  EXPECT_TRUE(box->wait(0ms).poked) << "the older stream is woken to end now";
  EXPECT_EQ(presence.refresh(t0 + 2 * kInterval + 1s), 1u) << "only the newer is refreshed";
  EXPECT_TRUE(online("shop-1"));
}

TEST_F(PresenceTest, TheThreadRefreshesOnItsOwn) {
  Presence fast{store, 40ms};
  connect("shop-1", "s1");
  auto reg = fast.add("shop-1", "s1");
  fast.start();
  // The store's clock jumps once: last_seen moves when the thread refreshes.
  advance(5000ms);
  int64_t before = store.get_agent("shop-1")->last_seen;
  EXPECT_TRUE(test::wait_until([&] { return store.get_agent("shop-1")->last_seen > before; }, 10s));
  fast.stop();
}

}  // namespace
}  // namespace sealrelay::relay
