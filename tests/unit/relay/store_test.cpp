// One test suite, every Store implementation: MemoryStore always, RedisStore
// against a private redis-server (skipped with the reason when none is
// installed). Built a second time with SEALRELAY_STORE_ON_CLUSTER
// (relay_store_cluster_test, label cluster): the same suite against
// RedisStore on a private 3-master Redis Cluster, one per run.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "crypto/protocol.h"
#include "proto/event_stream.h"
#include "relay/memory_store.h"
#include "relay/redis_store.h"
#include "tests/support/redis_cluster.h"
#include "tests/support/support.h"

namespace sealrelay::relay {
namespace {

using namespace std::chrono_literals;
using test::wait_until;

struct MemoryFactory {
  std::atomic<int64_t> now{1'700'000'000'000};
  std::unique_ptr<Store> make(StoreLimits limits) {
    return std::make_unique<MemoryStore>(limits, [this] { return now.load(); });
  }
  // Moves the clock (memory) or lets real time pass (Redis TTLs).
  void advance(std::chrono::milliseconds d) { now += d.count(); }
  std::string skip_reason() { return ""; }
};

struct RedisFactory {
  static inline std::unique_ptr<test::TempDir> dir;
  static inline std::unique_ptr<test::RedisServer> server;
  static inline std::string why_not;
  static void start_once() {
    if (server || !why_not.empty()) return;
    dir = std::make_unique<test::TempDir>();
    auto s = test::RedisServer::start(dir->path());
    if (!s) {
      why_not = s.error().message;
      return;
    }
    server = std::move(*s);
  }
  std::unique_ptr<Store> make(StoreLimits limits) {
    start_once();
    if (!server) return nullptr;
    (void)server->command({"FLUSHALL"});
    RedisConfig cfg;
    cfg.url = server->url();
    auto st = RedisStore::open(cfg, limits);
    if (!st) {
      ADD_FAILURE() << st.error().message;
      return nullptr;
    }
    return std::move(*st);
  }
  void advance(std::chrono::milliseconds d) { std::this_thread::sleep_for(d / 10); }
  std::string skip_reason() {
    start_once();
    return why_not;
  }
};

struct ClusterFactory {
  static inline std::unique_ptr<test::TempDir> dir;
  static inline std::unique_ptr<test::RedisCluster> cluster;
  static inline std::string why_not;
  static void start_once() {
    if (cluster || !why_not.empty()) return;
    dir = std::make_unique<test::TempDir>();
    auto c = test::RedisCluster::start(dir->path(), {.masters = 3, .replicas = 0});
    if (!c) {
      why_not = c.error().message;
      return;
    }
    cluster = std::move(*c);
  }
  std::unique_ptr<Store> make(StoreLimits limits) {
    start_once();
    if (!cluster) return nullptr;
    for (size_t i = 0; i < cluster->size(); ++i) (void)cluster->node(i).command({"FLUSHALL"});
    RedisConfig cfg;
    cfg.cluster = cluster->seeds();
    auto st = RedisStore::open(cfg, limits);
    if (!st) {
      ADD_FAILURE() << st.error().message;
      return nullptr;
    }
    return std::move(*st);
  }
  void advance(std::chrono::milliseconds d) { std::this_thread::sleep_for(d / 10); }
  std::string skip_reason() {
    start_once();
    return why_not;
  }
};

template <class F>
class StoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string why = factory.skip_reason();
    if (!why.empty()) GTEST_SKIP() << why;
  }
  std::unique_ptr<Store> make(StoreLimits limits = {}) { return factory.make(limits); }

