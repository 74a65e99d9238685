// relay/upload_session.h on MemoryStore: the window, the commit, the
// backpressure, without HTTP.
#include "relay/upload_session.h"

#include <gtest/gtest.h>

#include <future>

#include "proto/errors.h"
#include "relay/memory_store.h"
#include "relay/records.h"
#include "tests/support/support.h"

namespace sealrelay::relay {
namespace {

using namespace std::chrono_literals;

std::string records(int n, size_t bytes = 3, bool end = true) {
  std::string out;
  for (int i = 0; i < n; ++i) upload::append_record(out, std::string(bytes, char('a' + i)));
  if (end) upload::append_end(out);
  return out;
}

struct UploadSessionTest : ::testing::Test {
  StoreLimits store_limits = [] {
    StoreLimits l;
    l.history_frames = 100;
    return l;
  }();
  MemoryStore store{store_limits};
  Metrics metrics;
  UploadLimits limits{64, 2, 60s};
  std::string tid = "t_0123456789abcdef0123456789abcdef";

  void SetUp() override {
    ASSERT_TRUE(store.agent_connect({"shop-1", "pk", "1.0", 0, true}, "s1").ok());
    ASSERT_TRUE(store.create_transfer(tid, "shop-1", "tok", "{}").ok());
    ASSERT_TRUE(store.answer(tid, "answer").ok());
  }
  std::unique_ptr<UploadSession> begin(uint64_t first = 0) {
    auto up = UploadSession::begin(store, metrics, limits, tid, first);
    EXPECT_TRUE(up.ok()) << (up ? "" : up.error().message);
    return up ? std::move(*up) : nullptr;
  }
  TransferInfo info() { return *store.get_transfer(tid); }
};

TEST_F(UploadSessionTest, RecordsInAnySplitAreCommittedAndTheEndCompletesTheTransfer) {
  limits.window_frames = 16;
  auto up = begin();
  std::string body = records(3);
  for (char c : body) ASSERT_TRUE(up->feed(std::string_view(&c, 1)).ok());
  EXPECT_TRUE(up->complete());
  EXPECT_EQ(up->next(), 3u);
  EXPECT_EQ(info().state, State::complete);
  EXPECT_EQ(info().frames, 3u);
  EXPECT_EQ(info().bytes, 9u);
  auto events = store.read_events(tid, StreamId{0, 1}, 10);
  ASSERT_EQ(events->entries.size(), 4u);
  EXPECT_EQ(events->entries[1].id, (StreamId{2, 0}));
  EXPECT_EQ(*events->entries[3].payload, end_event(3));
  EXPECT_EQ(metrics.frames_committed, 3u);
  EXPECT_EQ(metrics.uploads, 1);
  up.reset();
  EXPECT_EQ(metrics.uploads, 0);
  EXPECT_EQ(metrics.queue_frames, 0);
}

TEST_F(UploadSessionTest, AFullWindowHoldsTheUploadUntilARequesterReads) {
  auto up = begin();
  auto fed = std::async(std::launch::async, [&] { return up->feed(records(5)); });
  ASSERT_TRUE(test::wait_until([&] { return info().frames == 2; }, 10s));
  EXPECT_EQ(fed.wait_for(0s), std::future_status::timeout) << "the window is 2 frames";
  EXPECT_EQ(info().frames, 2u);
  EXPECT_EQ(metrics.queue_frames, 2);
  ASSERT_TRUE(store.mark_delivered(tid, 2).ok());
  ASSERT_TRUE(test::wait_until([&] { return info().frames == 4; }, 10s));
  EXPECT_EQ(info().frames, 4u);
  ASSERT_TRUE(store.mark_delivered(tid, 4).ok());
  auto r = fed.get();
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_TRUE(up->complete());
  EXPECT_EQ(info().state, State::complete);
  EXPECT_EQ(info().frames, 5u);
}

TEST_F(UploadSessionTest, AWindowWithNoReaderForTheStallTimeIsAConflict) {
  limits.stall = 0s;
  auto up = begin();
  auto r = up->feed(records(3));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, "conflict");
  EXPECT_EQ(up->next(), 2u) << "the window's frames were committed";
  EXPECT_EQ(info().state, State::uploading);
}

TEST_F(UploadSessionTest, AFrameOverTheLimitFailsTheTransferAfterTheFramesBeforeIt) {
  auto up = begin();
  std::string body = records(1);
  body.resize(body.size() - 4);  // no end yet
  upload::append_record(body, std::string(65, 'x'));
  auto r = up->feed(body);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, "too_large");
  EXPECT_EQ(up->next(), 1u);
  EXPECT_EQ(info().state, State::failed);
  EXPECT_EQ(info().error_code, "too_large");
}

TEST_F(UploadSessionTest, BytesAfterTheEndAreABadRequest) {
  limits.window_frames = 16;
  auto up = begin();
  auto r = up->feed(records(1) + "x");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, "bad_request");
}

TEST_F(UploadSessionTest, ANewerUploadTakesOverAndTheOlderMeetsAConflict) {
  limits.window_frames = 16;
  auto first = begin();
  ASSERT_TRUE(first->feed(records(1, 3, false)).ok());
  auto second = begin(1);
  ASSERT_TRUE(second->feed(records(1, 3, false)).ok());
  auto r = first->feed(records(1, 3, false));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, "conflict");
  EXPECT_EQ(UploadSession::begin(store, metrics, limits, tid, 0).error().code, "conflict")
      << "a resume must start at next_frame";
}

