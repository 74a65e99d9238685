// RedisStore on a real Redis Cluster (tests/support/redis_cluster.h; skipped
// with the reason when redis-server or redis-cli is missing), beyond the
// conformance suite (relay_store_cluster_test): a transfer's keys share one
// node; two relay nodes (two stores) see each other's writes through the
// wake channels; a SIGKILLed master costs its own slots only and its
// subscribers miss nothing after the failover; a stream keeps delivering in
// order while its slot is migrated to another master.
#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <thread>

#include "relay/redis_cluster_slots.h"
#include "relay/redis_store.h"
#include "tests/support/redis_cluster.h"
#include "tests/support/support.h"

namespace sealrelay::relay {
namespace {

using namespace std::chrono_literals;
using test::wait_until;

class ClusterStoreTest : public ::testing::Test {
 protected:
  void start(int replicas) {
    auto c = test::RedisCluster::start(dir_.path(), {.masters = 3, .replicas = replicas});
    if (!c) GTEST_SKIP() << c.error().message;
    cluster_ = std::move(*c);
  }
  std::unique_ptr<RedisStore> store(StoreLimits limits = {}) {
    RedisConfig cfg;
    cfg.cluster = cluster_->seeds();
    cfg.timeout = 1000ms;
    auto s = RedisStore::open(cfg, limits);
    EXPECT_TRUE(s.ok()) << s.error().message;
    return s ? std::move(*s) : nullptr;
  }
  // The running node whose EXISTS finds `key` (its slot's master).
  size_t holder(const std::string& key) {
    for (size_t i = 0; i < cluster_->size(); ++i) {
      if (!cluster_->node(i).process().running()) continue;
      auto n = cluster_->node(i).command({"EXISTS", key});
      if (n.ok() && *n == "1") return i;
    }
    return cluster_->size();
  }
  static std::vector<Store::Frame> frames(int from, int n) {
    std::vector<Store::Frame> out;
    for (int i = from; i < from + n; ++i) {
      out.push_back({std::make_shared<const std::string>("F" + std::to_string(i)), 10});
    }
    return out;
  }
  // Starts transfer `tid` of agent shop-1 through `s`, answered, upload u1 begun.
  static void begin(Store& s, const std::string& tid) {
    ASSERT_TRUE(s.agent_connect({"shop-1", "cGs=", "v1", 0, false}, "s1").ok());
    auto t = s.create_transfer(tid, "shop-1", "r1", "{}");
    ASSERT_TRUE(t.ok()) << t.error().message;
    ASSERT_TRUE(s.answer(tid, "ANSWER").ok());
    ASSERT_TRUE(s.begin_upload(tid, "u1", 0).ok());
  }
  // Collects `sub`'s entries until it holds `n` (or 20 s pass).
  static std::vector<Entry> collect(Subscription& sub, std::vector<Entry>& got, size_t n) {
    wait_until([&] {
      auto b = sub.mailbox().wait(50ms);
      for (auto& e : b.entries) got.push_back(e);
      return got.size() >= n;
    }, 20s);
    return got;
  }
  static void expect_in_order(const std::vector<Entry>& got, size_t frames) {
    ASSERT_EQ(got.size(), frames + 1);
    EXPECT_EQ(got[0].kind, "answer");
    for (size_t i = 1; i <= frames; ++i) {
      EXPECT_EQ(got[i].id, (StreamId{i, 0})) << i;
      EXPECT_EQ(*got[i].payload, "F" + std::to_string(i - 1)) << i;
    }
  }

