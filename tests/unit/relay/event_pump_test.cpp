// relay/event_pump.h on MemoryStore with a hand-driven store clock: what a
// requester's and an agent's streams carry, without HTTP.
#include "relay/event_pump.h"

#include <gtest/gtest.h>

#include <thread>

#include "proto/event_stream.h"
#include "proto/upload.h"
#include "relay/memory_store.h"
#include "relay/records.h"
#include "relay/upload_session.h"
#include "tests/support/support.h"

namespace sealrelay::relay {
namespace {

using namespace std::chrono_literals;

struct Collect : StreamSink {
  std::vector<std::string> writes;
  bool ended = false;
  bool write(std::string_view b) override {
    writes.emplace_back(b);
    return true;
  }
  void end() override { ended = true; }
  bool alive() override { return true; }
  std::string all() const {
    std::string s;
    for (auto& w : writes) s += w;
    return s;
  }
};

struct EventPumpTest : ::testing::Test {
  std::atomic<int64_t> now{1'700'000'000'000};
  StoreLimits limits = [] {
    StoreLimits l;
    l.history_frames = 1;
    return l;
  }();
  MemoryStore store{limits, [this] { return now.load(); }};
  Transfers transfers{store, 60s};
  Metrics metrics;
  std::atomic<bool> stopping{false};
  Leases leases;
  std::chrono::milliseconds heartbeat = 10s;
  Presence presence{store, heartbeat};  // refreshed by hand (refresh())
  Principal alice;
  std::string tid;

