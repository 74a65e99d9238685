// relay/redis_cluster.h against a real Redis Cluster of Debian's
// redis-server (tests/support/redis_cluster.h; skipped with the reason when
// redis-server or redis-cli is missing): commands land on the master of
// their slot, a stale map is mended by MOVED, a slot in migration is
// followed by ASK, connections per node stay capped, and a dead master
// costs its own slots only, until its replica takes over.
#include "relay/redis_cluster.h"

#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>
#include <sstream>
#include <thread>

#include "tests/support/redis_cluster.h"

namespace sealrelay::relay {
namespace {

using namespace std::chrono_literals;

class ClusterRouterTest : public ::testing::Test {
 protected:
  void start(int replicas) {
    auto c = test::RedisCluster::start(dir_.path(), {.masters = 3, .replicas = replicas});
    if (!c) GTEST_SKIP() << c.error().message;
    cluster_ = std::move(*c);
    std::vector<RedisEndpoint> seeds;
    for (size_t i = 0; i < cluster_->size(); ++i) {
      seeds.push_back(*RedisEndpoint::parse("redis://127.0.0.1:" + std::to_string(cluster_->port(i))));
    }
    auto r = ClusterRouter::connect(seeds, 2000ms);
    ASSERT_TRUE(r.ok()) << r.error().message;
    router_ = std::move(*r);
  }
  Result<std::string> run(const std::string& key, std::vector<std::string_view> args) {
    auto reply = router_->command(redis::key_slot(key), args);
    if (!reply) return reply.error();
    if (reply_is_error(reply->get())) return make_error("redis_error", reply_str(reply->get()));
    return reply_str(reply->get());
  }
  // The node (by index) whose CLUSTER SLOTS says it serves `slot` as master.
  size_t owner_of(uint16_t slot) {
    for (size_t i = 0; i < cluster_->size(); ++i) {
      if (!cluster_->node(i).process().running()) continue;
      auto role = cluster_->node(i).command({"ROLE"});
      if (!role.ok() || !role->starts_with("master")) continue;
      auto nodes = cluster_->node(i).command({"CLUSTER", "NODES"});
      if (!nodes.ok()) continue;
      for (size_t start = 0; start < nodes->size();) {
        size_t end = nodes->find('\n', start);
        std::string line = nodes->substr(start, end - start);
        start = end == std::string::npos ? nodes->size() : end + 1;
        if (line.find("myself") == std::string::npos) continue;
        // ... "connected 0-5460 ..." ranges after the 8th field.
        std::istringstream fields(line);
        std::string f;
        for (int n = 0; n < 8 && fields >> f; ++n) {
        }
        while (fields >> f) {
          if (f.front() == '[') continue;
          size_t dash = f.find('-');
          int lo = std::stoi(f.substr(0, dash));
          int hi = dash == std::string::npos ? lo : std::stoi(f.substr(dash + 1));
          if (slot >= lo && slot <= hi) return i;
        }
      }
    }
    return cluster_->size();
  }

