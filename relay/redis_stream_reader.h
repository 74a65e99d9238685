// StreamReader: one thread, one connection, one XREAD BLOCK over every
// watched key; each entry goes to `deliver`. New keys interrupt the block
// with CLIENT UNBLOCK (one unblock per burst of new keys, not one per key).
//
// This is how streams waiting for news hold no Redis connection: RedisStore
// runs two readers (transfers, and the inbox doorbell) whatever the number
// of subscribers, and they fan entries out to mailboxes (relay/mailbox.h).
// A reader delivers the entries of a watched key in order, from the id it
// was given; after a lost connection it reconnects with backoff and pokes
// every Hub key, so each stream re-reads what it may have missed.
//
// Threading: watch(), unwatch() and appended_here() may be called from any
// thread; `deliver` runs on the reader's thread. The reader's own connection
// is its thread's alone; to interrupt the block it leases one from the pool
// (or uses the caller's, see appended_here()). The destructor stops and
// joins the thread; the Hub and pool must outlive the reader.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "relay/mailbox.h"
#include "relay/redis.h"

namespace sealrelay::relay {

class StreamReader {
 public:
  // How long a key stays out of the XREAD after this node's last append to
  // it: the delay before the reader takes over when another node does.
  static constexpr std::chrono::milliseconds kLocalHold{1000};

  using Deliver = std::function<void(const std::string& key, const Entry& e)>;
  StreamReader(RedisEndpoint ep, std::chrono::milliseconds timeout,
               std::chrono::milliseconds block, Hub& hub, RedisPool& pool, Deliver deliver);
  ~StreamReader();

  // Reads `key` from after `from` (a key already watched keeps its place).
  void watch(const std::string& key, StreamId from);
  void unwatch(const std::string& key);

  // This node appended the entries of `key` up to `last` and handed them to
  // its mailboxes itself: the reader skips them, and leaves the key out of
  // its XREAD while such appends keep coming (for kLocalHold after the last
  // one), so the data is not read back from Redis. After that (the upload
  // ended, or another node took it over) it reads the key again from `last`.
  // `via`: the caller's leased connection (it may not take a second lease).
  void appended_here(const std::string& key, StreamId last, RedisConn& via);

 private:
  void unblock(RedisConn* via = nullptr);
  bool connect();
  void run();
  void read_once(const std::map<std::string, StreamId>& keys);

  const RedisEndpoint ep_;
  const std::chrono::milliseconds timeout_;
  const std::chrono::milliseconds block_;
  Hub& hub_;
  RedisPool& pool_;
  const Deliver deliver_;
  std::unique_ptr<RedisConn> conn_;  // owned by the reader thread
  std::atomic<long long> client_id_{0};
  std::atomic<bool> restart_pending_{false};  // an unblock is on its way
  std::mutex mu_;
  std::condition_variable cv_;
  // Guarded by mu_:
  std::map<std::string, StreamId> keys_;  // watched key -> last id delivered
  // Watched keys this node appends to itself -> until when they stay out of XREAD.
  std::map<std::string, std::chrono::steady_clock::time_point> local_;
  bool stop_ = false;
  std::thread thread_;  // last: starts after everything above is built
};

}  // namespace sealrelay::relay
