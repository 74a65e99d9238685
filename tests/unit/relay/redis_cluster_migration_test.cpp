// RedisStore's scripts and transactions while a transfer's slot is half
// migrated, on a real 3-master Redis Cluster (skipped with the reason when
// redis-server or redis-cli is missing). The test moves the slot by hand,
// as `redis-cli --cluster reshard` does: SETSLOT IMPORTING and MIGRATING,
// MIGRATE key by key, SETSLOT NODE. In between, every write that is a
// script or MULTI/EXEC must fail whole with "store_unavailable" (the relay
// answers 503 with Retry-After and the client sends it again): never
// half-applied, never another error. After the migration the same writes
// succeed on the new node and the stream holds each frame once, in order.
#include <gtest/gtest.h>

#include "relay/redis_cluster_slots.h"
#include "relay/redis_store.h"
#include "tests/support/redis_cluster.h"
#include "tests/support/support.h"

namespace sealrelay::relay {
namespace {

using namespace std::chrono_literals;

const std::string kTid = "t-split";
const std::string kMeta = "sr:{t:t-split}:meta", kEv = "sr:{t:t-split}:ev", kGuard = "sr:{t:t-split}:guard";

class ClusterMigrationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto c = test::RedisCluster::start(dir_.path(), {.masters = 3, .replicas = 0});
    if (!c) GTEST_SKIP() << c.error().message;
    cluster_ = std::move(*c);
    RedisConfig cfg;
    cfg.cluster = cluster_->seeds();
    cfg.timeout = 1000ms;
    auto s = RedisStore::open(cfg, {});
    ASSERT_TRUE(s.ok()) << s.error().message;
    store_ = std::move(*s);
    ASSERT_TRUE(store_->agent_connect({"shop-1", "cGs=", "v1", 0, false}, "s1").ok());
    ASSERT_TRUE(store_->create_transfer(kTid, "shop-1", "r1", "{}").ok());
    ASSERT_TRUE(store_->answer(kTid, "ANSWER").ok());
    ASSERT_TRUE(store_->begin_upload(kTid, "u1", 0).ok());
    ASSERT_TRUE(store_->append(kTid, "u1", 0, frames(0, 2), "").ok());
    from_ = holder(kMeta);
    ASSERT_LT(from_, cluster_->size());
    to_ = (from_ + 1) % cluster_->size();
    slot_ = std::to_string(redis::key_slot(kMeta));
  }
  static std::vector<Store::Frame> frames(int from, int n) {
    std::vector<Store::Frame> out;
    for (int i = from; i < from + n; ++i) {
      out.push_back({std::make_shared<const std::string>("F" + std::to_string(i)), 10});
    }
    return out;
  }
  size_t holder(const std::string& key) {
    for (size_t i = 0; i < cluster_->size(); ++i) {
      auto n = cluster_->node(i).command({"EXISTS", key});
      if (n.ok() && *n == "1") return i;
    }
    return cluster_->size();
  }
  void begin_migration() {
    ASSERT_TRUE(cluster_->node(to_).command({"CLUSTER", "SETSLOT", slot_, "IMPORTING", cluster_->id_of(from_)}).ok());
    ASSERT_TRUE(cluster_->node(from_).command({"CLUSTER", "SETSLOT", slot_, "MIGRATING", cluster_->id_of(to_)}).ok());
  }
  void migrate(std::vector<std::string> keys) {
    std::vector<std::string> cmd{"MIGRATE", "127.0.0.1", std::to_string(cluster_->port(to_)), "", "0", "5000", "KEYS"};
    cmd.insert(cmd.end(), keys.begin(), keys.end());
    auto r = cluster_->node(from_).command(cmd);
    ASSERT_TRUE(r.ok()) << r.error().message;
  }
  void end_migration() {
    for (size_t i = 0; i < cluster_->size(); ++i) {
      ASSERT_TRUE(cluster_->node(i).command({"CLUSTER", "SETSLOT", slot_, "NODE", cluster_->id_of(to_)}).ok());
    }
  }
  // `args` on node `i` after ASKING, so a node importing the slot answers
  // for the keys it already holds: the reply as text ("" for an error reply).
  std::string asking(size_t i, const std::vector<std::string>& args) {
    std::unique_ptr<redisContext, void (*)(redisContext*)> c(
        redisConnectUnix(cluster_->node(i).socket_path().c_str()), redisFree);
    if (!c || c->err) return "";
    auto ok = test::redis_call(c.get(), {"ASKING"});
    auto r = test::redis_call(c.get(), args);
    if (!ok || !r || r->type == REDIS_REPLY_ERROR) return "";
    std::string out;
    text(r.get(), out);
    return out;
  }
  static void text(const redisReply* r, std::string& out) {
    if (r->type == REDIS_REPLY_ARRAY) {
      for (size_t i = 0; i < r->elements; ++i) text(r->element[i], out);
    } else if (r->type == REDIS_REPLY_INTEGER) {
      out += std::to_string(r->integer) + "\n";
    } else if (r->str) {
      out.append(r->str, r->len) += "\n";
    }
  }
  // Everything the transfer's keys hold, on whichever node holds them: equal
  // before and after a refused write proves nothing of it was applied.
  std::string snapshot() {
    std::string out;
    for (const auto& key : {kMeta, kEv, kGuard}) {
      size_t at = 0;
      while (at < cluster_->size() && asking(at, {"EXISTS", key}) != "1\n") ++at;
      if (at == cluster_->size()) {
        ADD_FAILURE() << key << " is on no node";
        continue;
      }
      std::string type = asking(at, {"TYPE", key});
      std::string dump = type == "hash\n"     ? asking(at, {"HGETALL", key})
                         : type == "stream\n" ? asking(at, {"XRANGE", key, "-", "+"})
                                              : asking(at, {"GET", key});
      out += key + "@" + std::to_string(at) + ":\n" + dump;
    }
    return out;
  }
  // Every write of an upload in flight, each of which is a script or a
  // transaction on the transfer's three keys: each must be refused whole.
  void expect_every_write_refused_whole(const char* phase) {
    std::string before = snapshot();
    auto expect_unavailable = [&](const char* what, const Error& e) {
      EXPECT_EQ(e.code, "store_unavailable") << phase << ": " << what << ": " << e.message;
    };
    auto a = store_->append(kTid, "u1", 2, frames(2, 2), "");
    if (a.ok()) ADD_FAILURE() << phase << ": append went through";
    else expect_unavailable("append", a.error());
    auto d = store_->mark_delivered(kTid, 1);
    if (d.ok()) ADD_FAILURE() << phase << ": mark_delivered went through";
    else expect_unavailable("mark_delivered", d.error());
    auto b = store_->begin_upload(kTid, "u2", 2);
    if (b.ok()) ADD_FAILURE() << phase << ": begin_upload went through";
    else expect_unavailable("begin_upload", b.error());
    auto f = store_->finish(kTid, State::failed, "agent_error", "x", "ERR", std::nullopt);
    if (f.ok()) ADD_FAILURE() << phase << ": finish went through";
    else expect_unavailable("finish", f.error());
    auto r = store_->read_events(kTid, {}, 16);
    if (r.ok()) ADD_FAILURE() << phase << ": read_events (a MULTI over meta and stream) read a split transfer";
    else expect_unavailable("read_events", r.error());
    EXPECT_EQ(snapshot(), before) << phase << ": a refused write changed the transfer";
  }

