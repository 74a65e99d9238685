// SlotWatcher: how a RedisStore on a Redis Cluster hears about new stream
// entries without XREAD over many keys (CROSSSLOT in a cluster) and without
// a connection per stream.
//
// Every write to a transfer's ev stream or an agent's inbox also SPUBLISHes
// to the key's wake channel (relay/redis_keys.h: same hash tag, so same
// slot, inside the same transaction where there is one); the payload is the
// last id written when the writer knows it. This watcher keeps one
// subscriber connection per master (SSUBSCRIBE, one call per channel) for
// the keys this node's streams follow, and on a message:
//  - a watched stream (watch()): reads that key alone (XRANGE, no block)
//    from the last id it delivered and publishes the entries to the Hub,
//    unless the payload says this node has them already (appended_here());
//  - a poked key (watch_poke(), the inboxes): pokes it in the Hub; the
//    agent's control stream re-reads its inbox.
// No loss: after each SSUBSCRIBE is confirmed the key is read (or poked)
// once, closing the gap between the caller's read and the subscription.
// When a subscriber connection dies (a master killed), a subscription is
// refused with MOVED or the server ends it (`sunsubscribe`: its slot moved
// to another node), the watcher reads the slot map again and subscribes
// again where each key lives now, which reads each key again; keys whose
// master is unreachable are retried with backoff (1 s at most). The map is
// also read every 5 s while anything is subscribed (a partition closes no
// connection). Meanwhile
// their streams are poked, so they re-read (and get 503 while the slot has
// no master).
//
// Connections: one subscriber per master, besides the reads, which lease
// from the router's pools (one lease at a time, on the watcher's thread).
// Threading: watch(), watch_poke(), unwatch() and appended_here() are safe
// from any thread and never touch Redis (appended_here() runs under a
// caller's lease); the Hub is fed from the watcher's thread. The router and
// Hub outlive the watcher; the destructor stops and joins the thread.
#pragma once

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "relay/mailbox.h"
#include "relay/redis.h"
#include "relay/redis_cluster.h"

namespace sealrelay::relay {

class SlotWatcher {
 public:
  SlotWatcher(ClusterRouter& router, Hub& hub);
  ~SlotWatcher();
  SlotWatcher(const SlotWatcher&) = delete;
  SlotWatcher& operator=(const SlotWatcher&) = delete;

  // Publishes the entries of stream `key` after `from` as they come (a key
  // already watched keeps its place).
  void watch(const std::string& key, StreamId from);
  // Pokes `key` in the Hub whenever it is written.
  void watch_poke(const std::string& key);
  void unwatch(const std::string& key);
  // This node wrote `key` up to `last` and published the entries itself: a
  // wake-up for them reads nothing back from Redis.
  void appended_here(const std::string& key, StreamId last);

 private:
  struct Watch {
    StreamId last;
    bool read = true;  // false: poke only
  };
  struct Node {
    redis::NodeAddress addr;
    std::unique_ptr<RedisConn> conn;
  };
  void add(const std::string& key, Watch w);
  void wake_thread();
  void run();
  void apply_changes();
  bool subscribe(const std::string& key, const redis::NodeAddress& master);
  bool send(Node& node, const std::vector<std::string_view>& args);
  void resync();
  void node_lost(const std::string& name);
  void drain(const std::string& name);
  void on_reply(const std::string& name, const redisReply* r);
  void read_key(const std::string& key);
  void schedule_resync(std::chrono::milliseconds after);

  ClusterRouter& router_;
  Hub& hub_;
  int wake_fd_ = -1;  // eventfd: watch()/unwatch()/stop wake the poll
  std::mutex mu_;
  // Guarded by mu_:
  std::map<std::string, Watch> keys_;
  std::vector<std::string> added_, removed_;
  bool stop_ = false;
  // The watcher thread's own:
  std::map<std::string, Node> nodes_;              // "host:port" -> subscriber connection
  std::map<std::string, std::string> subscribed_;  // key -> node it is subscribed on
  bool resync_due_ = false;
  std::chrono::steady_clock::time_point resync_at_;
  std::chrono::milliseconds backoff_{50};
  std::chrono::steady_clock::time_point last_resync_ = std::chrono::steady_clock::now();
  std::thread thread_;  // last: starts after everything above is built
};

}  // namespace sealrelay::relay
