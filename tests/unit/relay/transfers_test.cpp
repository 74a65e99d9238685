// relay/transfers.h on MemoryStore with a hand-driven clock: no HTTP, no
// sleeping.
#include "relay/transfers.h"

#include <gtest/gtest.h>

#include <atomic>

#include "base/base64.h"
#include "proto/event_stream.h"
#include "relay/memory_store.h"
#include "relay/records.h"

namespace sealrelay::relay {
namespace {

using namespace std::chrono_literals;

struct TransfersTest : ::testing::Test {
  std::atomic<int64_t> now{1'700'000'000'000};
  MemoryStore store{StoreLimits{}, [this] { return now.load(); }};
  Transfers transfers{store, 60s};
  Principal alice = requester("tok-alice", {"shop-1"});

  static Principal requester(std::string token, std::vector<std::string> agents) {
    Principal p;
    p.kind = TokenKind::requester;
    p.token_id = std::move(token);
    p.agents = std::move(agents);
    return p;
  }
  static Principal agent(std::string id) {
    Principal p;
    p.kind = TokenKind::agent;
    p.token_id = "tok-" + id;
    p.agent = std::move(id);
    return p;
  }
  void SetUp() override {
    ASSERT_TRUE(store.agent_connect({"shop-1", "pk", "1.0", 0, true}, "s1").ok());
  }
  TransferInfo create() {
    auto t = transfers.create(alice, "shop-1", "bXNnMQ==");
    EXPECT_TRUE(t.ok()) << (t ? "" : t.error().message);
    return t ? *t : TransferInfo{};
  }
  void advance(std::chrono::milliseconds d) { now += d.count(); }
};

TEST_F(TransfersTest, AnUnansweredTransferExpiresWhenTheStoreClockPassesTheAnswerTimeout) {
  auto t = create();
  advance(59s);
  EXPECT_EQ(transfers.owned(t.id, alice)->state, State::requested);
  advance(1s);
  auto later = transfers.owned(t.id, alice);
  ASSERT_TRUE(later.ok());
  EXPECT_EQ(later->state, State::expired);
  EXPECT_EQ(later->error_code, "expired");
  // The expiry is in the store, not only in the answer: the agent's answer
  // comes too late.
  EXPECT_EQ(transfers.answer(*later, "bXNnMg==").error().code, "conflict");
  EXPECT_EQ(transfers.list(alice)->at(0).state, State::expired);
}

TEST_F(TransfersTest, AnAnsweredTransferDoesNotExpire) {
  auto t = create();
  ASSERT_TRUE(transfers.answer(t, "bXNnMg==").ok());
  advance(3600s - 1s);
  EXPECT_EQ(transfers.owned(t.id, alice)->state, State::answered);
}

TEST_F(TransfersTest, CreateRefusesWhatTheRequesterMayNotAskFor) {
  EXPECT_EQ(transfers.create(alice, "shop-2", "bXNnMQ==").error().code, "unknown_agent");
  EXPECT_EQ(transfers.create(alice, "../x", "bXNnMQ==").error().code, "unknown_agent");
  EXPECT_EQ(transfers.create(alice, "shop-1", "bXNnMQ").error().code, "bad_request");
  EXPECT_EQ(transfers.create(alice, "shop-1", "").error().code, "bad_request");
  std::string big = base64::encode(std::vector<uint8_t>(65536, 7));
  EXPECT_EQ(transfers.create(alice, "shop-1", big).error().code, "too_large");
  auto everyone = requester("tok-bob", {"*"});
  EXPECT_EQ(transfers.create(everyone, "shop-9", "bXNnMQ==").error().code, "unknown_agent");
  ASSERT_TRUE(store.agent_disconnect("shop-1", "s1").ok());
  EXPECT_EQ(transfers.create(alice, "shop-1", "bXNnMQ==").error().code, "agent_offline");
}

TEST_F(TransfersTest, CreateQueuesTheTransferOnTheAgentsInboxWithTheStoreTime) {
  auto t = create();
  EXPECT_EQ(t.state, State::requested);
  EXPECT_EQ(t.created, now / 1000);
  auto inbox = store.inbox_read("shop-1", StreamId{}, 10);
  ASSERT_TRUE(inbox.ok());
  ASSERT_EQ(inbox->size(), 1u);
  auto j = nlohmann::json::parse(*inbox->at(0).payload);
  EXPECT_EQ(j["transfer_id"], t.id);
  EXPECT_EQ(j["msg1"], "bXNnMQ==");
  EXPECT_EQ(j["created"], now / 1000);
  EXPECT_EQ(j["answer_in_upload"], true);  // the agent may send its answer with the frames
}

TEST_F(TransfersTest, OnlyItsRequesterAndItsAgentSeeATransfer) {
  auto t = create();
  EXPECT_TRUE(transfers.owned(t.id, agent("shop-1")).ok());
  EXPECT_EQ(transfers.owned(t.id, agent("shop-2")).error().code, "unknown_transfer");
  EXPECT_EQ(transfers.owned(t.id, requester("tok-bob", {"*"})).error().code, "unknown_transfer");
  // Out of scope now (the token's agents changed): as if absent.
  EXPECT_EQ(transfers.owned(t.id, requester("tok-alice", {"shop-2"})).error().code,
            "unknown_transfer");
  EXPECT_EQ(transfers.owned("not an id", alice).error().code, "unknown_transfer");
  EXPECT_EQ(transfers.list(requester("tok-bob", {"*"}))->size(), 0u);
}

TEST_F(TransfersTest, AnAnswerIsAcceptedOnceAndMustBeAHandshakeMessage) {
  auto t = create();
  EXPECT_EQ(transfers.answer(t, "%%").error().code, "bad_request");
  EXPECT_EQ(transfers.answer(t, base64::encode(std::vector<uint8_t>(65536, 1))).error().code,
            "too_large");
  EXPECT_EQ(transfers.answer(t, "bXNnMg==")->state, State::answered);
  EXPECT_EQ(transfers.answer(t, "bXNnMg==").error().code, "conflict");
}

TEST_F(TransfersTest, ARefusalFailsTheTransferWithTheAgentsCode) {
  auto t = create();
  EXPECT_EQ(transfers.refuse(t, "Bad Code", "x").error().code, "bad_request");
  EXPECT_EQ(transfers.refuse(t, std::nullopt, "x").error().code, "bad_request");
  EXPECT_EQ(transfers.refuse(t, "stale_msg1", std::nullopt).error().code, "bad_request");
  EXPECT_EQ(transfers.refuse(t, "stale_msg1", std::string(1025, 'x')).error().code, "bad_request");
  auto r = transfers.refuse(t, "stale_msg1", "message 1 is too old");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->state, State::failed);
  EXPECT_EQ(r->error_code, "stale_msg1");
  EXPECT_EQ(transfers.refuse(t, "other", "").error().code, "conflict");
}

TEST_F(TransfersTest, CancelTellsTheAgentAndReleaseOfARunningTransferCancelsIt) {
  auto t = create();
  EXPECT_EQ(transfers.release(t)->state, State::cancelled);
  auto inbox = store.inbox_read("shop-1", StreamId{}, 10);
  ASSERT_EQ(inbox->size(), 2u);
  EXPECT_EQ(inbox->at(1).kind, "cancel");
  EXPECT_EQ(transfers.cancel(t)->state, State::cancelled) << "cancelling twice is no error";
}

TEST_F(TransfersTest, ReleaseOfACompleteTransferDropsItsFramesAndKeepsItComplete) {
  auto t = create();
  ASSERT_TRUE(transfers.answer(t, "bXNnMg==").ok());
  ASSERT_TRUE(store.begin_upload(t.id, "u1", 0).ok());
  auto frame = std::make_shared<const std::string>(
      event_stream::record(event_stream::Type::frame, 1, "abc"));
  ASSERT_TRUE(store.append(t.id, "u1", 0, {{frame, 3}}, end_event(1)).ok());
  auto done = transfers.owned(t.id, alice);
  ASSERT_EQ(done->state, State::complete);
  auto r = transfers.release(*done);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->state, State::complete);
  auto events = store.read_events(t.id, StreamId{0, 1}, 10);
  ASSERT_TRUE(events.ok());
  for (auto& e : events->entries) EXPECT_NE(e.kind, "frame");
  EXPECT_EQ(store.inbox_read("shop-1", StreamId{}, 10)->size(), 1u) << "the agent is not told";
}

}  // namespace
}  // namespace sealrelay::relay
