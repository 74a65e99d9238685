// A whole sealrelay deployment on loopback, for the e2e, security, fault,
// deploy and browser tests and for e2e_bench: an optional private
// redis-server, relay nodes sharing one state dir (tokens) and that Redis,
// agents with their shares and a requester identity (the CLI's home) that
// every agent trusts. All real processes in one TempDir, stopped by PID
// (agents, then relays, then Redis) when the Deployment goes.
//
//   START_DEPLOYMENT(d, {.redis = true});           // skips without redis-server
//   ASSERT_TRUE(d.start_relay("a").ok());           // the first node is the main one
//   ASSERT_TRUE(d.start_agent_online("shop-1").ok());
//   auto r = d.cli({"get", "shop-1:/demo/f", "-o", out});  // SEALRELAY_HOME/URL/TOKEN set
//
// The pieces a test may need on their own: token() (the relay's token
// command), add_agent() + spawn_agent() (an agent the test owns), cli_env()
// and cli_argv() (to run the CLI some other way), agent_online() (readiness,
// through `sealrelay --json agents`, so it works over TLS and behind nginx).
#pragma once

#include <signal.h>
#include <sys/types.h>

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "tests/support/support.h"

namespace sealrelay::test {

// "http://127.0.0.1:<port>".
std::string loopback_url(int port);

// How a Deployment runs its programs (the tests' defaults; e2e_bench sets its own).
struct DeploymentOptions {
  bool redis = false;
  std::vector<std::string> redis_args = {};
  // On every relay node's command line before its own flags. One-second
  // heartbeats let tests see an agent go offline quickly.
  std::vector<std::string> relay_args{"--heartbeat-seconds", "1"};
  // On every agent's command line before its own flags.
  std::vector<std::string> agent_args{"--read-timeout", "5"};
  // The requester token's name, and the comment of its key in each
  // agent's authorized_requesters.
  std::string requester = "tests";
};

// How Deployment::add_agent sets an agent up.
struct AgentSetup {
  std::string share_dir = "";  // served as /demo; empty: share(id), created
  std::string scope = "";      // after the requesters' keys in authorized_requesters
  bool token = true;           // an agent token in agent_token_file(id), passed with --token-file
};

class Deployment {
 public:
  enum class Store { kMemory, kRedis };

  // Starts Redis (when asked) and creates the requester: a token for every
  // agent and a key (sealrelay keygen in cli_home()). Fails with
  // redis_absent when redis-server is not installed.
  static Result<std::unique_ptr<Deployment>> start(DeploymentOptions options);
  // start() with `store`, and relay node "relay" with `relay_args` added.
  static Result<std::unique_ptr<Deployment>> start_one_relay(Store store, std::vector<std::string> relay_args = {});
  ~Deployment();
  Deployment(const Deployment&) = delete;
  Deployment& operator=(const Deployment&) = delete;

  const std::string& dir() const { return dir_.path(); }
  // The relays' shared state dir (tokens).
  std::string relay_state() const { return dir() + "/relay"; }

  // ---- Redis (null without) ----
  RedisServer* redis() { return redis_.get(); }
  const RedisServer* redis() const { return redis_.get(); }
  void stop_redis(int sig);
  Result<void> restart_redis();

  // `sealrelay-relay --state-dir relay_state() token ARGS`: the token (its
  // output's first line).
  Result<std::string> token(const std::vector<std::string>& args) const;

  // ---- relay nodes ----
  // Starts node `name` on `port` (0: any; the bound port is read from its
  // log), with DeploymentOptions::relay_args, --redis when there is one, and `extra`.
  // The first node started is the main one.
  Result<int> start_relay(const std::string& name, std::vector<std::string> extra = {}, int port = 0);
  // Starts node `name` again on its port with its flags, retrying while
  // the kernel still holds the port.
  Result<int> restart_relay(const std::string& name = "");
  // Sends `sig` to node `name` ("": the main one) and waits for its exit.
  void stop_relay(int sig, const std::string& name = "");
  Process& relay(const std::string& name = "") { return *relays_.at(node(name)).process; }
  pid_t relay_pid(const std::string& name = "") const { return relays_.at(node(name)).process->pid(); }
  int port(const std::string& name = "") const { return relays_.at(node(name)).port; }
  std::string url(const std::string& name = "") const { return loopback_url(port(name)); }

  // ---- requesters ----
  // The main CLI home (-1) or extra requester `requester`'s (cli-<n>).
  std::string cli_home(int requester = -1) const;
  const std::string& requester_token() const { return requester_token_; }
  // Creates `n` more requester keys (homes cli-0 ..), which agents added
  // afterwards trust as well.
  Result<void> add_requesters(int n);
  // Copies the main home's pins (known_agents) to the extra homes.
  Result<void> share_pins() const;

