// relay/admission.h: the worker pool behind cpp-httplib. It never starts more
// than its size of workers, runs a connection that finds every worker busy at
// once on an overflow thread (so the server can answer it 503 instead of
// leaving it queued; the 503 itself is Server's, pinned by
// tests/integration/relay/relay_limits_test.cpp), and counts the connections
// being served. Jobs here block on gates the test opens; waits poll with a
// deadline, nothing sleeps.
#include "relay/admission.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <vector>

#include "tests/support/support.h"

namespace sealrelay::relay {
namespace {

using namespace std::chrono_literals;
using test::wait_until;

constexpr auto kDeadline = 20s;

// Jobs that hold their thread until the test lets them go.
class Gates {
 public:
  // A job that marks itself started, waits for open(i), then marks itself done.
  std::function<void()> job(size_t i) {
    std::lock_guard lk(mu_);
    if (open_.size() <= i) {
      open_.resize(i + 1, false);
      started_.resize(i + 1);
      done_.resize(i + 1);
    }
    started_[i] = std::make_shared<std::atomic<bool>>(false);
    done_[i] = std::make_shared<std::atomic<bool>>(false);
    return [this, i, started = started_[i], done = done_[i]] {
      *started = true;
      std::unique_lock lk(mu_);
      cv_.wait(lk, [&] { return open_[i]; });
      *done = true;
    };
  }
  void open(size_t i) {
    {
      std::lock_guard lk(mu_);
      open_[i] = true;
    }
    cv_.notify_all();
  }
  void open_all() {
    {
      std::lock_guard lk(mu_);
      open_.assign(open_.size(), true);
    }
    cv_.notify_all();
  }
  bool started(size_t i) { return *started_.at(i); }
  bool done(size_t i) { return *done_.at(i); }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<bool> open_;  // guarded by mu_
  std::vector<std::shared_ptr<std::atomic<bool>>> started_, done_;
};

class AdmissionPoolTest : public ::testing::Test {
 protected:
  ~AdmissionPoolTest() override {
    gates_.open_all();  // a failed test must not leave the pool's threads waiting
    if (pool_) pool_->shutdown();
  }
  AdmissionPool& make(size_t workers, size_t overflow) {
    pool_ = std::make_unique<AdmissionPool>(workers, overflow, 0);
    return *pool_;
  }
  Gates gates_;
  std::unique_ptr<AdmissionPool> pool_;
};

TEST_F(AdmissionPoolTest, AConnectionIsCountedWhileItIsServedAndNoLonger) {
  auto& pool = make(2, 0);
  EXPECT_EQ(pool.active(), 0u);
  EXPECT_EQ(pool.workers_started(), 0u) << "workers start on demand";
  pool.enqueue(gates_.job(0));
  ASSERT_TRUE(wait_until([&] { return gates_.started(0); }, kDeadline));
  EXPECT_EQ(pool.active(), 1u);
  gates_.open(0);
  EXPECT_TRUE(wait_until([&] { return pool.active() == 0; }, kDeadline))
      << "a finished connection is still counted as active";
}

TEST_F(AdmissionPoolTest, NoMoreWorkersStartThanThePoolsSize) {
  auto& pool = make(2, 0);
  for (size_t i = 0; i < 3; ++i) pool.enqueue(gates_.job(i));
  ASSERT_TRUE(wait_until([&] { return pool.active() == 2; }, kDeadline));
  EXPECT_EQ(pool.workers_started(), 2u);
  // With no overflow allowed the third job waits for a worker.
  EXPECT_FALSE(gates_.started(2)) << "a third job ran on a two-worker pool without overflow";
  gates_.open(0);  // a release makes room
  EXPECT_TRUE(wait_until([&] { return gates_.started(2); }, kDeadline))
      << "the queued job did not get the released worker";
  EXPECT_EQ(pool.workers_started(), 2u);
}

TEST_F(AdmissionPoolTest, AConnectionOverTheWorkersRunsAtOnceOnAnOverflowThread) {
  auto& pool = make(1, 1);
  pool.enqueue(gates_.job(0));
  ASSERT_TRUE(wait_until([&] { return gates_.started(0); }, kDeadline));
  pool.enqueue(gates_.job(1));
  // Not queued behind the busy worker: it runs (and is counted, so Server
  // sees the pool over its limit and answers 503) while job 0 still holds the
  // only worker.
  EXPECT_TRUE(wait_until([&] { return gates_.started(1); }, kDeadline))
      << "a connection over the workers was queued instead of served";
  EXPECT_EQ(pool.active(), 2u);
  EXPECT_EQ(pool.workers_started(), 1u) << "the overflow thread is not a worker";
  gates_.open(1);
  EXPECT_TRUE(wait_until([&] { return pool.active() == 1; }, kDeadline));
}

TEST_F(AdmissionPoolTest, OverflowThreadsAreBoundedToo) {
  auto& pool = make(1, 1);
  for (size_t i = 0; i < 3; ++i) pool.enqueue(gates_.job(i));
  ASSERT_TRUE(wait_until([&] { return pool.active() == 2; }, kDeadline));
  EXPECT_FALSE(gates_.started(2)) << "more overflow threads ran than allowed";
  gates_.open(0);  // the worker frees up and takes the waiting job
  EXPECT_TRUE(wait_until([&] { return gates_.started(2); }, kDeadline));
  EXPECT_EQ(pool.workers_started(), 1u);
}

TEST_F(AdmissionPoolTest, WorkersStayAfterTheirConnectionAndServeTheNext) {
  auto& pool = make(2, 0);
  pool.enqueue(gates_.job(0));
  pool.enqueue(gates_.job(1));
  ASSERT_TRUE(wait_until([&] { return pool.active() == 2; }, kDeadline));
  gates_.open_all();
  ASSERT_TRUE(wait_until([&] { return pool.active() == 0; }, kDeadline));
  pool.enqueue(gates_.job(2));
  pool.enqueue(gates_.job(3));
  ASSERT_TRUE(wait_until([&] { return gates_.started(2) && gates_.started(3); }, kDeadline));
  EXPECT_EQ(pool.workers_started(), 2u) << "idle workers were not reused";
}

TEST_F(AdmissionPoolTest, ShutdownLetsQueuedConnectionsFinish) {
  auto& pool = make(1, 0);
  pool.enqueue(gates_.job(0));
  pool.enqueue(gates_.job(1));
  ASSERT_TRUE(wait_until([&] { return gates_.started(0); }, kDeadline));
  gates_.open_all();
  pool.shutdown();  // joins the worker, which drains the queue first
  EXPECT_TRUE(gates_.done(0));
  EXPECT_TRUE(gates_.done(1)) << "a queued connection was dropped at shutdown";
}

}  // namespace
}  // namespace sealrelay::relay