TEST_F(UploadSessionTest, ACancelledTransferTakesNoMoreFrames) {
  limits.window_frames = 16;
  auto up = begin();
  ASSERT_TRUE(store.finish(tid, State::cancelled, "cancelled", "", error_event("cancelled", ""),
                           std::nullopt).ok());
  auto r = up->feed(records(1));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, "cancelled");
}

// X-Sealrelay-Answer: record. The fixture's transfer is answered already:
// these use a second one, still requested.
struct AnswerFirstTest : UploadSessionTest {
  std::string fresh = "t_fedcba9876543210fedcba9876543210";
  std::vector<std::string> answers;  // what `answer` was handed
  void SetUp() override {
    UploadSessionTest::SetUp();
    ASSERT_TRUE(store.create_transfer(fresh, "shop-1", "tok", "{}").ok());
  }
  std::unique_ptr<UploadSession> begin_answering(Result<void> verdict = {}) {
    auto up = UploadSession::begin_after_answer(store, metrics, limits, fresh, 0, [this, verdict](std::string_view m) {
      answers.emplace_back(m);
      if (!verdict) return verdict;
      auto r = store.answer(fresh, std::string(m));
      return r ? Result<void>() : Result<void>(r.error());
    });
    EXPECT_TRUE(up.ok());
    return up ? std::move(*up) : nullptr;
  }
  static std::string with_answer(const std::string& msg2, const std::string& rest) {
    std::string out;
    upload::append_record(out, msg2);
    return out + rest;
  }
};

TEST_F(AnswerFirstTest, TheFirstRecordAnswersInAnySplitAndTheFramesFollow) {
  limits.window_frames = 16;
  auto up = begin_answering();
  std::string body = with_answer("message two", records(3));
  for (char c : body) ASSERT_TRUE(up->feed(std::string_view(&c, 1)).ok());
  EXPECT_EQ(answers, std::vector<std::string>{"message two"});
  EXPECT_TRUE(up->complete());
  auto t = *store.get_transfer(fresh);
  EXPECT_EQ(t.state, State::complete);
  EXPECT_EQ(t.frames, 3u);
  EXPECT_EQ(t.bytes, 9u) << "the answer is not a frame";
  EXPECT_EQ(metrics.frames_committed, 3u);
}

TEST_F(AnswerFirstTest, ARefusedAnswerEndsTheUploadWithItsErrorAndCommitsNothing) {
  auto up = begin_answering(make_error(ErrorCode::too_large, "msg2 exceeds 65535 bytes"));
  auto r = up->feed(with_answer("too big", records(2)));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, "too_large");
  EXPECT_EQ(store.get_transfer(fresh)->state, State::requested);
  EXPECT_EQ(store.get_transfer(fresh)->frames, 0u);
  EXPECT_FALSE(up->feed(records(1)).ok()) << "the session takes no more input";
}

TEST_F(AnswerFirstTest, AnAnswerRecordOverAHandshakeMessageIsRefusedFromItsLengthAlone) {
  limits.max_frame_bytes = upload::kDefaultMaxFrameBytes;
  const char most[4] = {0, 0, char(0xff), char(0xff)};  // 65535 bytes: a Noise message's most
  EXPECT_TRUE(begin_answering()->feed(std::string_view(most, 4)).ok());
  auto up = begin_answering();
  const char length[4] = {0, 1, 0, 0};  // 65536 bytes, none of which is sent
  auto r = up->feed(std::string_view(length, 4));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, "too_large");
  EXPECT_TRUE(answers.empty());
  EXPECT_EQ(store.get_transfer(fresh)->state, State::requested) << "only the answer was refused";
}

TEST_F(AnswerFirstTest, FramesAfterTheAnswerHaveTheFrameLimitAgain) {
  limits.window_frames = 16;
  auto up = begin_answering();
  ASSERT_TRUE(up->feed(with_answer("m2", records(1, 64))).ok()) << "64 bytes: the fixture's frame limit";
  EXPECT_EQ(store.get_transfer(fresh)->frames, 1u);
}

TEST_F(AnswerFirstTest, AnUploadOfATransferAnsweredBeforeIsAConflict) {
  auto up = UploadSession::begin_after_answer(store, metrics, limits, tid, 0, [this](std::string_view m) {
    auto r = store.answer(tid, std::string(m));
    return r ? Result<void>() : Result<void>(r.error());
  });
  ASSERT_TRUE(up.ok());
  auto r = (*up)->feed(with_answer("again", records(1)));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, "conflict");
  EXPECT_EQ(info().frames, 0u);
}

TEST_F(AnswerFirstTest, ABodyThatEndsWhereTheAnswerShouldBeIsABadRequest) {
  auto up = begin_answering();
  auto r = up->feed(records(0));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, "bad_request");
  EXPECT_TRUE(answers.empty());
  EXPECT_EQ(store.get_transfer(fresh)->state, State::requested);
}

}  // namespace
}  // namespace sealrelay::relay
