#include "tests/support/redis_cluster.h"

#include <unistd.h>

#include <filesystem>

namespace sealrelay::test {

namespace {

std::string redis_cli_binary() {
  for (const char* p : {"/usr/bin/redis-cli", "/usr/local/bin/redis-cli"}) {
    if (::access(p, X_OK) == 0) return p;
  }
  return "";
}

}  // namespace

Result<std::unique_ptr<RedisCluster>> RedisCluster::start(const std::string& dir, Options options) {
  std::string cli = redis_cli_binary();
  if (cli.empty()) return make_error("redis_absent", "redis-cli is not installed (scripts/setup installs it)");
  auto cluster = std::unique_ptr<RedisCluster>(new RedisCluster());
  int count = options.masters * (1 + options.replicas);
  for (int i = 0; i < count; ++i) {
    std::string node_dir = dir + "/node" + std::to_string(i);
    std::filesystem::create_directories(node_dir);
    int port = free_port();
    int bus = free_port();
    auto server = RedisServer::start(
        node_dir, {"--port", std::to_string(port), "--bind", "127.0.0.1", "--cluster-enabled", "yes",
                   "--cluster-port", std::to_string(bus), "--cluster-config-file", node_dir + "/nodes.conf",
                   "--cluster-node-timeout", std::to_string(options.node_timeout.count()),
                   // A replica's first sync starts at once instead of after 5 s of
                   // waiting for more replicas: one that never synced cannot fail over.
                   "--repl-diskless-sync-delay", "0",
                   // While a dead master's slots wait for its replica, the
                   // other masters go on serving theirs (docs/scaling.md:
                   // the relay's deployments set this too).
                   "--cluster-require-full-coverage", "no"});
    if (!server) return server.error();
    cluster->nodes_.push_back(std::move(*server));
    cluster->ports_.push_back(port);
  }
  std::vector<std::string> create = {cli, "--cluster", "create"};
  for (int port : cluster->ports_) create.push_back("127.0.0.1:" + std::to_string(port));
  create.insert(create.end(), {"--cluster-replicas", std::to_string(options.replicas), "--cluster-yes"});
  auto made = run_logged(create, dir + "/cluster-create.log", {}, 60s);
  if (made.exit_code != 0) {
    return make_error("redis_failed",
                      "redis-cli --cluster create failed: " + made.output);
  }
  if (!cluster->wait_healthy(30s)) {
    return make_error("redis_failed", "the cluster did not reach cluster_state:ok within 30 s");
  }
  return cluster;
}

std::string RedisCluster::seeds() const {
  std::string out;
  for (int port : ports_) out += (out.empty() ? "" : ",") + std::string("redis://127.0.0.1:") + std::to_string(port);
  return out;
}

bool RedisCluster::healthy() const {
  for (const auto& node : nodes_) {
    if (!node->process().running()) continue;
    auto info = node->command({"CLUSTER", "INFO"});
    if (!info.ok() || info->find("cluster_state:ok") == std::string::npos ||
        info->find("cluster_slots_ok:16384") == std::string::npos) {
      return false;
    }
    auto replication = node->command({"INFO", "replication"});
    if (!replication.ok() || (replication->find("role:slave") != std::string::npos &&
                              replication->find("master_link_status:up") == std::string::npos)) {
      return false;
    }
  }
  return true;
}

bool RedisCluster::wait_healthy(std::chrono::milliseconds timeout) const {
  return wait_until([&] { return healthy(); }, timeout, 50ms);
}

std::string RedisCluster::id_of(size_t i) const {
  auto id = nodes_[i]->command({"CLUSTER", "MYID"});
  return id.ok() ? *id : "";
}

bool RedisCluster::replica_caught_up(size_t i) const {
  auto info = nodes_[i]->command({"INFO", "replication"});
  if (!info.ok()) return false;
  auto number_after = [&](const std::string& label) -> std::string {
    size_t at = info->find(label);
    if (at == std::string::npos) return "";
    at += label.size();
    return info->substr(at, info->find_first_not_of("0123456789", at) - at);
  };
  std::string master = number_after("master_repl_offset:");
  return !master.empty() && number_after(",offset=") == master;
}

LoggedRun RedisCluster::reshard(size_t from, size_t to, int slots, const std::string& log) const {
  return run_logged({redis_cli_binary(), "--cluster", "reshard", "127.0.0.1:" + std::to_string(ports_[from]),
                     "--cluster-from", id_of(from), "--cluster-to", id_of(to), "--cluster-slots",
                     std::to_string(slots), "--cluster-yes"},
                    log, {}, 300s);
}

}  // namespace sealrelay::test