  test::TempDir dir_;
  std::unique_ptr<test::RedisCluster> cluster_;
  std::unique_ptr<RedisStore> store_;
  size_t from_ = 0, to_ = 0;
  std::string slot_;
};

TEST_F(ClusterMigrationTest, ScriptsAndTransactionsOnASlotWhoseKeysAreSplitAreRefusedWholeAsUnavailable) {
  if (!cluster_) return;
  begin_migration();
  migrate({kEv});  // meta and guard stay behind: TRYAGAIN for every multi-key write
  expect_every_write_refused_whole("keys split");
}

TEST_F(ClusterMigrationTest, ScriptsAndTransactionsOnASlotMovedButNotYetHandedOverAreRefusedWholeAsUnavailable) {
  if (!cluster_) return;
  begin_migration();
  migrate({kEv, kMeta, kGuard});  // all moved, the slot still the old node's: ASK
  expect_every_write_refused_whole("keys moved, slot not handed over");
  // A single command follows the ASK to the new node.
  auto t = store_->get_transfer(kTid);
  ASSERT_TRUE(t.ok()) << t.error().message;
  EXPECT_EQ(t->frames, 2u);
}

TEST_F(ClusterMigrationTest, AfterTheMigrationTheRefusedWritesSucceedAndTheStreamHoldsEachFrameOnce) {
  if (!cluster_) return;
  begin_migration();
  migrate({kEv});
  EXPECT_FALSE(store_->append(kTid, "u1", 2, frames(2, 2), "").ok());
  migrate({kMeta, kGuard});
  EXPECT_FALSE(store_->append(kTid, "u1", 2, frames(2, 2), "").ok());
  end_migration();
  ASSERT_EQ(holder(kMeta), to_);
  // The same append the client sends again after its 503.
  auto a = store_->append(kTid, "u1", 2, frames(2, 2), "END");
  ASSERT_TRUE(a.ok()) << a.error().message;
  EXPECT_EQ(a->frames, 4u);
  EXPECT_EQ(a->state, State::complete);
  auto r = store_->read_events(kTid, {}, 16);
  ASSERT_TRUE(r.ok()) << r.error().message;
  ASSERT_EQ(r->entries.size(), 6u);  // answer, 4 frames, end
  EXPECT_EQ(r->entries[0].kind, "answer");
  for (size_t i = 1; i <= 4; ++i) {
    EXPECT_EQ(r->entries[i].id, (StreamId{i, 0}));
    EXPECT_EQ(*r->entries[i].payload, "F" + std::to_string(i - 1));
  }
  EXPECT_EQ(r->entries[5].kind, "end");
}

}  // namespace
}  // namespace sealrelay::relay
