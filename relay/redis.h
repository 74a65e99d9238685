// Thin RAII layer over hiredis 0.14 (sync API).
//
// hiredis rules this encodes: a redisContext is not thread-safe (a RedisConn
// is used by one thread at a time: the pool hands it out exclusively); after
// any I/O error the context is dead for good (RedisConn::dead(), the pool
// drops it and the next lease reconnects); replies are freed with
// freeReplyObject (Reply's deleter); binary data only through argv calls.
#pragma once

#include <hiredis.h>

#include <chrono>
#include <condition_variable>
#include <deque>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"

namespace sealrelay::relay {

struct ReplyDeleter {
  void operator()(redisReply* r) const { freeReplyObject(r); }
};
using Reply = std::unique_ptr<redisReply, ReplyDeleter>;

struct ContextDeleter {
  void operator()(redisContext* c) const { redisFree(c); }
};

// Where Redis is: "redis://[[user]:password@]host[:port][/0]" or
// "unix://[[user]:password@]/path/to.sock". With a password every new
// connection sends AUTH first (user too: Redis 6+ ACLs). user and password
// are percent-decoded (%40 for "@", %3A for ":").
struct RedisEndpoint {
  std::string host;  // empty for unix
  int port = 6379;
  std::string socket_path;
  std::string username;  // optional, with a password only
  std::string password;  // empty: no AUTH
  static Result<RedisEndpoint> parse(std::string_view url);
};

// `url` with its password (if any) replaced by "***", for logs and errors.
std::string redact_redis_url(std::string_view url);

class RedisConn {
 public:
  // Connects; `timeout` bounds the connect and every later command.
  static Result<std::unique_ptr<RedisConn>> connect(const RedisEndpoint& ep,
                                                    std::chrono::milliseconds timeout);

  // Runs one command. I/O failure -> Error "store_unavailable" and dead().
  // An error *reply* is returned as a Reply of type REDIS_REPLY_ERROR.
  Result<Reply> command(const std::vector<std::string_view>& args);
  // Pipelining: queue commands, then read their replies in order.
  void append(const std::vector<std::string_view>& args);
  Result<Reply> next_reply();

  bool dead() const { return dead_; }
  size_t pending() const { return pending_; }
  redisContext* raw() { return ctx_.get(); }

 private:
  explicit RedisConn(redisContext* c) : ctx_(c) {}
  Error io_error();
  std::unique_ptr<redisContext, ContextDeleter> ctx_;
  bool dead_ = false;
  size_t pending_ = 0;
};

// Connections for request threads: a lease owns its connection exclusively;
// returning it puts it back unless it died (or has unread replies).
//
// At most `max_open` connections exist at once, leased or idle (issue 8:
// with the two StreamReader connections a relay node stays within 16 Redis
// clients whatever the number of agents). acquire() takes an idle one, opens
// one below the cap, or waits for a give-back; after `timeout` (the command
// timeout) it fails with Error "store_unavailable" (503). A connection that
// died frees its slot when given back and wakes a waiter, which opens a
// fresh one.
//
// Contract: a thread holds at most one lease at a time, and gives it back on
// the thread that took it. Two at once could deadlock at the cap (every
// connection leased by threads each waiting for a second). acquire()
// refuses a second lease with Error "store_error" instead of waiting (and
// asserts in debug builds), so a violation fails loudly, never hangs. Code
// that needs Redis while its caller holds a lease takes that lease's
// RedisConn& as a parameter instead of acquiring.
// Why RedisStore (relay/redis_store.cpp) keeps it:
//  - every Store method takes its leases one after another through
//    RedisAccess (relay/redis_access.h: on() and pipeline() each hold one
//    until they return; on a cluster, one per node in turn), runs its
//    commands on it and returns; what it calls meanwhile takes none: eval()
//    (relay/redis_scripts.h), ring() and read_transaction()
//    (relay/redis_replies.h) run on the caller's connection; remember(),
//    note_change(), parse_*() only lock seen_mu_/waiting_mu_ or parse; the
//    clock is a plain function.
//  - finish() and mark_delivered() call transfer_script() (one lease,
//    released on return) before taking their own; wait_transfer() calls
//    get_transfer() (one lease, released) between its waits and calls `pred`
//    after the lease is back.
//  - the RedisStore constructor's lease lives in its if-statement and is back
//    before inbox_reader_->watch().
//  - StreamReader threads read on their own connection (not the pool) and
//    only push to mailboxes; StreamReader::unblock() takes one lease, from
//    watch() (called by subscribe() with none held) or the destructor, or
//    runs on the caller's connection from appended_here() (called by
//    append() with its lease held).
//  - on a cluster, the SlotWatcher thread (relay/redis_slot_watcher.h) reads
//    through ClusterRouter::command() holding nothing else, and its
//    appended_here(), called under append()'s lease, only takes its mutex.
//  - no lease holder waits for anything a lease waiter holds: the mutexes
//    taken under a lease (seen_mu_, and StreamReader::mu_ in appended_here())
//    are never held across acquire().
class RedisPool {
 public:
  // 14 + the two reader connections of a RedisStore = 16 per node.
  static constexpr size_t kDefaultMaxOpen = 14;

  RedisPool(RedisEndpoint ep, std::chrono::milliseconds timeout,
            size_t max_open = kDefaultMaxOpen)
      : ep_(std::move(ep)), timeout_(timeout), max_open_(max_open < 1 ? 1 : max_open) {}

  class Lease {
   public:
    Lease(RedisPool* pool, std::unique_ptr<RedisConn> c) : pool_(pool), conn_(std::move(c)) {}
    Lease(Lease&&) = default;
    ~Lease() {
      if (conn_) pool_->give_back(std::move(conn_));
    }
    RedisConn* operator->() { return conn_.get(); }
    RedisConn& operator*() { return *conn_; }

   private:
    RedisPool* pool_;
    std::unique_ptr<RedisConn> conn_;
  };

  Result<Lease> acquire();
  const RedisEndpoint& endpoint() const { return ep_; }

  struct Stats {
    size_t open = 0;      // connections that exist, leased or idle (<= max_open)
    size_t idle = 0;      // of which idle
    uint64_t waits = 0;   // acquire() calls that found the pool at its cap
    uint64_t timeouts = 0;  // ... and gave up after `timeout`
  };
  Stats stats();
  size_t max_open() const { return max_open_; }

 private:
  void give_back(std::unique_ptr<RedisConn> c);
  // Under mu_: a connection or a slot for one is free.
  bool available() const { return !idle_.empty() || open_ < max_open_; }
  // Under mu_: wakes the longest waiter if it can be served.
  void serve_next();

  const RedisEndpoint ep_;
  const std::chrono::milliseconds timeout_;
  const size_t max_open_;
  std::mutex mu_;
  // Guarded by mu_. Waiters in arrival order, each woken on its own: first
  // come, first served. A newcomer queues behind them rather than taking a
  // connection just given back; otherwise, when 10,000 agents reconnect at
  // once, some waiter is overtaken again and again until its 5 s run out
  // (relay_bench's storm beside a CPU hog: 766 answers of 503).
  struct Waiter {
    std::condition_variable cv;
  };
  std::deque<Waiter*> waiters_;
  std::vector<std::unique_ptr<RedisConn>> idle_;
  size_t open_ = 0;  // idle_.size() + leased + being connected
  uint64_t waits_ = 0, timeouts_ = 0;
};

// Reply helpers (no ownership).
std::string reply_str(const redisReply* r);  // string/status/error/integer as text
bool reply_is_error(const redisReply* r);

}  // namespace sealrelay::relay