  // ---- agents ----
  // Identity (sealrelay-agent init), share, trust of every requester key,
  // and (setup.token) a token in a 0600 file.
  Result<void> add_agent(const std::string& id, const AgentSetup& setup = {});
  std::string share(const std::string& id) const { return dir() + "/share-" + id; }
  std::string agent_state(const std::string& id) const { return dir() + "/agent-" + id; }
  std::string agent_token_file(const std::string& id) const { return dir() + "/agent-" + id + ".token"; }
  // `sealrelay-agent run` of an added agent against `url`: the caller owns it.
  Result<std::unique_ptr<Process>> spawn_agent(const std::string& id, const std::string& url,
                                               const std::vector<std::string>& extra = {},
                                               const std::string& log_name = "") const;
  // Adds agent `id` (unless added before) and runs it against `url`, kept
  // here; does not wait for it to come online.
  Result<void> start_agent(const std::string& id, const std::string& url, std::vector<std::string> extra = {});
  // Adds agent `id` with `scope`, runs it against the main relay and waits
  // until the relay lists it online.
  Result<void> start_agent_online(const std::string& id, std::vector<std::string> extra = {},
                                  const std::string& scope = "");
  // Runs a started agent again with the same command line (no wait).
  Result<void> restart_agent(const std::string& id);
  void stop_agent(const std::string& id, int sig = SIGKILL);
  Process& agent(const std::string& id) { return *agents_.at(id).process; }
  std::vector<pid_t> agent_pids() const;

  // ---- the CLI ----
  std::vector<std::string> cli_argv(std::vector<std::string> args) const;
  std::vector<std::string> cli_env(const std::string& url, int requester = -1) const;
  // Runs the CLI to completion against `url`; `flags` go before `args`.
  LoggedRun cli(const std::string& url, std::vector<std::string> args, std::chrono::milliseconds timeout = 180s,
                const std::vector<std::string>& flags = {});
  LoggedRun cli(std::vector<std::string> args, std::chrono::milliseconds timeout = 120s) {
    return cli(url(), std::move(args), timeout);
  }
  // Starts the CLI in the background, output in dir()/`log_name`.
  std::unique_ptr<Process> cli_background(const std::string& url, std::vector<std::string> args,
                                          const std::string& log_name);
  std::unique_ptr<Process> cli_background(std::vector<std::string> args) {
    return cli_background(url(), std::move(args), "cli-bg.log");
  }

  // Polls `sealrelay --json agents` (with `flags`) at `url` until `id` is
  // listed online.
  bool agent_online(const std::string& url, const std::string& id, std::chrono::milliseconds timeout = 30s,
                    const std::vector<std::string>& flags = {});
  bool agent_online(const std::string& id) { return agent_online(url(), id, 20s); }

 private:
  struct Node {
    std::unique_ptr<Process> process;
    int port = 0;
    std::vector<std::string> extra;
  };
  struct Agent {
    std::unique_ptr<Process> process;
    std::string url;
    std::vector<std::string> extra;
  };
  Deployment() = default;
  const std::string& node(const std::string& name) const { return name.empty() ? main_relay_ : name; }
  Result<void> spawn_relay(const std::string& name, int port);
  // `sealrelay keygen` in cli_home(requester): its public key.
  Result<std::string> keygen(int requester);
  // Runs a setup step or the CLI; output in dir()/`log_name` (empty: a
  // fresh run-<n>.log).
  LoggedRun run(const std::vector<std::string>& argv, const std::vector<std::string>& env = {},
                std::chrono::milliseconds timeout = 60s, const std::string& log_name = "") const;

  TempDir dir_;
  DeploymentOptions options_;
  std::unique_ptr<RedisServer> redis_;
  std::map<std::string, Node> relays_;
  std::string main_relay_;
  std::map<std::string, Agent> agents_;
  std::map<std::string, AgentSetup> added_;
  std::string requester_token_;
  std::vector<std::string> requester_keys_;  // [0]: the main home's
  mutable int runs_ = 0;
  int relay_starts_ = 0;
};

// In a gtest body: starts a Deployment with `options` as `var` (a
// reference), skipping the test when redis-server is not installed.
#define START_DEPLOYMENT(var, ...)                                                  \
  auto var##_made = ::sealrelay::test::Deployment::start(__VA_ARGS__);              \
  if (!var##_made && var##_made.error().code == "redis_absent") {                   \
    GTEST_SKIP() << "skipped: " << var##_made.error().message;                      \
  }                                                                                 \
  ASSERT_TRUE(var##_made.ok()) << var##_made.error().message;                       \
  ::sealrelay::test::Deployment& var = **var##_made

}  // namespace sealrelay::test
