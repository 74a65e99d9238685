// RedisPool against a private redis-server (skipped with the reason when none
// is installed): the cap on open connections, waiting for a give-back, the
// timeout, dead connections, and the one-lease-per-thread contract.
#include <gtest/gtest.h>

#include <optional>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "relay/redis.h"
#include "tests/support/support.h"

namespace sealrelay::relay {
namespace {

using namespace std::chrono_literals;
using test::wait_until;

class RedisPoolTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = std::make_unique<test::TempDir>();
    auto s = test::RedisServer::start(dir_->path());
    if (!s) {
      why_not_ = s.error().message;
      return;
    }
    server_ = std::move(*s);
  }
  static void TearDownTestSuite() {
    server_.reset();
    dir_.reset();
  }
  void SetUp() override {
    if (!server_) GTEST_SKIP() << why_not_;
    auto ep = RedisEndpoint::parse(server_->url());
    ASSERT_TRUE(ep.ok());
    ep_ = *ep;
  }

  // Connections Redis has, besides the one asking.
  static int redis_clients() {
    auto list = server_->command({"CLIENT", "LIST"});
    if (!list) return -1;
    return static_cast<int>(std::count(list->begin(), list->end(), '\n')) +
           (list->empty() || list->back() == '\n' ? 0 : 1) - 1;
  }

  static inline std::unique_ptr<test::TempDir> dir_;
  static inline std::unique_ptr<test::RedisServer> server_;
  static inline std::string why_not_;
  RedisEndpoint ep_;
};

// A thread that holds one lease until told to give it back (a thread holds
// at most one lease: the contract the tests keep too).
class Holder {
 public:
  explicit Holder(RedisPool& pool)
      : thread_([this, &pool] {
          auto lease = pool.acquire();
          std::unique_lock lk(mu_);
          if (lease) {
            auto id = (*lease)->command({"CLIENT", "ID"});
            client_id_ = id ? reply_str(id->get()) : "";
          }
          state_ = lease ? kHolding : kFailed;
          cv_.notify_all();
          cv_.wait(lk, [&] { return release_; });
          if (lease && kill_first_) {
            lk.unlock();
            (void)(*lease)->command({"PING"});  // fails: the server closed it
            dead_ = (*lease)->dead();
          }
        }) {}
  ~Holder() {
    release();
    if (thread_.joinable()) thread_.join();
  }
  // Waits until the lease is taken (or refused); true when held.
  bool wait_held() {
    std::unique_lock lk(mu_);
    cv_.wait(lk, [&] { return state_ != kStarting; });
    return state_ == kHolding;
  }
  std::string client_id() {
    std::lock_guard lk(mu_);
    return client_id_;
  }
  // Gives the lease back; with `after_use_of_killed`, first runs a command on
  // it (the test killed its connection: the lease comes back dead).
  void release(bool after_use_of_killed = false) {
    {
      std::lock_guard lk(mu_);
      if (release_) return;
      release_ = true;
      kill_first_ = after_use_of_killed;
    }
    cv_.notify_all();
  }
  void join() { thread_.join(); }
  bool came_back_dead() const { return dead_; }

 private:
  enum State { kStarting, kHolding, kFailed };
  std::mutex mu_;
  std::condition_variable cv_;
  State state_ = kStarting;      // guarded by mu_
  bool release_ = false;         // guarded by mu_
  bool kill_first_ = false;      // guarded by mu_
  std::string client_id_;        // guarded by mu_
  std::atomic<bool> dead_{false};
  std::thread thread_;
};

// acquire() on another thread, its result kept for the test to look at.
struct Waiter {
  explicit Waiter(RedisPool& pool)
      : thread([this, &pool] {
          auto lease = pool.acquire();
          if (lease) {
            auto id = (*lease)->command({"CLIENT", "ID"});
            client_id = id ? reply_str(id->get()) : "";
          } else {
            code = lease.error().code;
          }
          done = true;
        }) {}
  ~Waiter() {
    if (thread.joinable()) thread.join();
  }
  std::string client_id, code;  // read after join()
  std::atomic<bool> done{false};
  std::thread thread;
};

