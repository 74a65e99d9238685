// relay/mailbox.h: the bounded mailbox between a store and one stream, the
// hub that fans entries out to mailboxes, and the stream ids they carry.
// Waits that cross threads poll with a deadline; nothing sleeps.
#include "relay/mailbox.h"

#include <gtest/gtest.h>

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <future>
#include <string>

#include "tests/support/support.h"

namespace sealrelay::relay {
namespace {

using namespace std::chrono_literals;

Entry frame(uint64_t ms, size_t bytes) {
  return Entry{{ms, 0}, "frame", "", std::make_shared<const std::string>(bytes, 'x'), bytes};
}

// A consumer thread blocked in box.wait(90s). Started so that a wake-up test
// wakes a consumer that is asleep, not one that has not looked yet: it
// returns once the thread sleeps (state S in /proc), which after it has
// published its thread id can only be in the mailbox's condition variable
// (the mailbox's mutex is uncontended).
class Consumer {
 public:
  explicit Consumer(Mailbox& box) {
    batch_ = std::async(std::launch::async, [this, &box] {
      tid_ = gettid();
      return box.wait(90s);
    });
    asleep_ = test::wait_until([&] { return tid_ != 0 && state() == 'S'; }, 20s);
  }
  bool asleep() const { return asleep_; }
  // True when the consumer returned within the deadline (its wait is 90 s).
  bool woke() { return batch_.wait_for(30s) == std::future_status::ready; }
  Mailbox::Batch batch() { return batch_.get(); }

