// RedisAccess: where RedisStore's commands run, on one Redis or on a Redis
// Cluster, behind one interface so the store's code is the same for both.
//
// One Redis: every call leases a connection from the pool (relay/redis.h),
// so the commands and round trips are exactly those the caller writes.
// A cluster: on() runs on the master of the key's slot and runs the work
// again after a MOVED (ClusterRouter::with_master); pipeline() sends each
// node its commands in one pipeline and sends again, after reading the slot
// map, those that came back MOVED or ASK.
//
// The caller's part: everything one on() call sends names keys of `key`'s
// slot only (relay/redis_keys.h: one hash tag), and work passed to on() is
// safe to run twice (it may meet a MOVED half way). A caller holds no lease
// while it calls on() or pipeline(): each takes exactly one, released on
// return (the one-lease-per-thread contract of RedisPool).
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "relay/redis.h"
#include "relay/redis_cluster.h"

namespace sealrelay::relay {

class RedisAccess {
 public:
  explicit RedisAccess(RedisPool& pool) : pool_(&pool) {}
  explicit RedisAccess(ClusterRouter& router) : router_(&router) {}

  bool cluster() const { return router_ != nullptr; }

  using Work = std::function<Result<void>(RedisConn&)>;
  // Runs `work` on a connection to the node that holds `key`. In a cluster,
  // `work` returns Error "redis_moved" when it read a MOVED or ASK reply
  // (redis::unavailable() and redis::eval() do), and runs again.
  Result<void> on(std::string_view key, const Work& work);

  // One command whose keys are all in `key`'s slot. In a cluster a MOVED
  // and an ASK (a slot half-migrated) are followed (ClusterRouter::command);
  // any other error reply comes back as the reply.
  Result<Reply> command(std::string_view key, const std::vector<std::string_view>& args);

  // One single-key command; `key` is the one it names.
  struct Command {
    std::string key;
    std::vector<std::string> args;
  };
  // The replies, in the order of `commands` (error replies included, for the
  // caller to check); Error only when a node could not be reached.
  Result<std::vector<Reply>> pipeline(const std::vector<Command>& commands);

 private:
  Result<std::vector<Reply>> cluster_pipeline(const std::vector<Command>& commands);

  RedisPool* pool_ = nullptr;
  ClusterRouter* router_ = nullptr;
};

}  // namespace sealrelay::relay