  test::TempDir dir_;
  std::unique_ptr<test::RedisCluster> cluster_;
};

TEST_F(ClusterStoreTest, TheKeysOfOneTransferLiveOnOneNode) {
  start(0);
  if (!cluster_) return;
  auto s = store();
  ASSERT_TRUE(s);
  begin(*s, "t-one-node");
  ASSERT_TRUE(s->append("t-one-node", "u1", 0, frames(0, 3), "").ok());
  size_t node = holder("sr:{t:t-one-node}:meta");
  ASSERT_LT(node, cluster_->size());
  EXPECT_EQ(*cluster_->node(node).command({"EXISTS", "sr:{t:t-one-node}:meta", "sr:{t:t-one-node}:ev",
                                           "sr:{t:t-one-node}:guard"}),
            "3");
}

TEST_F(ClusterStoreTest, ANodeSeesTheFramesAndInboxWritesOfAnotherNode) {
  start(0);
  if (!cluster_) return;
  auto reader = store();
  auto writer = store();
  ASSERT_TRUE(reader && writer);
  ASSERT_TRUE(writer->agent_connect({"shop-1", "cGs=", "v1", 0, false}, "s1").ok());
  auto inbox = reader->subscribe_inbox("shop-1", {});
  auto sub = reader->subscribe_transfer("t-x", {});
  // The subscription is live once the first write's wake-up reaches it.
  ASSERT_TRUE(wait_until([&] {
    (void)writer->create_transfer("t-probe-" + std::to_string(test::free_port()), "shop-1", "r1", "{}");
    return inbox->mailbox().wait(100ms).poked;
  }, 20s)) << "the reader's inbox was never poked by the writer's create_transfer";
  begin(*writer, "t-x");
  ASSERT_TRUE(writer->append("t-x", "u1", 0, frames(0, 3), "").ok());
  ASSERT_TRUE(writer->append("t-x", "u1", 3, frames(3, 2), "").ok());
  std::vector<Entry> got;
  collect(*sub, got, 6);
  expect_in_order(got, 5);
}

TEST_F(ClusterStoreTest, ANodeOpensAtMostEightConnectionsToEachMasterWhateverItsLoad) {
  start(0);
  if (!cluster_) return;
  StoreLimits limits;
  limits.max_transfers_per_agent = 1000;
  auto s = store(limits);
  ASSERT_TRUE(s);
  ASSERT_TRUE(s->agent_connect({"shop-1", "cGs=", "v1", 0, false}, "s1").ok());
  // 200 idle agents' inboxes and 60 transfer streams subscribed...
  std::vector<std::unique_ptr<Subscription>> subs;
  for (int i = 0; i < 200; ++i) subs.push_back(s->subscribe_inbox("idle-" + std::to_string(i), {}));
  for (int i = 0; i < 60; ++i) {
    std::string tid = "t-load-" + std::to_string(i);
    ASSERT_TRUE(s->create_transfer(tid, "shop-1", "r1", "{}").ok());
    subs.push_back(s->subscribe_transfer(tid, {}));
  }
  // ... while 24 threads read and write transfers of every slot.
  std::atomic<int> failures{0}, finished{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 24; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 40; ++i) {
        std::string tid = "t-load-" + std::to_string((t * 7 + i) % 60);
        if (!s->get_transfer(tid).ok() || !s->read_events(tid, {}, 16).ok()) ++failures;
      }
      ++finished;
    });
  }
  // The most clients any master had (minus the connection that asks),
  // sampled during the load and after it.
  size_t most = 0;
  auto sample = [&] {
    for (size_t i = 0; i < cluster_->size(); ++i) {
      auto info = cluster_->node(i).command({"INFO", "clients"});
      if (!info.ok()) continue;
      size_t at = info->find("connected_clients:") + 18;
      most = std::max<size_t>(most, std::stoul(info->substr(at)) - 1);
    }
  };
  do {
    sample();
  } while (finished.load() < 24);
  for (auto& th : threads) th.join();
  sample();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_LE(most, RedisConfig::kClusterConnectionsPerNode);
  EXPECT_GE(most, 2u) << "the pool and the subscriber were both in use";
}

