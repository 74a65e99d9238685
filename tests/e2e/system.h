// A whole sealrelay on loopback for end-to-end tests: an optional private
// redis-server, a relay, any number of agents with their shares, and a CLI
// with its own home — all real processes, all stopped by PID at the end.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "tests/support/support.h"

namespace sealrelay::test {

using CliResult = LoggedRun;  // exit code (-1: did not exit in time), stdout and stderr

class System {
 public:
  enum class Store { kMemory, kRedis };

  // Starts redis (for kRedis) and the relay. Fails with redis_absent when
  // redis-server is not installed.
  static Result<std::unique_ptr<System>> start(Store store, std::vector<std::string> relay_args = {});

  const std::string& dir() const { return dir_.path(); }
  int port() const { return port_; }
  pid_t relay_pid() const { return relay_ ? relay_->pid() : 0; }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  RedisServer* redis() { return redis_.get(); }

  // Kills the relay with `sig` and waits for it.
  void stop_relay(int sig);
  // Starts the relay again on the same port and store.
  Result<void> restart_relay();

  // Creates agent `id` (token, identity, share folder `dir()/share-<id>`)
  // and starts it. The CLI's key is authorized with `scope_line` after the
  // key (e.g. "paths=/demo/sub").
  Result<void> start_agent(const std::string& id, std::vector<std::string> extra_args = {},
                           const std::string& scope = "");
  void stop_agent(const std::string& id, int sig);
  Result<void> restart_agent(const std::string& id);
  std::string share(const std::string& id) const { return dir() + "/share-" + id; }
  std::string agent_state(const std::string& id) const { return dir() + "/agent-" + id; }
  // Waits until the relay lists the agent as online.
  bool agent_online(const std::string& id);

  // Runs the CLI to completion with SEALRELAY_HOME/URL/TOKEN set.
  CliResult cli(std::vector<std::string> args, std::chrono::milliseconds timeout = 120s);
  // Starts the CLI in the background.
  std::unique_ptr<Process> cli_background(std::vector<std::string> args);
  std::string cli_home() const { return dir() + "/cli"; }

 private:
  System() = default;
  Result<void> spawn_relay();
  std::vector<std::string> cli_env() const;

  TempDir dir_;
  std::unique_ptr<RedisServer> redis_;
  std::unique_ptr<Process> relay_;
  std::vector<std::string> relay_args_;
  int port_ = 0;
  int relay_starts_ = 0;
  std::string requester_token_;
  std::string requester_key_;
  std::map<std::string, std::unique_ptr<Process>> agents_;
  std::map<std::string, std::vector<std::string>> agent_args_;
};

// Rewrites the relay's event stream `key` in the Redis at `socket` with one
// base64 character of its last queued frame changed (streams are append-only,
// so the whole stream is re-added with the same ids).
Result<void> tamper_last_frame(const std::string& socket, const std::string& key);

// Writes `bytes` pseudo-random bytes (seeded) to `path`.
void write_random_file(const std::string& path, size_t bytes, uint64_t seed);
bool same_file(const std::string& a, const std::string& b);

}  // namespace sealrelay::test