 private:
  char state() const {
    std::string stat = test::read_file("/proc/self/task/" + std::to_string(tid_.load()) + "/stat");
    size_t paren = stat.rfind(')');  // the command name may hold spaces
    return paren == std::string::npos || paren + 2 >= stat.size() ? '?' : stat[paren + 2];
  }
  std::atomic<pid_t> tid_{0};
  std::future<Mailbox::Batch> batch_;
  bool asleep_ = false;
};

TEST(Mailbox, DropsEverythingAndSaysLaggedWhenOverItsBudget) {
  Mailbox box(10);
  auto e = [](uint64_t id, size_t n) {
    return Entry{{id, 0}, "frame", "", std::make_shared<const std::string>(n, 'x'), n};
  };
  box.push(e(1, 6));
  box.push(e(2, 6));  // 12 > 10
  auto b = box.wait(0ms);
  EXPECT_TRUE(b.lagged);
  EXPECT_TRUE(b.entries.empty());
  box.push(e(3, 20));  // one oversized entry alone still fits an empty box
  b = box.wait(0ms);
  EXPECT_FALSE(b.lagged);
  EXPECT_EQ(b.entries.size(), 1u);
  box.close();
  EXPECT_TRUE(box.wait(1s).closed);
}

TEST(Mailbox, DropsAnEntryAtOrBelowTheNewestPushed) {
  Mailbox box(1 << 20);
  auto e = [](uint64_t ms, uint64_t seq) {
    return Entry{{ms, seq}, "frame", "", std::make_shared<const std::string>("x"), 1};
  };
  box.push(e(0, 1));
  box.push(e(1, 0));
  box.push(e(1, 0));  // the same entry from a second source
  box.push(e(0, 1));  // an older one arriving late
  box.push(e(2, 0));
  auto b = box.wait(0ms);
  ASSERT_EQ(b.entries.size(), 3u);
  EXPECT_EQ(b.entries[0].id, (StreamId{0, 1}));
  EXPECT_EQ(b.entries[1].id, (StreamId{1, 0}));
  EXPECT_EQ(b.entries[2].id, (StreamId{2, 0}));
  EXPECT_FALSE(b.lagged);
}

TEST(StreamIdTest, ParsesAndOrders) {
  EXPECT_EQ(StreamId::parse("5"), (StreamId{5, 0}));
  EXPECT_EQ(StreamId::parse("17-3"), (StreamId{17, 3}));
  EXPECT_FALSE(StreamId::parse(""));
  EXPECT_FALSE(StreamId::parse("-1"));
  EXPECT_FALSE(StreamId::parse("1-"));
  EXPECT_FALSE(StreamId::parse("a"));
  EXPECT_FALSE(StreamId::parse("99999999999999999999999"));
  EXPECT_LT((StreamId{0, 1}), (StreamId{1, 0}));
  EXPECT_EQ((StreamId{3, 4}).str(), "3-4");
}

TEST(Mailbox, HoldsEntriesUpToExactlyItsBudget) {
  Mailbox box(10);
  box.push(frame(1, 4));
  box.push(frame(2, 6));  // 10 of 10
  auto b = box.wait(0ms);
  EXPECT_FALSE(b.lagged) << "a box at exactly its budget is not over it";
  ASSERT_EQ(b.entries.size(), 2u);
  box.push(frame(3, 4));
  box.push(frame(4, 7));  // 11 of 10
  b = box.wait(0ms);
  EXPECT_TRUE(b.lagged) << "one byte over the budget must drop";
  EXPECT_TRUE(b.entries.empty());
}

TEST(Mailbox, StaysLaggedAndDropsUntilTheConsumerTakesTheBatch) {
  Mailbox box(10);
  box.push(frame(1, 6));
  box.push(frame(2, 6));  // over: dropped, lagged
  box.push(frame(3, 1));  // would fit, but the consumer must re-read from its cursor anyway
  auto b = box.wait(0ms);
  EXPECT_TRUE(b.lagged);
  EXPECT_TRUE(b.entries.empty()) << "an entry after the gap was delivered without what came before";
  box.push(frame(4, 1));
  b = box.wait(0ms);
  EXPECT_FALSE(b.lagged) << "taking the batch clears lagged";
  ASSERT_EQ(b.entries.size(), 1u);
  EXPECT_EQ(b.entries[0].id, (StreamId{4, 0}));
}

TEST(Mailbox, ABatchTakesEverythingSoTheBudgetStartsAgain) {
  Mailbox box(10);
  box.push(frame(1, 8));
  ASSERT_EQ(box.wait(0ms).entries.size(), 1u);
  box.push(frame(2, 8));  // 8 of 10 again, not 16
  auto b = box.wait(0ms);
  EXPECT_FALSE(b.lagged);
  EXPECT_EQ(b.entries.size(), 1u);
}

TEST(Mailbox, AnEmptyWaitReturnsNothingAtItsTimeout) {
  Mailbox box(10);
  auto b = box.wait(0ms);
  EXPECT_TRUE(b.entries.empty());
  EXPECT_FALSE(b.lagged);
  EXPECT_FALSE(b.poked);
  EXPECT_FALSE(b.closed);
}

TEST(Mailbox, APokeWakesTheConsumerOnceWithoutData) {
  Mailbox box(10);
  box.poke();
  box.poke();
  auto b = box.wait(0ms);
  EXPECT_TRUE(b.poked);
  EXPECT_TRUE(b.entries.empty());
  EXPECT_FALSE(box.wait(0ms).poked) << "a poke is taken with the batch";
}

TEST(Mailbox, CloseWakesAConsumerThatIsWaiting) {
  Mailbox box(10);
  Consumer consumer(box);
  ASSERT_TRUE(consumer.asleep()) << "the consumer never blocked in wait()";
  box.close();
  // A failure costs the consumer's 90 s, not a hung suite.
  ASSERT_TRUE(consumer.woke()) << "close() did not wake the consumer";
  EXPECT_TRUE(consumer.batch().closed);
}

TEST(Mailbox, APushWakesAConsumerThatIsWaiting) {
  Mailbox box(10);
  Consumer consumer(box);
  if (!consumer.asleep()) box.close();  // let it go before failing
  ASSERT_TRUE(consumer.asleep()) << "the consumer never blocked in wait()";
  box.push(frame(1, 1));
  if (!consumer.woke()) {
    box.close();
    FAIL() << "push() did not wake the consumer";
  }
  auto b = consumer.batch();
  EXPECT_FALSE(b.closed);
  ASSERT_EQ(b.entries.size(), 1u);
}

TEST(Mailbox, AClosedMailboxTakesNoMoreEntriesAndStaysClosed) {
  Mailbox box(10);
  box.push(frame(1, 1));
  box.close();
  box.push(frame(2, 1));
  auto b = box.wait(0ms);
  EXPECT_TRUE(b.closed);
  ASSERT_EQ(b.entries.size(), 1u) << "what was pushed before close is still handed over";
  EXPECT_EQ(b.entries[0].id, (StreamId{1, 0}));
  b = box.wait(0ms);
  EXPECT_TRUE(b.closed) << "closed is not taken with the batch";
  EXPECT_TRUE(b.entries.empty()) << "an entry pushed after close was kept";
}

TEST(Hub, OnlyTheFirstSubscriberAndTheLastToLeaveAreReported) {
  Hub hub;
  auto a = std::make_shared<Mailbox>(100);
  auto b = std::make_shared<Mailbox>(100);
  EXPECT_TRUE(hub.subscribe("k", a));
  EXPECT_FALSE(hub.subscribe("k", b));
  EXPECT_EQ(hub.subscribers(), 2u);
  EXPECT_FALSE(hub.unsubscribe("k", a));
  EXPECT_TRUE(hub.unsubscribe("k", b));
  EXPECT_TRUE(hub.keys().empty()) << "a key nobody watches is forgotten";
  EXPECT_TRUE(hub.unsubscribe("never", a));
}

TEST(Hub, PublishReachesEverySubscriberOfTheKeyAndNoOther) {
  Hub hub;
  auto a = std::make_shared<Mailbox>(100);
  auto b = std::make_shared<Mailbox>(100);
  auto other = std::make_shared<Mailbox>(100);
  hub.subscribe("k", a);
  hub.subscribe("k", b);
  hub.subscribe("other", other);
  hub.publish("k", frame(1, 3));
  hub.publish("nobody", frame(2, 3));
  EXPECT_EQ(a->wait(0ms).entries.size(), 1u);
  EXPECT_EQ(b->wait(0ms).entries.size(), 1u);
  EXPECT_TRUE(other->wait(0ms).entries.empty());
  hub.poke("k");
  EXPECT_TRUE(a->wait(0ms).poked);
  EXPECT_FALSE(other->wait(0ms).poked);
}

TEST(Hub, ALaggingSubscriberCostsTheOthersNothing) {
  Hub hub;
  auto slow = std::make_shared<Mailbox>(4);
  auto fast = std::make_shared<Mailbox>(100);
  hub.subscribe("k", slow);
  hub.subscribe("k", fast);
  for (uint64_t i = 1; i <= 5; ++i) hub.publish("k", frame(i, 2));
  auto s = slow->wait(0ms);
  EXPECT_TRUE(s.lagged);
  auto f = fast->wait(0ms);
  EXPECT_FALSE(f.lagged);
  EXPECT_EQ(f.entries.size(), 5u);
}

TEST(Hub, CloseAllClosesEveryMailbox) {
  Hub hub;
  auto a = std::make_shared<Mailbox>(100);
  auto b = std::make_shared<Mailbox>(100);
  hub.subscribe("k1", a);
  hub.subscribe("k2", b);
  hub.close_all();
  EXPECT_TRUE(a->wait(0ms).closed);
  EXPECT_TRUE(b->wait(0ms).closed);
}

}  // namespace
}  // namespace sealrelay::relay