  static void connect(Store& s, const std::string& agent, const std::string& session = "s1") {
    ASSERT_TRUE(s.agent_connect({agent, "cGs=", "v1", 0, false}, session).ok());
  }
  static std::string create(Store& s, const std::string& tid, const std::string& agent = "shop-1",
                            const std::string& req = "r1") {
    auto t = s.create_transfer(tid, agent, req, "{\"transfer_id\":\"" + tid + "\"}");
    EXPECT_TRUE(t.ok()) << (t.ok() ? "" : t.error().message);
    return tid;
  }
  static void answered_upload(Store& s, const std::string& tid, const std::string& session = "u1") {
    ASSERT_TRUE(s.answer(tid, "ANSWER").ok());
    ASSERT_TRUE(s.begin_upload(tid, session, 0).ok());
  }
  static std::vector<Store::Frame> frames(int from, int n) {
    std::vector<Store::Frame> out;
    for (int i = from; i < from + n; ++i) {
      out.push_back({std::make_shared<const std::string>("F" + std::to_string(i)), 10});
    }
    return out;
  }

  F factory;
};

#ifdef SEALRELAY_STORE_ON_CLUSTER
using Factories = ::testing::Types<ClusterFactory>;
#else
using Factories = ::testing::Types<MemoryFactory, RedisFactory>;
#endif
class FactoryNames {
 public:
  template <class T>
  static std::string GetName(int) {
    if (std::is_same_v<T, ClusterFactory>) return "Cluster";
    return std::is_same_v<T, MemoryFactory> ? "Memory" : "Redis";
  }
};
TYPED_TEST_SUITE(StoreTest, Factories, FactoryNames);

TYPED_TEST(StoreTest, AgentDirectoryRecordsConnectPresenceAndDisconnect) {
  auto s = this->make();
  ASSERT_TRUE(s);
  EXPECT_EQ(s->get_agent("shop-1").error().code, "unknown_agent");
  this->connect(*s, "shop-1");
  this->connect(*s, "shop-0");
  auto a = s->get_agent("shop-1");
  ASSERT_TRUE(a.ok());
  EXPECT_TRUE(a->online);
  EXPECT_EQ(a->public_key, "cGs=");
  EXPECT_EQ(a->version, "v1");
  EXPECT_GT(a->last_seen, 0);
  auto all = s->list_agents();
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 2u);
  EXPECT_EQ((*all)[0].id, "shop-0") << "sorted by id";
  ASSERT_TRUE(s->agent_disconnect("shop-1", "s1").ok());
  EXPECT_FALSE(s->get_agent("shop-1")->online);
  EXPECT_TRUE(s->get_agent("shop-0")->online);
}

TYPED_TEST(StoreTest, ANewerControlSessionTakesOverFromTheOlderOne) {
  auto s = this->make();
  this->connect(*s, "shop-1", "old");
  this->connect(*s, "shop-1", "new");
  EXPECT_FALSE(*s->agent_heartbeat("shop-1", "old"));
  EXPECT_TRUE(*s->agent_heartbeat("shop-1", "new"));
  ASSERT_TRUE(s->agent_disconnect("shop-1", "old").ok());
  EXPECT_TRUE(s->get_agent("shop-1")->online) << "the old session cannot end the new one";
}

TYPED_TEST(StoreTest, AHeartbeatAfterPresenceLapsedKeepsItsSessionButNotAfterADisconnect) {
  StoreLimits limits;
  limits.presence_ttl = std::chrono::seconds(1);
  auto s = this->make(limits);
  this->connect(*s, "shop-1", "s1");
  // The relay's thread was held up past the presence TTL: offline for now,
  // but the stream is alive, and its next heartbeat is not a takeover.
  this->factory.advance(1500ms);
  ASSERT_TRUE(test::wait_until([&] { return !s->get_agent("shop-1")->online; }, 10s, 20ms));
  auto late = s->agent_heartbeat("shop-1", "s1");
  ASSERT_TRUE(late.ok());
  EXPECT_TRUE(*late) << "a late heartbeat ended a healthy control stream";
  EXPECT_TRUE(s->get_agent("shop-1")->online);

  // A session that disconnected, or that a newer one replaced, stays gone
  // even once presence has lapsed.
  ASSERT_TRUE(s->agent_disconnect("shop-1", "s1").ok());
  EXPECT_FALSE(*s->agent_heartbeat("shop-1", "s1"));
  EXPECT_FALSE(s->get_agent("shop-1")->online);
  this->connect(*s, "shop-1", "old");
  this->connect(*s, "shop-1", "new");
  ASSERT_TRUE(s->agent_disconnect("shop-1", "new").ok());
  EXPECT_FALSE(*s->agent_heartbeat("shop-1", "old"));
  EXPECT_FALSE(s->get_agent("shop-1")->online);
}