TEST_F(ClusterStoreTest, AKilledMasterCostsOnlyItsSlotsAndItsSubscribersMissNothingAfterFailover) {
  start(1);
  if (!cluster_) return;
  StoreLimits limits;
  limits.max_transfers_per_agent = 1000;
  auto reader = store(limits);
  auto writer = store(limits);
  ASSERT_TRUE(reader && writer);
  begin(*writer, "t-dies");
  size_t doomed = holder("sr:{t:t-dies}:meta");
  ASSERT_LT(doomed, cluster_->size());
  // A transfer on another master: it keeps working throughout.
  std::string other;
  for (int i = 0; other.empty() && i < 100; ++i) {
    std::string tid = "t-lives-" + std::to_string(i);
    begin(*writer, tid);
    if (holder("sr:{t:" + tid + "}:meta") != doomed) other = tid;
  }
  ASSERT_FALSE(other.empty());
  auto sub = reader->subscribe_transfer("t-dies", {});
  ASSERT_TRUE(writer->append("t-dies", "u1", 0, frames(0, 2), "").ok());
  std::vector<Entry> got;
  collect(*sub, got, 3);
  ASSERT_EQ(got.size(), 3u);
  ASSERT_TRUE(wait_until([&] { return cluster_->replica_caught_up(doomed); }, 10s)) << "the replica never caught up";
  cluster_->node(doomed).process().kill(SIGKILL);
  auto dead = writer->append("t-dies", "u1", 2, frames(2, 1), "");
  ASSERT_FALSE(dead.ok());
  EXPECT_EQ(dead.error().code, "store_unavailable") << dead.error().message;
  EXPECT_TRUE(writer->get_transfer(other).ok()) << "another master's slot answers meanwhile";
  // After the failover the upload carries on where Redis says it stands.
  std::string last_error;
  ASSERT_TRUE(wait_until([&] {
    auto r = writer->append("t-dies", "u1", 2, frames(2, 1), "");
    if (!r) last_error = r.error().code + ": " + r.error().message;
    return r.ok();
  }, 30s)) << "the slot never came back: " << last_error;
  ASSERT_TRUE(writer->append("t-dies", "u1", 3, frames(3, 2), "").ok());
  collect(*sub, got, 6);
  expect_in_order(got, 5);
}

TEST_F(ClusterStoreTest, AStreamKeepsDeliveringInOrderWhileItsSlotMigrates) {
  start(0);
  if (!cluster_) return;
  auto reader = store();
  auto writer = store();
  ASSERT_TRUE(reader && writer);
  begin(*writer, "t-moves");
  auto sub = reader->subscribe_transfer("t-moves", {});
  ASSERT_TRUE(writer->append("t-moves", "u1", 0, frames(0, 2), "").ok());
  std::vector<Entry> got;
  collect(*sub, got, 3);
  ASSERT_EQ(got.size(), 3u);
  // Migrate the slot by hand (what redis-cli --cluster reshard does).
  uint16_t slot = redis::key_slot("sr:{t:t-moves}:meta");
  size_t from = holder("sr:{t:t-moves}:meta");
  ASSERT_LT(from, cluster_->size());
  size_t to = (from + 1) % cluster_->size();
  std::string s = std::to_string(slot);
  ASSERT_TRUE(cluster_->node(to).command({"CLUSTER", "SETSLOT", s, "IMPORTING", cluster_->id_of(from)}).ok());
  ASSERT_TRUE(cluster_->node(from).command({"CLUSTER", "SETSLOT", s, "MIGRATING", cluster_->id_of(to)}).ok());
  ASSERT_TRUE(cluster_->node(from).command({"MIGRATE", "127.0.0.1", std::to_string(cluster_->port(to)), "", "0",
                                            "5000", "KEYS", "sr:{t:t-moves}:meta", "sr:{t:t-moves}:ev",
                                            "sr:{t:t-moves}:guard"}).ok());
  for (size_t i = 0; i < cluster_->size(); ++i) {
    ASSERT_TRUE(cluster_->node(i).command({"CLUSTER", "SETSLOT", s, "NODE", cluster_->id_of(to)}).ok());
  }
  ASSERT_EQ(holder("sr:{t:t-moves}:meta"), to);
  ASSERT_TRUE(writer->append("t-moves", "u1", 2, frames(2, 2), "").ok());
  ASSERT_TRUE(writer->append("t-moves", "u1", 4, frames(4, 1), "").ok());
  collect(*sub, got, 6);
  expect_in_order(got, 5);
}

}  // namespace
}  // namespace sealrelay::relay