  StreamContext ctx() { return {store, transfers, metrics, presence, heartbeat, stopping}; }
  void SetUp() override {
    alice.kind = TokenKind::requester;
    alice.token_id = "tok-alice";
    alice.agents = {"*"};
    ASSERT_TRUE(store.agent_connect({"shop-1", "pk", "1.0", 0, true}, "s0").ok());
    auto t = transfers.create(alice, "shop-1", "bXNnMQ==");
    ASSERT_TRUE(t.ok());
    tid = t->id;
  }
  void answer_and_upload(int frames, bool end) {
    ASSERT_TRUE(transfers.answer(*store.get_transfer(tid), "bXNnMg==").ok());
    auto up = UploadSession::begin(store, metrics, {64, 16, 60s}, tid, 0);
    ASSERT_TRUE(up.ok());
    std::string body;
    for (int i = 0; i < frames; ++i) upload::append_record(body, std::string(1, char('a' + i)));
    if (end) upload::append_end(body);
    ASSERT_TRUE((*up)->feed(body).ok());
  }
  TransferEvents events(StreamId cursor = {}, bool binary = false) {
    return TransferEvents(ctx(), tid, cursor, binary, leases.take("tok-alice"));
  }
};

TEST_F(EventPumpTest, ATransferIsSentAsSseAnswerFramesAndEndAndTheStreamEnds) {
  answer_and_upload(2, true);
  auto ev = events();
  Collect sink;
  ASSERT_TRUE(ev.pump(sink));
  EXPECT_TRUE(sink.ended);
  EXPECT_EQ(sink.all(),
            "event: answer\nid: 0\ndata: bXNnMg==\n\n"
            "event: frame\nid: 1\ndata: YQ==\n\n"
            "event: frame\nid: 2\ndata: Yg==\n\n"
            "event: end\nid: 3\ndata: {\"frames\":2}\n\n");
  EXPECT_EQ(store.get_transfer(tid)->delivered, 2u) << "the window moves on";
  EXPECT_EQ(metrics.frames_streamed, 2u);
  ev.close();
  EXPECT_EQ(metrics.event_streams, 0);
}

TEST_F(EventPumpTest, TheBinaryStreamCarriesTheRecordsAsStored) {
  answer_and_upload(1, true);
  auto ev = events({}, true);
  Collect sink;
  ASSERT_TRUE(ev.pump(sink));
  ASSERT_EQ(sink.writes.size(), 3u);
  EXPECT_EQ(sink.writes[1], event_stream::record(event_stream::Type::frame, 1, "a"));
  EXPECT_EQ(sink.writes[2], end_event(1));
  EXPECT_TRUE(sink.ended);
}

TEST_F(EventPumpTest, AResumeFromAFrameNoLongerHeldIsToldWhereTheHeldOnesStart) {
  answer_and_upload(4, false);
  {
    auto first = events();
    Collect sink;
    ASSERT_TRUE(first.pump(sink));  // delivered: frames before history are trimmed
    first.close();
  }
  auto ev = events(*TransferEvents::cursor_of("1"));
  Collect sink;
  ASSERT_TRUE(ev.pump(sink));
  ASSERT_EQ(sink.writes.size(), 1u);
  EXPECT_EQ(sink.writes[0], "event: gone\ndata: {\"earliest\":4}\n\n");
  EXPECT_TRUE(sink.ended);
}

TEST_F(EventPumpTest, FramesAppendedLaterArriveThroughTheSubscription) {
  ASSERT_TRUE(transfers.answer(*store.get_transfer(tid), "bXNnMg==").ok());
  auto ev = events();
  Collect sink;
  ASSERT_TRUE(ev.pump(sink));
  ASSERT_EQ(sink.writes.size(), 1u);
  auto up = UploadSession::begin(store, metrics, {64, 16, 60s}, tid, 0);
  std::string body;
  upload::append_record(body, "z");
  upload::append_end(body);
  ASSERT_TRUE((*up)->feed(body).ok());
  ASSERT_TRUE(ev.pump(sink));
  EXPECT_EQ(sink.writes.size(), 3u);
  EXPECT_EQ(sink.writes[1], "event: frame\nid: 1\ndata: eg==\n\n");
  EXPECT_TRUE(sink.ended);
}

// A Redis failover can lose the last frames the old master acknowledged
// (replication is asynchronous) after the requester got them. The requester
// resumes past what the store holds, and the agent sends those frames
// again: they count as delivered (the requester holds them), or the upload
// window would wait for a requester that never reads them.
TEST_F(EventPumpTest, FramesTheRequesterHoldsButTheStoreLostCountAsDeliveredWhenSentAgain) {
  heartbeat = 5ms;
  ASSERT_TRUE(transfers.answer(*store.get_transfer(tid), "bXNnMg==").ok());
  const UploadLimits window2{64, 2, 2s};
  {
    auto up = UploadSession::begin(store, metrics, window2, tid, 0);
    ASSERT_TRUE(up.ok());
    std::string body;
    for (char c : std::string("ab")) upload::append_record(body, std::string(1, c));
    ASSERT_TRUE((*up)->feed(body).ok());
  }
  // The store holds frames 1-2, none delivered; the requester had 1-4.
  auto ev = events(*TransferEvents::cursor_of("4"));
  Collect sink;
  ASSERT_TRUE(ev.pump(sink));
  // The agent, told the store holds 2 frames, sends 3 to 6 again.
  std::atomic<bool> fed{false}, done{false};
  std::thread agent([&] {
    auto up = UploadSession::begin(store, metrics, window2, tid, 2);
    std::string body;
    for (char c : std::string("cdef")) upload::append_record(body, std::string(1, c));
    upload::append_end(body);
    fed = up.ok() && (*up)->feed(body).ok();
    done = true;
  });
  test::wait_until([&] { return !ev.pump(sink) || sink.ended || (done && !fed); }, 20s);
  agent.join();
  EXPECT_TRUE(fed) << "the agent's upload waited for the window until it gave up";
  ASSERT_TRUE(sink.ended) << sink.all();
  EXPECT_EQ(sink.all().find("id: 4\n"), std::string::npos) << "a frame the requester holds was sent again";
  EXPECT_NE(sink.all().find("event: frame\nid: 5\ndata: ZQ==\n\n"), std::string::npos) << sink.all();
  EXPECT_NE(sink.all().find("event: frame\nid: 6\ndata: Zg==\n\n"), std::string::npos) << sink.all();
}

TEST_F(EventPumpTest, AnAnswerOverdueOnTheStoreClockEndsTheStreamAsExpired) {
  heartbeat = 1ms;
  auto ev = events();
  Collect sink;
  ASSERT_TRUE(ev.pump(sink));
  EXPECT_FALSE(sink.ended);
  now += 61'000;
  ASSERT_TRUE(test::wait_until([&] { return !ev.pump(sink) || sink.ended; }, 10s));
  EXPECT_TRUE(sink.ended);
  EXPECT_NE(sink.writes.back().find("\"error\":\"expired\""), std::string::npos) << sink.all();
  EXPECT_EQ(store.get_transfer(tid)->state, State::expired);
}

TEST_F(EventPumpTest, ARevokedLeaseOrAStopCutsTheStream) {
  auto ev = events();
  Collect sink;
  ASSERT_TRUE(ev.pump(sink));
  leases.revoke({"tok-alice"});
  EXPECT_FALSE(ev.pump(sink));
  auto other = events();
  stopping = true;
  EXPECT_FALSE(other.pump(sink));
}

TEST_F(EventPumpTest, AFreshControlStreamSendsOnlyTransfersStillWaitingForTheirAnswer) {
  auto second = transfers.create(alice, "shop-1", "bXNnMQ==");
  ASSERT_TRUE(transfers.cancel(*second).ok());
  auto c = ControlEvents::open(ctx(), {"shop-1", "pk", "1.0", 0, true}, "", leases.take("tok-a"));
  ASSERT_TRUE(c.ok());
  Collect sink;
  ASSERT_TRUE((*c)->pump(sink));
  ASSERT_EQ(sink.writes.size(), 1u) << sink.all();
  EXPECT_NE(sink.writes[0].find("event: transfer\n"), std::string::npos);
  EXPECT_NE(sink.writes[0].find(tid), std::string::npos);
  // Resumed after the first event: the second transfer's events, as they are.
  std::string first_id = store.inbox_read("shop-1", StreamId{}, 1)->at(0).id.str();
  auto resumed = ControlEvents::open(ctx(), {"shop-1", "pk", "1.0", 0, true}, first_id,
                                     leases.take("tok-a"));
  Collect later;
  ASSERT_TRUE((*resumed)->pump(later));
  ASSERT_EQ(later.writes.size(), 2u) << later.all();
  EXPECT_NE(later.writes[1].find("event: cancel\n"), std::string::npos);
  EXPECT_EQ(ControlEvents::open(ctx(), {"shop-1", "pk", "1.0", 0, true}, "x", nullptr)
                .error()
                .code,
            "bad_request");
}

TEST_F(EventPumpTest, ANewerControlStreamTakesOverAndTheOlderEnds) {
  heartbeat = 1ms;
  AgentInfo agent{"shop-1", "pk", "1.0", 0, true};
  auto older = ControlEvents::open(ctx(), agent, "", leases.take("tok-a"));
  Collect sink;
  ASSERT_TRUE((*older)->pump(sink));
  auto newer = ControlEvents::open(ctx(), agent, "", leases.take("tok-a"));
  ASSERT_TRUE(newer.ok());
  EXPECT_EQ(presence.refresh(std::chrono::steady_clock::now() + 1h), 2u);  // both due
  ASSERT_TRUE(test::wait_until([&] { return !(*older)->pump(sink) || sink.ended; }, 10s));
  EXPECT_TRUE(sink.ended);
  (*older)->close();
  EXPECT_TRUE(store.get_agent("shop-1")->online) << "the older's close leaves the newer online";
  (*newer)->close();
  EXPECT_FALSE(store.get_agent("shop-1")->online);
  EXPECT_EQ(metrics.agents_online, 0);
}

}  // namespace
}  // namespace sealrelay::relay