TYPED_TEST(StoreTest, ABatchOfHeartbeatsAnswersEachAsItsOwnHeartbeatWould) {
  StoreLimits limits;
  limits.presence_ttl = std::chrono::seconds(1);
  auto s = this->make(limits);
  this->connect(*s, "shop-1", "s1");
  this->connect(*s, "shop-2", "old");
  this->connect(*s, "shop-2", "new");
  this->connect(*s, "shop-3", "s3");
  ASSERT_TRUE(s->agent_disconnect("shop-3", "s3").ok());
  // Every presence lapsed: the batch must bring back exactly the sessions
  // that still own their agent (relay/presence.h sends a node's together).
  this->factory.advance(1500ms);
  ASSERT_TRUE(test::wait_until([&] { return !s->get_agent("shop-1")->online; }, 10s, 20ms));
  auto alive = s->agent_heartbeats(
      {{"shop-1", "s1"}, {"shop-2", "old"}, {"shop-2", "new"}, {"shop-3", "s3"}, {"ghost", "g"}});
  ASSERT_TRUE(alive.ok()) << alive.error().message;
  EXPECT_EQ(*alive, (std::vector<bool>{true, false, true, false, false}));
  EXPECT_TRUE(s->get_agent("shop-1")->online);
  EXPECT_TRUE(s->get_agent("shop-2")->online);
  EXPECT_FALSE(s->get_agent("shop-3")->online);
  EXPECT_EQ(s->get_agent("ghost").error().code, "unknown_agent");
  auto all = s->list_agents();
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->size(), 3u) << "a heartbeat of an unknown agent adds no directory entry";
  EXPECT_TRUE(s->agent_heartbeats({})->empty());
}

TYPED_TEST(StoreTest, CreatingATransferQueuesItOnTheAgentInboxAndWakesItsSubscriber) {
  auto s = this->make();
  this->connect(*s, "shop-1");
  auto sub = s->subscribe_inbox("shop-1", {});
  this->create(*s, "t1");
  auto batch = sub->mailbox().wait(5s);
  // The subscriber is woken with the entry itself or with a poke.
  ASSERT_TRUE(batch.entries.size() == 1 || batch.poked);
  auto read = s->inbox_read("shop-1", {}, 10);
  ASSERT_TRUE(read.ok());
  ASSERT_EQ(read->size(), 1u);
  EXPECT_EQ((*read)[0].kind, "transfer");
  EXPECT_EQ((*read)[0].ref, "t1");
  EXPECT_EQ(*(*read)[0].payload, "{\"transfer_id\":\"t1\"}");
  if (!batch.entries.empty()) {
    EXPECT_EQ((*read)[0].id, batch.entries[0].id);
  }
  this->create(*s, "t2");
  auto after = s->inbox_read("shop-1", (*read)[0].id, 10);
  ASSERT_EQ(after->size(), 1u);
  EXPECT_EQ((*after)[0].ref, "t2");
  EXPECT_GT((*after)[0].id, (*read)[0].id);
  auto t = s->get_transfer("t1");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->state, State::requested);
  EXPECT_EQ(t->agent, "shop-1");
  EXPECT_EQ(t->requester, "r1");
}