TEST_F(RedisPoolTest, ConcurrentLeasesNeverOpenMoreThanTheCap) {
  constexpr size_t kCap = 4;
  RedisPool pool(ep_, 5s, kCap);
  std::atomic<int> in_use{0}, most_in_use{0}, failures{0};
  std::atomic<size_t> most_open{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 16; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 40; ++i) {
        auto lease = pool.acquire();
        if (!lease) {
          ++failures;
          continue;
        }
        int now = ++in_use;
        int seen = most_in_use.load();
        while (now > seen && !most_in_use.compare_exchange_weak(seen, now)) {
        }
        size_t open = pool.stats().open;
        size_t m = most_open.load();
        while (open > m && !most_open.compare_exchange_weak(m, open)) {
        }
        if (!(*lease)->command({"PING"})) ++failures;
        --in_use;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_LE(most_in_use.load(), static_cast<int>(kCap));
  EXPECT_LE(most_open.load(), kCap);
  EXPECT_GT(pool.stats().waits, 0u) << "16 threads on 4 connections never had to wait";
  EXPECT_LE(pool.stats().open, kCap);
  EXPECT_EQ(pool.stats().idle, pool.stats().open);
  // Redis agrees: the pool's connections (all idle now) and no more.
  EXPECT_TRUE(wait_until([&] { return redis_clients() == static_cast<int>(pool.stats().open); }, 5s))
      << redis_clients() << " clients, " << pool.stats().open << " open";
}

TEST_F(RedisPoolTest, AtTheCapAWaiterGetsTheConnectionGivenBack) {
  RedisPool pool(ep_, 5s, 2);
  Holder a(pool), b(pool);
  ASSERT_TRUE(a.wait_held());
  ASSERT_TRUE(b.wait_held());
  EXPECT_TRUE(wait_until([&] { return redis_clients() == 2; }, 5s)) << redis_clients();
  Waiter w(pool);
  ASSERT_TRUE(wait_until([&] { return pool.stats().waits == 1; }, 5s));
  EXPECT_FALSE(w.done.load());
  a.release();
  w.thread.join();
  EXPECT_EQ(w.code, "");
  EXPECT_EQ(w.client_id, a.client_id()) << "the waiter should get a's connection, not a new one";
  EXPECT_EQ(pool.stats().open, 2u);
  EXPECT_EQ(pool.stats().timeouts, 0u);
  EXPECT_EQ(redis_clients(), 2);
}

// First come, first served: a thread that gives a connection back and asks
// again at once queues behind the thread already waiting (barging let some
// agent_connect wait past the 5 s timeout in a reconnect storm: 503).
TEST_F(RedisPoolTest, AConnectionGivenBackGoesToTheWaiterNotToANewcomer) {
  RedisPool pool(ep_, 5s, 1);
  std::optional<RedisPool::Lease> mine;
  {
    auto l = pool.acquire();
    ASSERT_TRUE(l.ok());
    mine.emplace(std::move(*l));
  }
  Waiter w(pool);
  ASSERT_TRUE(wait_until([&] { return pool.stats().waits == 1; }, 5s));
  mine.reset();  // given back; this thread asks again at once
  auto again = pool.acquire();
  ASSERT_TRUE(again.ok()) << again.error().message;
  EXPECT_TRUE(w.done.load()) << "the newcomer took the connection the waiter was waiting for";
  EXPECT_EQ(w.code, "");
}

TEST_F(RedisPoolTest, AWaiterGivesUpAfterTheTimeoutWithStoreUnavailable) {
  RedisPool pool(ep_, 50ms, 1);
  Holder a(pool);
  ASSERT_TRUE(a.wait_held());
  auto second = pool.acquire();  // this thread holds none: it waits, then gives up
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.error().code, "store_unavailable");
  EXPECT_EQ(pool.stats().timeouts, 1u);
  EXPECT_EQ(pool.stats().open, 1u);
  a.release();
  a.join();
  auto third = pool.acquire();  // the connection is back: no wait
  EXPECT_TRUE(third.ok());
  EXPECT_EQ(pool.stats().timeouts, 1u);
}

TEST_F(RedisPoolTest, ADeadConnectionFreesItsSlotAndWakesAWaiter) {
  RedisPool pool(ep_, 5s, 1);
  Holder a(pool);
  ASSERT_TRUE(a.wait_held());
  std::string killed = a.client_id();
  ASSERT_FALSE(killed.empty());
  Waiter w(pool);
  ASSERT_TRUE(wait_until([&] { return pool.stats().waits == 1; }, 5s));
  ASSERT_TRUE(server_->command({"CLIENT", "KILL", "ID", killed}).ok());
  a.release(/*after_use_of_killed=*/true);
  w.thread.join();
  a.join();
  EXPECT_TRUE(a.came_back_dead());
  EXPECT_EQ(w.code, "");
  EXPECT_FALSE(w.client_id.empty());
  EXPECT_NE(w.client_id, killed) << "the waiter got the dead connection";
  EXPECT_EQ(pool.stats().open, 1u);
  EXPECT_TRUE(wait_until([&] { return redis_clients() == 1; }, 5s)) << redis_clients();
}

TEST_F(RedisPoolTest, ADeadConnectionGivenBackWithNoWaiterLeavesTheCount) {
  RedisPool pool(ep_, 5s, 1);
  {
    auto lease = pool.acquire();
    ASSERT_TRUE(lease.ok());
    auto id = (*lease)->command({"CLIENT", "ID"});
    ASSERT_TRUE(id.ok());
    ASSERT_TRUE(server_->command({"CLIENT", "KILL", "ID", reply_str(id->get())}).ok());
    EXPECT_FALSE((*lease)->command({"PING"}).ok());
    EXPECT_TRUE((*lease)->dead());
  }
  EXPECT_EQ(pool.stats().open, 0u);
  EXPECT_EQ(pool.stats().idle, 0u);
  auto fresh = pool.acquire();
  ASSERT_TRUE(fresh.ok());
  EXPECT_TRUE((*fresh)->command({"PING"}).ok());
  EXPECT_EQ(pool.stats().waits, 0u);
}

TEST_F(RedisPoolTest, ASecondLeaseOnOneThreadIsRefusedNotWaitedFor) {
  RedisPool pool(ep_, 5s, 1);
  // Debug builds assert; release builds refuse with store_error. Either way
  // it must not wait for the cap (with the cap at 1 that would hang).
  EXPECT_DEBUG_DEATH(
      {
        auto first = pool.acquire();
        ASSERT_TRUE(first.ok());
        auto second = pool.acquire();
        ASSERT_FALSE(second.ok());
        EXPECT_EQ(second.error().code, "store_error");
        EXPECT_EQ(pool.stats().waits, 0u);
      },
      "already holds a lease");
  // The refused lease left the count right: one lease at a time works.
  auto again = pool.acquire();
  EXPECT_TRUE(again.ok());
}

}  // namespace
}  // namespace sealrelay::relay