  test::TempDir dir_;
  std::unique_ptr<test::RedisCluster> cluster_;
  std::unique_ptr<ClusterRouter> router_;
};

TEST_F(ClusterRouterTest, EveryCommandLandsOnTheMasterOfItsSlot) {
  start(0);
  if (!router_) return;  // skipped: no redis-server or redis-cli
  for (int i = 0; i < 300; ++i) {
    std::string key = "sr:{t:" + std::to_string(i) + "}:meta";
    ASSERT_TRUE(run(key, {"SET", key, std::to_string(i)}).ok()) << key;
  }
  for (int i = 0; i < 300; ++i) {
    std::string key = "sr:{t:" + std::to_string(i) + "}:meta";
    size_t owner = owner_of(redis::key_slot(key));
    ASSERT_LT(owner, cluster_->size()) << key;
    // Asked directly, the owner has it: no redirection was needed to write it.
    EXPECT_EQ(*cluster_->node(owner).command({"GET", key}), std::to_string(i)) << key;
  }
  EXPECT_EQ(router_->stats().moved, 0u);
  EXPECT_EQ(router_->stats().nodes, 3u);
}

TEST_F(ClusterRouterTest, AStaleMapIsMendedByMovedAndASlotInMigrationByAsk) {
  start(0);
  if (!router_) return;  // skipped: no redis-server or redis-cli
  const std::string key = "sr:{t:migrating}:meta";
  const std::string other = "sr:{t:migrating}:ev";
  uint16_t slot = redis::key_slot(key);
  size_t from = owner_of(slot);
  ASSERT_LT(from, cluster_->size());
  size_t to = (from + 1) % cluster_->size();
  ASSERT_TRUE(run(key, {"SET", key, "moved-value"}).ok());
  ASSERT_TRUE(run(other, {"SET", other, "stays-behind"}).ok());
  // Migrate the slot by hand, one key first: the router's map still says `from`.
  auto& src = cluster_->node(from);
  auto& dst = cluster_->node(to);
  ASSERT_TRUE(dst.command({"CLUSTER", "SETSLOT", std::to_string(slot), "IMPORTING", cluster_->id_of(from)}).ok());
  ASSERT_TRUE(src.command({"CLUSTER", "SETSLOT", std::to_string(slot), "MIGRATING", cluster_->id_of(to)}).ok());
  ASSERT_TRUE(src.command({"MIGRATE", "127.0.0.1", std::to_string(cluster_->port(to)), "", "0", "5000",
                           "KEYS", key})
                  .ok());
  auto asked = run(key, {"GET", key});
  ASSERT_TRUE(asked.ok()) << asked.error().message;
  EXPECT_EQ(*asked, "moved-value");
  EXPECT_GE(router_->stats().asked, 1u);
  EXPECT_EQ(*run(other, {"GET", other}), "stays-behind");  // still on the source, no redirection
  // Finish the migration: now the source says MOVED and the map is read again.
  ASSERT_TRUE(src.command({"MIGRATE", "127.0.0.1", std::to_string(cluster_->port(to)), "", "0", "5000",
                           "KEYS", other})
                  .ok());
  for (size_t i = 0; i < cluster_->size(); ++i) {
    ASSERT_TRUE(cluster_->node(i).command({"CLUSTER", "SETSLOT", std::to_string(slot), "NODE", cluster_->id_of(to)}).ok());
  }
  auto refreshes = router_->stats().refreshes;
  auto moved = run(other, {"GET", other});
  ASSERT_TRUE(moved.ok()) << moved.error().message;
  EXPECT_EQ(*moved, "stays-behind");
  EXPECT_GE(router_->stats().moved, 1u);
  EXPECT_GT(router_->stats().refreshes, refreshes);
}

TEST_F(ClusterRouterTest, ConnectionsPerNodeStayCappedUnderManyThreads) {
  start(0);
  if (!router_) return;  // skipped: no redis-server or redis-cli
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < 24; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 100; ++i) {
        std::string key = "sr:{a:" + std::to_string(t * 1000 + i) + "}:info";
        if (!run(key, {"INCR", key}).ok()) ++failures;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
  for (size_t i = 0; i < cluster_->size(); ++i) {
    auto clients = cluster_->node(i).command({"CLIENT", "LIST", "TYPE", "normal"});
    ASSERT_TRUE(clients.ok());
    size_t tcp = 0;
    // " addr=" (the peer), not "laddr=" (the node's own end).
    for (size_t at = clients->find(" addr=127.0.0.1:"); at != std::string::npos;
         at = clients->find(" addr=127.0.0.1:", at + 1)) {
      ++tcp;
    }
    EXPECT_LE(tcp, ClusterRouter::kDefaultMaxOpenPerNode) << "node " << i;
  }
}

TEST_F(ClusterRouterTest, ADeadMasterCostsItsOwnSlotsOnlyUntilItsReplicaTakesOver) {
  start(1);
  if (!router_) return;  // skipped: no redis-server or redis-cli
  const std::string key = "sr:{t:victim}:meta";
  uint16_t slot = redis::key_slot(key);
  ASSERT_TRUE(run(key, {"SET", key, "v"}).ok());
  size_t victim = owner_of(slot);
  ASSERT_LT(victim, cluster_->size());
  // A key served by another master.
  std::string elsewhere;
  for (int i = 0; elsewhere.empty(); ++i) {
    std::string k = "sr:{t:other" + std::to_string(i) + "}:meta";
    if (owner_of(redis::key_slot(k)) != victim) elsewhere = k;
  }
  // The replica must hold the key before its master dies, or the failover
  // loses it (asynchronous replication) and GET finds nothing.
  ASSERT_TRUE(test::wait_until([&] { return cluster_->replica_caught_up(victim); }, 10s));
  cluster_->node(victim).process().kill(SIGKILL);
  // Until a replica is promoted the victim's slot fails cleanly; the others keep working.
  auto during = run(key, {"GET", key});
  if (!during.ok()) {
    EXPECT_EQ(during.error().code, "store_unavailable") << during.error().message;
  }
  EXPECT_TRUE(run(elsewhere, {"SET", elsewhere, "x"}).ok());
  // The replica takes over; the router finds it without being told.
  bool back = test::wait_until([&] { return run(key, {"GET", key}).ok(); }, 30s, 100ms);
  ASSERT_TRUE(back) << "the key's slot never came back after the failover: "
                    << run(key, {"GET", key}).error().message << "\n"
                    << *cluster_->node((victim + 1) % cluster_->size()).command({"CLUSTER", "NODES"});
  EXPECT_EQ(*run(key, {"GET", key}), "v");
}

}  // namespace
}  // namespace sealrelay::relay