TYPED_TEST(StoreTest, CreateRefusesAnUnknownAgentAndTooManyActiveTransfers) {
  StoreLimits lim;
  lim.max_transfers_per_agent = 2;
  auto s = this->make(lim);
  EXPECT_EQ(s->create_transfer("t0", "nobody", "r1", "{}").error().code, "unknown_agent");
  this->connect(*s, "shop-1");
  this->create(*s, "t1");
  this->create(*s, "t2");
  EXPECT_EQ(s->create_transfer("t3", "shop-1", "r1", "{}").error().code, "rate_limited");
  ASSERT_TRUE(s->finish("t1", State::cancelled, "cancelled", "", "ERR", std::nullopt).ok());
  this->create(*s, "t3");
}

TYPED_TEST(StoreTest, AnAnswerIsAcceptedOnceAndOpensTheUpload) {
  auto s = this->make();
  this->connect(*s, "shop-1");
  this->create(*s, "t1");
  EXPECT_EQ(s->begin_upload("t1", "u", 0).error().code, "conflict") << "no frames before the answer";
  ASSERT_TRUE(s->answer("t1", "A").ok());
  EXPECT_EQ(s->answer("t1", "A").error().code, "conflict");
  EXPECT_EQ(s->answer("nope", "A").error().code, "unknown_transfer");
  EXPECT_EQ(s->begin_upload("t1", "u", 1).error().code, "conflict") << "first frame must be 0";
  auto up = s->begin_upload("t1", "u", 0);
  ASSERT_TRUE(up.ok());
  EXPECT_EQ(up->state, State::uploading);
}

TYPED_TEST(StoreTest, FramesCommitInOrderAndTheEndCompletesTheTransfer) {
  auto s = this->make();
  this->connect(*s, "shop-1");
  this->create(*s, "t1");
  this->answered_upload(*s, "t1");
  auto r = s->append("t1", "u1", 0, this->frames(0, 3), "");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->frames, 3u);
  EXPECT_EQ(r->bytes, 30u);
  EXPECT_EQ(s->append("t1", "u1", 2, this->frames(2, 1), "").error().code, "conflict");
  r = s->append("t1", "u1", 3, this->frames(3, 1), "END");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->state, State::complete);
  EXPECT_EQ(s->append("t1", "u1", 4, this->frames(4, 1), "").error().code, "conflict");

  auto ev = s->read_events("t1", {}, 100);
  ASSERT_TRUE(ev.ok());
  EXPECT_FALSE(ev->gone);
  ASSERT_EQ(ev->entries.size(), 6u);
  EXPECT_EQ(ev->entries[0].kind, "answer");
  EXPECT_EQ(*ev->entries[0].payload, "ANSWER");
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(ev->entries[1 + i].kind, "frame");
    EXPECT_EQ(ev->entries[1 + i].id, (StreamId{uint64_t(i) + 1, 0}));
    EXPECT_EQ(*ev->entries[1 + i].payload, "F" + std::to_string(i));
  }
  EXPECT_EQ(ev->entries[5].kind, "end");
  EXPECT_EQ(ev->entries[5].id, (StreamId{5, 0}));
  auto tail = s->read_events("t1", {3, 0}, 100);
  ASSERT_EQ(tail->entries.size(), 2u);
  EXPECT_EQ(tail->entries[0].id, (StreamId{4, 0}));
  auto limited = s->read_events("t1", {}, 2);
  EXPECT_EQ(limited->entries.size(), 2u);
}

TYPED_TEST(StoreTest, ANewerUploadTakesOverAndTheOlderOneCanNoLongerAppend) {
  auto s = this->make();
  this->connect(*s, "shop-1");
  this->create(*s, "t1");
  this->answered_upload(*s, "t1", "old");
  ASSERT_TRUE(s->append("t1", "old", 0, this->frames(0, 2), "").ok());
  ASSERT_TRUE(s->begin_upload("t1", "new", 2).ok());
  EXPECT_EQ(s->append("t1", "old", 2, this->frames(2, 1), "").error().code, "conflict");
  EXPECT_TRUE(s->append("t1", "new", 2, this->frames(2, 1), "").ok());
}

