// ClusterRouter: the relay's connections to a Redis Cluster. One RedisPool
// per master (relay/redis.h: capped, leases exclusive), the master chosen by
// the slot of the command's keys (relay/redis_cluster_slots.h), the slot map
// read from CLUSTER SLOTS and read again when a node says MOVED.
//
// What it guarantees:
//  - a command runs on the master that serves its slot, after at most
//    kMaxRedirections redirections (MOVED: the map is refreshed; ASK: the
//    command goes once to the named node after ASKING, for a slot being
//    migrated);
//  - while no master serves a slot (a master died and its replica is not yet
//    promoted, or CLUSTERDOWN / TRYAGAIN), the command fails with Error
//    "store_unavailable": the relay answers 503 for that slot only, and the
//    next command finds the new master;
//  - with_master() work (a script, a transaction) on a slot being migrated
//    fails with "store_unavailable" when it meets an ASK or TRYAGAIN, and
//    nothing of it was applied (Redis refuses a script or EXEC whole); the
//    client retries, and after the migration the work runs on the new node;
//  - connections per relay node stay bounded: at most max_open_per_node to
//    each master it has used.
// Every key a command names must be in `slot` (relay/redis_keys.h puts each
// transfer's and each agent's keys in one slot).
//
// Threading: safe from any thread. The one-lease-per-thread contract of
// RedisPool holds across all nodes: a caller holds no lease while it calls
// command(), and with_master() gives `work` the only one.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "relay/redis.h"
#include "relay/redis_cluster_slots.h"

namespace sealrelay::relay {

class ClusterRouter {
 public:
  static constexpr int kMaxRedirections = 5;
  static constexpr size_t kDefaultMaxOpenPerNode = 8;

  // Reads the slot map from the first seed that answers. Every node's
  // connections use the seeds' credentials (user and password of the first
  // seed).
  static Result<std::unique_ptr<ClusterRouter>> connect(std::vector<RedisEndpoint> seeds,
                                                        std::chrono::milliseconds timeout,
                                                        size_t max_open_per_node = kDefaultMaxOpenPerNode);

  // One command whose keys all live in `slot`. An error *reply* other than a
  // redirection or CLUSTERDOWN/TRYAGAIN comes back as a Reply of type
  // REDIS_REPLY_ERROR, as from RedisConn::command.
  Result<Reply> command(uint16_t slot, const std::vector<std::string_view>& args);

  // For a transaction, a pipeline or a script: runs `work` on a connection
  // to the master of `slot`. When `work` fails with Error "redis_moved" (it
  // read a MOVED or ASK error reply: see redirection_error()), the map is
  // read again and `work` runs again on the new master, at most
  // kMaxRedirections times; `work` must be safe to repeat.
  using Work = std::function<Result<void>(RedisConn&)>;
  Result<void> with_master(uint16_t slot, const Work& work);

  // Reads the slot map again, from a known master or else a seed.
  Result<void> refresh();

  // The master serving `slot` in the current map; nullopt while none does.
  std::optional<redis::NodeAddress> master_of(uint16_t slot);
  // Runs `work` on a leased connection to `node` (no redirection followed:
  // for pipelines grouped by node, which check each reply themselves).
  Result<void> on_node(const redis::NodeAddress& node, const Work& work);
  // How to reach `node`: its address with the seeds' credentials.
  RedisEndpoint endpoint_of(const redis::NodeAddress& node) const;
  std::chrono::milliseconds timeout() const { return timeout_; }
  size_t max_open_per_node() const { return max_open_; }

  struct Stats {
    size_t nodes = 0;            // masters with a pool
    size_t covered_slots = 0;    // slots with a master in the current map
    uint64_t refreshes = 0, moved = 0, asked = 0;
  };
  Stats stats();

 private:
  ClusterRouter(std::vector<RedisEndpoint> seeds, std::chrono::milliseconds timeout, size_t max_open)
      : seeds_(std::move(seeds)), timeout_(timeout), max_open_(max_open) {}
  RedisPool& pool_for(const redis::NodeAddress& node);
  std::shared_ptr<const redis::SlotMap> map();

  const std::vector<RedisEndpoint> seeds_;
  const std::chrono::milliseconds timeout_;
  const size_t max_open_;
  std::mutex mu_;
  // Guarded by mu_ (pools are never removed: their number is bounded by the
  // nodes the cluster ever had, and leases may be out):
  std::shared_ptr<const redis::SlotMap> map_;
  std::map<std::string, std::unique_ptr<RedisPool>> pools_;  // "host:port" -> pool
  Stats stats_;
};

// Error "redis_moved" when `reply` is a MOVED or ASK error, for Work
// functions to return; otherwise nullopt. with_master() follows a MOVED;
// an ASK (a slot half-migrated) ends it with "store_unavailable".
std::optional<Error> redirection_error(const redisReply* reply);
// Error "store_unavailable" when `reply` says the cluster cannot run it now
// but will later: TRYAGAIN (a multi-key command or script on a slot whose
// keys are split by a migration), CLUSTERDOWN, EXECABORT (a transaction
// refused whole); otherwise nullopt. Nothing of the command was applied.
std::optional<Error> cluster_unstable(const redisReply* reply);

}  // namespace sealrelay::relay
