// A relay deployment on loopback built by hand, for the tests that need
// several relay nodes, a balancer or a lying relay in front of the agent, or
// Redis with persistence: a private redis-server, relay nodes sharing one
// state dir (tokens) and the Redis, agents and the CLI pointed at whatever
// URL the test chooses. All real processes, stopped by PID at the end.
#pragma once

#include <sys/wait.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <regex>

#include "tests/e2e/system.h"
#include "tests/support/support.h"

namespace sealrelay::test {

std::string first_line(const std::string& s);

// GET `path` on 127.0.0.1:`port` (with a bearer token when not empty);
// the status (0: no answer), the body into `body` when set.
int http_status(int port, const std::string& path, const std::string& token = "", std::string* body = nullptr);

class Cluster {
 public:
  static Result<std::unique_ptr<Cluster>> start(std::vector<std::string> redis_args = {}) {
    std::unique_ptr<Cluster> c(new Cluster());
    c->redis_args_ = std::move(redis_args);
    if (auto r = c->start_redis(); !r) return r.error();
    auto token = c->run({binary("relay/sealrelay-relay"), "--state-dir", c->dir() + "/relay", "token",
                         "add-requester", "ops", "--agents", "*"});
    if (token.exit_code != 0) return make_error("setup", "token: " + token.output);
    c->req_token_ = first_line(token.output);
    auto keygen = c->run({binary("requester/sealrelay"), "keygen"}, c->cli_env(""));
    if (keygen.exit_code != 0) return make_error("setup", "keygen: " + keygen.output);
    std::smatch m;
    std::string text = read_file(c->dir() + "/cli/identity.key");
    if (!std::regex_search(text, m, std::regex("public=(\\S+)"))) return make_error("setup", "no key");
    c->cli_key_ = m[1];
    return c;
  }

  const std::string& dir() const { return dir_.path(); }
  RedisServer& redis() { return *redis_; }
  const std::string& requester_token() const { return req_token_; }

  Result<void> start_redis() {
    auto r = RedisServer::start(dir(), redis_args_);
    if (!r) return r.error();
    redis_ = std::move(*r);
    return {};
  }
  void stop_redis(int sig) {
    redis_->process().kill(sig);
    redis_->process().wait_exit(20s);
  }

  // Starts (or restarts) relay node `name` on `port` (0: a free one).
  Result<int> start_relay(const std::string& name, int port = 0, std::vector<std::string> extra = {}) {
    if (port == 0) port = free_port();
    std::vector<std::string> argv{binary("relay/sealrelay-relay"), "--state-dir", dir() + "/relay", "--listen",
                                  "127.0.0.1:" + std::to_string(port), "--heartbeat-seconds", "1", "--redis",
                                  redis_->url()};
    argv.insert(argv.end(), extra.begin(), extra.end());
    Result<void> started = make_error("setup", "relay " + name + " did not start");
    // The port was just released when restarting: retry a moment.
    wait_until(
        [&] {
          auto p = Process::spawn(argv, dir() + "/relay-" + name + "-" + std::to_string(++starts_) + ".log");
          if (!p) return false;
          if (!(*p)->wait_for_log("listening on", 20s)) return false;
          relays_[name] = std::move(*p);
          started = {};
          return true;
        },
        20s, 200ms);
    if (!started) return started.error();
    ports_[name] = port;
    return port;
  }
  void kill_relay(const std::string& name, int sig = SIGKILL) {
    relays_[name]->kill(sig);
    relays_[name]->wait_exit(20s);
  }
  Process& relay(const std::string& name) { return *relays_[name]; }
  int port(const std::string& name) { return ports_[name]; }

  std::string share(const std::string& id) const { return dir() + "/share-" + id; }