TYPED_TEST(StoreTest, TheTransferByteLimitFailsTheAppendThatCrossesIt) {
  StoreLimits lim;
  lim.max_transfer_bytes = 25;
  auto s = this->make(lim);
  this->connect(*s, "shop-1");
  this->create(*s, "t1");
  this->answered_upload(*s, "t1");
  ASSERT_TRUE(s->append("t1", "u1", 0, this->frames(0, 2), "").ok());
  EXPECT_EQ(s->append("t1", "u1", 2, this->frames(2, 1), "").error().code, "too_large");
  EXPECT_EQ(s->get_transfer("t1")->frames, 2u) << "nothing of the refused append is committed";
}

TYPED_TEST(StoreTest, DeliveredFramesBeyondTheHistoryAreTrimmedAndAskingForThemSaysGone) {
  StoreLimits lim;
  lim.history_frames = 2;
  auto s = this->make(lim);
  this->connect(*s, "shop-1");
  this->create(*s, "t1");
  this->answered_upload(*s, "t1");
  ASSERT_TRUE(s->append("t1", "u1", 0, this->frames(0, 6), "").ok());
  ASSERT_TRUE(s->mark_delivered("t1", 5).ok());  // frames 0..4 delivered, ids 1..5
  auto t = s->get_transfer("t1");
  EXPECT_EQ(t->delivered, 5u);
  EXPECT_EQ(t->trimmed, 4u) << "ids 4 and 5 are the 2 frames of history";
  ASSERT_TRUE(s->mark_delivered("t1", 3).ok());
  EXPECT_EQ(s->get_transfer("t1")->delivered, 5u) << "delivered never goes back";

  auto ok = s->read_events("t1", {3, 0}, 100);
  ASSERT_TRUE(ok.ok());
  EXPECT_FALSE(ok->gone);
  ASSERT_EQ(ok->entries.size(), 3u);
  EXPECT_EQ(ok->entries[0].id, (StreamId{4, 0}));

  auto gone = s->read_events("t1", {2, 0}, 100);
  EXPECT_TRUE(gone->gone);
  EXPECT_EQ(gone->earliest, 4u);
  EXPECT_TRUE(gone->entries.empty());
  auto from_start = s->read_events("t1", {}, 100);
  EXPECT_TRUE(from_start->gone);
  ASSERT_EQ(from_start->entries.size(), 1u) << "the answer is always held";
  EXPECT_EQ(from_start->entries[0].kind, "answer");
}

TYPED_TEST(StoreTest, WaitTransferReturnsWhenAnotherThreadDelivers) {
  auto s = this->make();
  this->connect(*s, "shop-1");
  this->create(*s, "t1");
  this->answered_upload(*s, "t1");
  ASSERT_TRUE(s->append("t1", "u1", 0, this->frames(0, 4), "").ok());
  auto early = s->wait_transfer("t1", [](const TransferInfo& t) { return t.delivered >= 3; }, 20ms);
  EXPECT_EQ(early->delivered, 0u) << "times out with the last info";
  std::thread reader([&] { (void)s->mark_delivered("t1", 3); });
  auto r = s->wait_transfer("t1", [](const TransferInfo& t) { return t.delivered >= 3; }, 10s);
  reader.join();
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->delivered, 3u);
}

