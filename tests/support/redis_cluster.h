// A private Redis Cluster on loopback, from Debian's redis-server and
// redis-cli: `masters` masters with `replicas` replicas each, every node on a
// free TCP port of 127.0.0.1 (client and cluster bus), its files in a
// subfolder of `dir`, with cluster-require-full-coverage no as
// docs/scaling.md asks of a deployment. start() fails with code
// "redis_absent" when either program is missing: the test should
// GTEST_SKIP() with the message.
//
//   auto cluster = RedisCluster::start(dir.path(), {.masters = 3, .replicas = 1});
//   if (!cluster) GTEST_SKIP() << cluster.error().message;
//   relay args: "--redis-cluster", (*cluster)->seeds()
//   (*cluster)->node(0).process().kill(SIGKILL);   // a master dies
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "base/result.h"
#include "tests/support/support.h"

namespace sealrelay::test {

class RedisCluster {
 public:
  struct Options {
    int masters = 3;
    int replicas = 0;  // per master
    // How long a silent master stays a master (cluster-node-timeout): short,
    // so a test's failover happens within seconds.
    std::chrono::milliseconds node_timeout = 2000ms;
  };
  static Result<std::unique_ptr<RedisCluster>> start(const std::string& dir, Options options);

  size_t size() const { return nodes_.size(); }
  RedisServer& node(size_t i) { return *nodes_[i]; }
  int port(size_t i) const { return ports_[i]; }
  // "redis://127.0.0.1:p1,redis://127.0.0.1:p2,...": every node, as seeds.
  std::string seeds() const;
  // True once every node still running says cluster_state:ok and agrees
  // that all 16384 slots are served, and every replica has synced with its
  // master (one that never did cannot take over).
  bool healthy() const;
  bool wait_healthy(std::chrono::milliseconds timeout) const;
  // Node `i`'s cluster id (CLUSTER MYID), for SETSLOT and the like.
  std::string id_of(size_t i) const;
  // True once master `i`'s replica has every write the master has
  // (replication is asynchronous, and WAIT only counts the writes of the
  // connection that asks).
  bool replica_caught_up(size_t i) const;
  // `redis-cli --cluster reshard`: moves `slots` slots from master `from` to
  // master `to`, key by key, while clients go on (output in `log`).
  LoggedRun reshard(size_t from, size_t to, int slots, const std::string& log) const;

 private:
  std::vector<std::unique_ptr<RedisServer>> nodes_;
  std::vector<int> ports_;
};

}  // namespace sealrelay::test