  // Creates agent `id` and starts it against `url`.
  Result<void> start_agent(const std::string& id, const std::string& url, std::vector<std::string> extra = {}) {
    std::filesystem::create_directories(share(id));
    auto token = run({binary("relay/sealrelay-relay"), "--state-dir", dir() + "/relay", "token", "add-agent", id});
    if (token.exit_code != 0) return make_error("setup", "token add-agent: " + token.output);
    std::string token_file = dir() + "/agent-" + id + ".token";
    std::ofstream(token_file) << first_line(token.output) << "\n";
    std::filesystem::permissions(token_file, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
    std::string state = dir() + "/agent-" + id;
    auto init = run({binary("agent/sealrelay-agent"), "init", "--state-dir", state});
    if (init.exit_code != 0) return make_error("setup", "agent init: " + init.output);
    std::ofstream(state + "/authorized_requesters", std::ios::app) << cli_key_ << " fault-test\n";
    std::vector<std::string> argv{binary("agent/sealrelay-agent"), "run", "--state-dir", state, "--relay-url", url,
                                  "--token-file", token_file, "--share", "demo=" + share(id), "--read-timeout", "5"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    agent_argv_[id] = argv;
    return restart_agent(id);
  }
  Result<void> restart_agent(const std::string& id) {
    auto p = Process::spawn(agent_argv_[id], dir() + "/agent-" + id + ".log");
    if (!p) return p.error();
    agents_[id] = std::move(*p);
    return {};
  }
  Process& agent(const std::string& id) { return *agents_[id]; }
  void kill_agent(const std::string& id, int sig = SIGKILL) {
    agents_[id]->kill(sig);
    agents_[id]->wait_exit(20s);
  }
  bool agent_online(int port, const std::string& id, std::chrono::milliseconds timeout = 30s) {
    return wait_until(
        [&] {
          std::string body;
          if (http_status(port, "/v1/agents", req_token_, &body) != 200) return false;
          auto j = nlohmann::json::parse(body, nullptr, false);
          if (!j.is_object()) return false;
          for (const auto& a : j["agents"]) {
            if (a["id"] == id && a["online"] == true) return true;
          }
          return false;
        },
        timeout, 50ms);
  }

  CliResult cli(const std::string& url, std::vector<std::string> args, std::chrono::milliseconds timeout = 180s) {
    args.insert(args.begin(), binary("requester/sealrelay"));
    return run(args, cli_env(url), timeout);
  }
  std::unique_ptr<Process> cli_background(const std::string& url, std::vector<std::string> args,
                                          const std::string& log) {
    args.insert(args.begin(), binary("requester/sealrelay"));
    auto p = Process::spawn(args, dir() + "/" + log, Process::Options{cli_env(url), ""});
    return p ? std::move(*p) : nullptr;
  }

 private:
  Cluster() = default;
  std::vector<std::string> cli_env(const std::string& url) const {
    return {"SEALRELAY_HOME=" + dir() + "/cli", "SEALRELAY_URL=" + url, "SEALRELAY_TOKEN=" + req_token_};
  }
  CliResult run(const std::vector<std::string>& argv, const std::vector<std::string>& env = {},
                std::chrono::milliseconds timeout = 30s) {
    return run_logged(argv, dir() + "/run-" + std::to_string(++runs_) + ".log", env, timeout);
  }

  TempDir dir_;
  std::vector<std::string> redis_args_;
  std::unique_ptr<RedisServer> redis_;
  std::map<std::string, std::unique_ptr<Process>> relays_, agents_;
  std::map<std::string, int> ports_;
  std::map<std::string, std::vector<std::string>> agent_argv_;
  std::string req_token_, cli_key_;
  int starts_ = 0, runs_ = 0;
};

#define START_CLUSTER(var, ...)                                                        \
  auto var##_made = Cluster::start(__VA_ARGS__);                                        \
  if (!var##_made && var##_made.error().code == "redis_absent") {                       \
    GTEST_SKIP() << "skipped: " << var##_made.error().message;                          \
  }                                                                                     \
  ASSERT_TRUE(var##_made.ok()) << var##_made.error().message;                           \
  Cluster& var = **var##_made

}  // namespace sealrelay::test
