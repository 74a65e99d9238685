#include "relay/redis.h"

#include <algorithm>
#include <cassert>
#include <charconv>
#include <optional>

#include "proto/errors.h"

namespace sealrelay::relay {

namespace {

// Percent-decodes URL user info; nullopt on a malformed escape.
std::optional<std::string> percent_decode(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      out.push_back(s[i]);
      continue;
    }
    unsigned v = 0;
    if (i + 2 >= s.size()) return std::nullopt;
    auto [p, ec] = std::from_chars(s.data() + i + 1, s.data() + i + 3, v, 16);
    if (ec != std::errc() || p != s.data() + i + 3) return std::nullopt;
    out.push_back(static_cast<char>(v));
    i += 2;
  }
  return out;
}

// Moves "[user]:password@" from the front of `rest` (host[:port] or, for
// unix://, the part before the path) into `ep`. The last '@' ends it, so an
// unescaped '@' in the password still works.
Result<void> take_credentials(std::string_view& rest, RedisEndpoint& ep) {
  size_t at = rest.rfind('@');
  if (at == std::string_view::npos) return {};
  std::string_view info = rest.substr(0, at);
  rest = rest.substr(at + 1);
  size_t colon = info.find(':');
  if (colon == std::string_view::npos) {
    return make_error(ErrorCode::bad_request,
                      "redis URL credentials must be [user]:password@ (a password is required)");
  }
  auto user = percent_decode(info.substr(0, colon));
  auto password = percent_decode(info.substr(colon + 1));
  if (!user || !password) {
    return make_error(ErrorCode::bad_request, "bad %-escape in the redis URL credentials");
  }
  if (password->empty()) {
    return make_error(ErrorCode::bad_request, "empty password in the redis URL");
  }
  ep.username = std::move(*user);
  ep.password = std::move(*password);
  return {};
}

}  // namespace

std::string redact_redis_url(std::string_view url) {
  size_t scheme = url.find("://");
  if (scheme == std::string_view::npos) return std::string(url);
  size_t start = scheme + 3;
  size_t at = url.rfind('@');
  if (at == std::string_view::npos || at < start) return std::string(url);
  size_t colon = url.find(':', start);
  if (colon == std::string_view::npos || colon > at) return std::string(url);
  return std::string(url.substr(0, colon + 1)) + "***" + std::string(url.substr(at));
}

Result<RedisEndpoint> RedisEndpoint::parse(std::string_view url) {
  RedisEndpoint ep;
  if (url.starts_with("unix://")) {
    std::string_view rest = url.substr(7);
    if (!rest.starts_with("/")) {
      size_t at = rest.find("@/");
      if (at == std::string_view::npos) {
        return make_error(ErrorCode::bad_request,
                          "redis unix URL must be unix://[[user]:password@]/absolute/path");
      }
      std::string_view info = rest.substr(0, at + 1);
      if (auto r = take_credentials(info, ep); !r) return r.error();
      rest = rest.substr(at + 1);
    }
    ep.socket_path = std::string(rest);
    if (ep.socket_path.empty() || ep.socket_path.front() != '/') {
      return make_error(ErrorCode::bad_request, "redis unix URL must be unix:///absolute/path");
    }
    return ep;
  }
  if (!url.starts_with("redis://")) {
    return make_error(ErrorCode::bad_request, "redis URL must start with redis:// or unix://");
  }
  std::string_view rest = url.substr(8);
  if (auto slash = rest.find('/'); slash != std::string_view::npos) {
    if (rest.substr(slash) != "/" && rest.substr(slash) != "/0") {
      return make_error(ErrorCode::bad_request, "only database 0 is supported in the redis URL");
    }
    rest = rest.substr(0, slash);
  }
  if (auto r = take_credentials(rest, ep); !r) return r.error();
  auto colon = rest.rfind(':');
  ep.host = std::string(rest.substr(0, colon));
  if (colon != std::string_view::npos) {
    auto p = rest.substr(colon + 1);
    auto [ptr, ec] = std::from_chars(p.data(), p.data() + p.size(), ep.port);
    if (ec != std::errc() || ptr != p.data() + p.size() || ep.port <= 0 || ep.port > 65535) {
      return make_error(ErrorCode::bad_request, "bad port in redis URL");
    }
  }
  if (ep.host.empty()) return make_error(ErrorCode::bad_request, "redis URL has no host");
  return ep;
}

Result<std::unique_ptr<RedisConn>> RedisConn::connect(const RedisEndpoint& ep,
                                                      std::chrono::milliseconds timeout) {
  timeval tv{static_cast<time_t>(timeout.count() / 1000),
             static_cast<suseconds_t>(timeout.count() % 1000 * 1000)};
  redisContext* c = ep.socket_path.empty()
                        ? redisConnectWithTimeout(ep.host.c_str(), ep.port, tv)
                        : redisConnectUnixWithTimeout(ep.socket_path.c_str(), tv);
  if (!c) return make_error(ErrorCode::store_unavailable, "redis: out of memory");
  if (c->err) {
    std::string why = c->errstr;
    redisFree(c);
    return make_error(ErrorCode::store_unavailable, "redis connect: " + why);
  }
  if (redisSetTimeout(c, tv) != REDIS_OK) {
    redisFree(c);
    return make_error(ErrorCode::store_unavailable, "redis: cannot set timeout");
  }
  if (ep.socket_path.empty()) redisEnableKeepAlive(c);
  std::unique_ptr<RedisConn> conn(new RedisConn(c));
  if (!ep.password.empty()) {
    std::vector<std::string_view> auth = {"AUTH"};
    if (!ep.username.empty()) auth.push_back(ep.username);
    auth.push_back(ep.password);
    auto r = conn->command(auth);
    if (!r) return r.error();
    if (reply_is_error(r->get())) {
      // Redis's own text (WRONGPASS ...) never contains the password.
      return make_error(ErrorCode::store_unavailable, "redis AUTH refused: " + reply_str(r->get()));
    }
  }
  return conn;
}