TYPED_TEST(StoreTest, TransferSubscribersSeeTheAnswerFramesAndEnd) {
  auto s = this->make();
  this->connect(*s, "shop-1");
  this->create(*s, "t1");
  auto sub = s->subscribe_transfer("t1", {});
  this->answered_upload(*s, "t1");
  ASSERT_TRUE(s->append("t1", "u1", 0, this->frames(0, 2), "END").ok());
  std::vector<Entry> got;
  ASSERT_TRUE(wait_until(
      [&] {
        auto b = sub->mailbox().wait(50ms);
        for (auto& e : b.entries) got.push_back(e);
        return got.size() >= 4;
      },
      10s));
  ASSERT_EQ(got.size(), 4u);
  EXPECT_EQ(got[0].kind, "answer");
  EXPECT_EQ(got[1].kind, "frame");
  EXPECT_EQ(got[2].kind, "frame");
  EXPECT_EQ(got[3].kind, "end");
  EXPECT_EQ(*got[3].payload, "END");
}

TYPED_TEST(StoreTest, CancelTellsTheAgentEndsTheStreamWithAnErrorAndRefusesFrames) {
  auto s = this->make();
  this->connect(*s, "shop-1");
  this->create(*s, "t1");
  this->answered_upload(*s, "t1");
  ASSERT_TRUE(s->append("t1", "u1", 0, this->frames(0, 2), "").ok());
  auto c = s->finish("t1", State::cancelled, "cancelled", "by requester", "ERR", std::nullopt);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->state, State::cancelled);
  EXPECT_EQ(s->append("t1", "u1", 2, this->frames(2, 1), "").error().code, "cancelled");
  auto again = s->finish("t1", State::cancelled, "cancelled", "", "ERR2", std::nullopt);
  EXPECT_TRUE(again.ok()) << "cancelling twice is fine";
  auto ev = s->read_events("t1", {1, 0}, 100);
  ASSERT_TRUE(ev.ok());
  EXPECT_FALSE(ev->gone);
  ASSERT_EQ(ev->entries.size(), 1u) << "frames are dropped, the error stays";
  EXPECT_EQ(ev->entries[0].kind, "error");
  EXPECT_EQ(*ev->entries[0].payload, "ERR");
  auto inbox = s->inbox_read("shop-1", {}, 10);
  ASSERT_EQ(inbox->size(), 2u);
  EXPECT_EQ((*inbox)[1].kind, "cancel");
  EXPECT_EQ((*inbox)[1].ref, "t1");
  auto t = s->get_transfer("t1");
  EXPECT_EQ(t->error_code, "cancelled");
  EXPECT_EQ(t->error_message, "by requester");
}

TYPED_TEST(StoreTest, FinishOnlyFromAStateLeavesOtherStatesAlone) {
  auto s = this->make();
  this->connect(*s, "shop-1");
  this->create(*s, "t1");
  ASSERT_TRUE(s->answer("t1", "A").ok());
  auto r = s->finish("t1", State::expired, "expired", "", "E", State::requested);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->state, State::answered);
  this->create(*s, "t2");
  EXPECT_EQ(s->finish("t2", State::expired, "expired", "", "E", State::requested)->state,
            State::expired);
}

TYPED_TEST(StoreTest, ListTransfersShowsOnlyTheRequestersOwn) {
  auto s = this->make();
  this->connect(*s, "shop-1");
  this->create(*s, "t1", "shop-1", "alice");
  this->create(*s, "t2", "shop-1", "bob");
  this->create(*s, "t3", "shop-1", "alice");
  auto mine = s->list_transfers("alice");
  ASSERT_TRUE(mine.ok());
  ASSERT_EQ(mine->size(), 2u);
  for (auto& t : *mine) EXPECT_EQ(t.requester, "alice");
  EXPECT_TRUE(s->list_transfers("carol")->empty());
}

