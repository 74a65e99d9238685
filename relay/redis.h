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
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "proto/result.h"

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
// returning it puts it back unless it died. At most `max_idle` are kept.
class RedisPool {
 public:
  RedisPool(RedisEndpoint ep, std::chrono::milliseconds timeout, size_t max_idle = 32)
      : ep_(std::move(ep)), timeout_(timeout), max_idle_(max_idle) {}

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

 private:
  void give_back(std::unique_ptr<RedisConn> c);

  const RedisEndpoint ep_;
  const std::chrono::milliseconds timeout_;
  const size_t max_idle_;
  std::mutex mu_;
  std::vector<std::unique_ptr<RedisConn>> idle_;  // guarded by mu_
};

// Reply helpers (no ownership).
std::string reply_str(const redisReply* r);  // string/status/error/integer as text
bool reply_is_error(const redisReply* r);

}  // namespace sealrelay::relay