Error RedisConn::io_error() {
  dead_ = true;
  return make_error(ErrorCode::store_unavailable,
                    std::string("redis: ") + (ctx_->err ? ctx_->errstr : "connection lost"));
}

Result<Reply> RedisConn::command(const std::vector<std::string_view>& args) {
  if (dead_) return make_error(ErrorCode::store_unavailable, "redis: connection is dead");
  std::vector<const char*> argv;
  std::vector<size_t> lens;
  argv.reserve(args.size());
  lens.reserve(args.size());
  for (auto a : args) {
    argv.push_back(a.data());
    lens.push_back(a.size());
  }
  void* r = redisCommandArgv(ctx_.get(), static_cast<int>(args.size()), argv.data(), lens.data());
  if (!r) return io_error();
  return Reply(static_cast<redisReply*>(r));
}

void RedisConn::append(const std::vector<std::string_view>& args) {
  std::vector<const char*> argv;
  std::vector<size_t> lens;
  for (auto a : args) {
    argv.push_back(a.data());
    lens.push_back(a.size());
  }
  if (redisAppendCommandArgv(ctx_.get(), static_cast<int>(args.size()), argv.data(),
                             lens.data()) != REDIS_OK) {
    dead_ = true;
  }
  ++pending_;
}

Result<Reply> RedisConn::next_reply() {
  if (dead_) return make_error(ErrorCode::store_unavailable, "redis: connection is dead");
  void* r = nullptr;
  if (redisGetReply(ctx_.get(), &r) != REDIS_OK || !r) return io_error();
  --pending_;
  return Reply(static_cast<redisReply*>(r));
}

namespace {
// Leases this thread holds, from any pool (the one-lease contract, redis.h).
thread_local int leases_held = 0;
}  // namespace

Result<RedisPool::Lease> RedisPool::acquire() {
  if (leases_held > 0) {
    assert(!"RedisPool: this thread already holds a lease (see the contract in redis.h)");
    return make_error(ErrorCode::store_error, "redis: a second connection lease on one thread");
  }
  std::unique_lock lk(mu_);
  if (!waiters_.empty() || !available()) {
    ++waits_;
    Waiter me;
    waiters_.push_back(&me);
    bool served = me.cv.wait_for(lk, timeout_, [&] { return waiters_.front() == &me && available(); });
    waiters_.erase(std::find(waiters_.begin(), waiters_.end(), &me));
    serve_next();  // the next one in line may be served too (it re-checks under mu_)
    if (!served) {
      ++timeouts_;
      return make_error(ErrorCode::store_unavailable, "redis: all " + std::to_string(max_open_) +
                                                          " connections busy for " +
                                                          std::to_string(timeout_.count()) + " ms");
    }
  }
  if (!idle_.empty()) {
    auto c = std::move(idle_.back());
    idle_.pop_back();
    ++leases_held;
    return Lease(this, std::move(c));
  }
  ++open_;  // the slot is ours while we connect
  lk.unlock();
  auto c = RedisConn::connect(ep_, timeout_);
  if (!c) {
    lk.lock();
    --open_;
    serve_next();
    return c.error();
  }
  ++leases_held;
  return Lease(this, std::move(*c));
}

void RedisPool::give_back(std::unique_ptr<RedisConn> c) {
  --leases_held;
  bool keep = !c->dead() && c->pending() == 0;
  if (!keep) c.reset();  // closed before its slot can be reused
  std::lock_guard lk(mu_);
  if (keep) {
    idle_.push_back(std::move(c));
  } else {
    --open_;  // a waiter opens a fresh connection in its place
  }
  serve_next();
}

void RedisPool::serve_next() {
  if (!waiters_.empty() && available()) waiters_.front()->cv.notify_one();
}

RedisPool::Stats RedisPool::stats() {
  std::lock_guard lk(mu_);
  return {open_, idle_.size(), waits_, timeouts_};
}

std::string reply_str(const redisReply* r) {
  if (!r) return "";
  switch (r->type) {
    case REDIS_REPLY_STRING:
    case REDIS_REPLY_STATUS:
    case REDIS_REPLY_ERROR:
      return std::string(r->str, r->len);
    case REDIS_REPLY_INTEGER:
      return std::to_string(r->integer);
    default:
      return "";
  }
}

bool reply_is_error(const redisReply* r) { return r && r->type == REDIS_REPLY_ERROR; }

}  // namespace sealrelay::relay