TYPED_TEST(StoreTest, AnAbandonedTransferDisappearsByItself) {
  StoreLimits lim;
  lim.transfer_ttl = 1s;
  auto s = this->make(lim);
  this->connect(*s, "shop-1");
  this->create(*s, "t1");
  this->answered_upload(*s, "t1");
  ASSERT_TRUE(s->append("t1", "u1", 0, this->frames(0, 2), "").ok());
  ASSERT_TRUE(s->get_transfer("t1").ok());
  EXPECT_TRUE(wait_until(
      [&] {
        this->factory.advance(200ms);
        s->sweep();
        return !s->get_transfer("t1").ok();
      },
      10s));
  EXPECT_EQ(s->get_transfer("t1").error().code, "unknown_transfer");
  EXPECT_EQ(s->read_events("t1", {}, 10).error().code, "unknown_transfer");
  EXPECT_TRUE(s->list_transfers("r1")->empty());
}

TYPED_TEST(StoreTest, PingAnswers) {
  auto s = this->make();
  EXPECT_TRUE(s->ping().ok());
}

#ifndef SEALRELAY_STORE_ON_CLUSTER
// The default chunk is sized so that a frame held in Redis takes one 256 KiB
// allocation (jemalloc's size class) and not 320 KiB: the window and history
// of every transfer sit in Redis's memory (crypto/protocol.h).
TEST(RedisStoreMemory, AFrameOfTheDefaultChunkSizeFitsOneQuarterMebibyteInRedis) {
  RedisFactory factory;
  if (std::string why = factory.skip_reason(); !why.empty()) GTEST_SKIP() << why;
  auto s = factory.make({});
  ASSERT_TRUE(s);
  ASSERT_TRUE(s->agent_connect({"shop-1", "cGs=", "v1", 0, false}, "s1").ok());
  ASSERT_TRUE(s->create_transfer("t1", "shop-1", "r1", "{}").ok());
  ASSERT_TRUE(s->answer("t1", "A").ok());
  ASSERT_TRUE(s->begin_upload("t1", "u1", 0).ok());
  constexpr size_t kFrames = 8;
  const size_t frame_bytes = protocol::kDefaultChunkBytes + protocol::kFrameOverheadBytes;
  std::vector<Store::Frame> frames;
  for (size_t i = 0; i < kFrames; ++i) {
    std::string record(event_stream::kHeaderBytes + frame_bytes, static_cast<char>('a' + i));
    frames.push_back({std::make_shared<const std::string>(std::move(record)), frame_bytes});
  }
  auto r = s->append("t1", "u1", 0, frames, "");
  ASSERT_TRUE(r.ok()) << r.error().message;
  auto usage = factory.server->command({"MEMORY", "USAGE", "sr:{t:t1}:ev", "SAMPLES", "0"});
  ASSERT_TRUE(usage.ok()) << usage.error().message;
  // 256 KiB per frame, plus a little for the stream's own structures.
  EXPECT_LE(std::stoull(*usage), kFrames * 256 * 1024 + 16 * 1024)
      << "a default frame no longer fits jemalloc's 256 KiB class";
}

// A batch is sent by script SHA alone; a server that lost its script cache
// (restarted, or a replica promoted) answers NOSCRIPT to each of them.
TEST(RedisStoreHeartbeats, ABatchStillAnswersAfterTheServerForgotItsScripts) {
  RedisFactory factory;
  if (std::string why = factory.skip_reason(); !why.empty()) GTEST_SKIP() << why;
  auto s = factory.make({});
  ASSERT_TRUE(s);
  ASSERT_TRUE(s->agent_connect({"shop-1", "cGs=", "v1", 0, false}, "s1").ok());
  ASSERT_TRUE(s->agent_connect({"shop-2", "cGs=", "v1", 0, false}, "s2").ok());
  ASSERT_TRUE(factory.server->command({"SCRIPT", "FLUSH"}).ok());
  auto alive = s->agent_heartbeats({{"shop-1", "s1"}, {"shop-2", "other"}, {"shop-2", "s2"}});
  ASSERT_TRUE(alive.ok()) << alive.error().message;
  EXPECT_EQ(*alive, (std::vector<bool>{true, false, true}));
}
#endif

}  // namespace
}  // namespace sealrelay::relay
