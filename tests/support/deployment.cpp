#include "tests/support/deployment.h"

#include <filesystem>
#include <fstream>
#include <regex>

namespace sealrelay::test {
namespace fs = std::filesystem;

std::string loopback_url(int port) { return "http://127.0.0.1:" + std::to_string(port); }

Result<std::unique_ptr<Deployment>> Deployment::start(DeploymentOptions options) {
  std::unique_ptr<Deployment> d(new Deployment());
  d->options_ = std::move(options);
  fs::create_directories(d->relay_state());
  if (d->options_.redis) {
    if (auto r = d->restart_redis(); !r) return r.error();
  }
  auto token = d->token({"add-requester", d->options_.requester, "--agents", "*"});
  if (!token) return token.error();
  d->requester_token_ = *token;
  auto key = d->keygen(-1);
  if (!key) return key.error();
  d->requester_keys_.push_back(*key);
  return d;
}

Result<std::unique_ptr<Deployment>> Deployment::start_one_relay(Store store, std::vector<std::string> relay_args) {
  DeploymentOptions options;
  options.redis = store == Store::kRedis;
  auto d = start(std::move(options));
  if (!d) return d.error();
  if (auto port = (*d)->start_relay("relay", std::move(relay_args)); !port) return port.error();
  return d;
}

Deployment::~Deployment() {
  // Agents first (they would reconnect and log), then the relays; Redis and
  // the directory go last. Each Process SIGKILLs and reaps its own child.
  agents_.clear();
  relays_.clear();
  redis_.reset();
}

void Deployment::stop_redis(int sig) {
  redis_->process().kill(sig);
  redis_->process().wait_exit(20s);
}

Result<void> Deployment::restart_redis() {
  auto r = RedisServer::start(dir(), options_.redis_args);
  if (!r) return r.error();
  redis_ = std::move(*r);
  return {};
}

LoggedRun Deployment::run(const std::vector<std::string>& argv, const std::vector<std::string>& env,
                          std::chrono::milliseconds timeout, const std::string& log_name) const {
  return run_logged(argv, dir() + "/" + (log_name.empty() ? "run-" + std::to_string(++runs_) + ".log" : log_name), env,
                    timeout);
}

Result<std::string> Deployment::token(const std::vector<std::string>& args) const {
  std::vector<std::string> argv{binary("relay/sealrelay-relay"), "--state-dir", relay_state(), "token"};
  argv.insert(argv.end(), args.begin(), args.end());
  auto r = run_command(argv);
  if (!r) return r.error();
  if (r->exit_code != 0) return make_error("setup", "token " + args.at(0) + " failed: " + r->err);
  return first_line(r->out);
}

// ---- relay nodes --------------------------------------------------------------

Result<void> Deployment::spawn_relay(const std::string& name, int port) {
  std::vector<std::string> argv{binary("relay/sealrelay-relay"), "--state-dir", relay_state(), "--listen",
                                "127.0.0.1:" + std::to_string(port)};
  argv.insert(argv.end(), options_.relay_args.begin(), options_.relay_args.end());
  if (redis_) argv.insert(argv.end(), {"--redis", redis_->url()});
  Node& n = relays_[name];
  argv.insert(argv.end(), n.extra.begin(), n.extra.end());
  auto p = Process::spawn(argv, dir() + "/relay-" + name + "-" + std::to_string(++relay_starts_) + ".log");
  if (!p) return p.error();
  auto bound = (*p)->wait_for_log(R"(listening on 127\.0\.0\.1:(\d+))", 20s);
  if (!bound) return make_error("setup", "relay " + name + " did not start:\n" + (*p)->log());
  n.process = std::move(*p);
  n.port = std::stoi(*bound);
  return {};
}

Result<int> Deployment::start_relay(const std::string& name, std::vector<std::string> extra, int port) {
  relays_[name].extra = std::move(extra);
  if (main_relay_.empty()) main_relay_ = name;
  if (auto r = spawn_relay(name, port); !r) return r.error();
  return relays_[name].port;
}

Result<int> Deployment::restart_relay(const std::string& name) {
  const std::string n = node(name);
  const int port = relays_.at(n).port;
  // The port was just released; the relay refuses SO_REUSEPORT, so retry a
  // moment if the kernel has not let go of it yet.
  Result<void> started;
  wait_until([&] { return (started = spawn_relay(n, port)).ok(); }, 20s, 200ms);
  if (!started) return started.error();
  return port;
}

void Deployment::stop_relay(int sig, const std::string& name) {
  Process& p = relay(name);
  p.kill(sig);
  p.wait_exit(20s);
}

// ---- requesters ---------------------------------------------------------------

std::string Deployment::cli_home(int requester) const {
  return requester < 0 ? dir() + "/cli" : dir() + "/cli-" + std::to_string(requester);
}

Result<std::string> Deployment::keygen(int requester) {
  auto keygen = run(cli_argv({"keygen"}), {"SEALRELAY_HOME=" + cli_home(requester)});
  if (keygen.exit_code != 0) return make_error("setup", "keygen failed: " + keygen.output);
  std::smatch m;
  std::string text = read_file(cli_home(requester) + "/identity.key");
  if (!std::regex_search(text, m, std::regex("public=(\\S+)"))) {
    return make_error("setup", "no public key in " + cli_home(requester) + "/identity.key");
  }
  return m[1].str();
}

Result<void> Deployment::add_requesters(int n) {
  for (int i = 0; i < n; ++i) {
    auto key = keygen(static_cast<int>(requester_keys_.size()) - 1);
    if (!key) return key.error();
    requester_keys_.push_back(*key);
  }
  return {};
}

Result<void> Deployment::share_pins() const {
  for (size_t i = 1; i < requester_keys_.size(); ++i) {
    std::error_code ec;
    fs::copy_file(cli_home() + "/known_agents", cli_home(static_cast<int>(i) - 1) + "/known_agents",
                  fs::copy_options::overwrite_existing, ec);
    if (ec) return make_error("setup", "cannot copy known_agents: " + ec.message());
  }
  return {};
}

// ---- agents -------------------------------------------------------------------

Result<void> Deployment::add_agent(const std::string& id, const AgentSetup& setup) {
  AgentSetup& added = added_[id] = setup;
  if (added.share_dir.empty()) {
    added.share_dir = share(id);
    fs::create_directories(added.share_dir);
  }
  if (setup.token) {
    auto token = this->token({"add-agent", id});
    if (!token) return token.error();
    std::ofstream(agent_token_file(id)) << *token << "\n";
    fs::permissions(agent_token_file(id), fs::perms::owner_read | fs::perms::owner_write);
  }
  auto init = run({binary("agent/sealrelay-agent"), "init", "--state-dir", agent_state(id)});
  if (init.exit_code != 0) return make_error("setup", "agent init failed: " + init.output);
  std::ofstream trust(agent_state(id) + "/authorized_requesters", std::ios::app);
  for (size_t i = 0; i < requester_keys_.size(); ++i) {
    trust << requester_keys_[i] << (setup.scope.empty() ? "" : " " + setup.scope) << " " << options_.requester << "-"
          << i << "\n";
  }
  return {};
}

Result<std::unique_ptr<Process>> Deployment::spawn_agent(const std::string& id, const std::string& url,
                                                         const std::vector<std::string>& extra,
                                                         const std::string& log_name) const {
  const AgentSetup& setup = added_.at(id);
  std::vector<std::string> argv{binary("agent/sealrelay-agent"), "run", "--state-dir", agent_state(id), "--relay-url",
                                url};
  if (setup.token) argv.insert(argv.end(), {"--token-file", agent_token_file(id)});
  argv.insert(argv.end(), {"--share", "demo=" + setup.share_dir});
  argv.insert(argv.end(), options_.agent_args.begin(), options_.agent_args.end());
  argv.insert(argv.end(), extra.begin(), extra.end());
  return Process::spawn(argv, dir() + "/" + (log_name.empty() ? "agent-" + id : log_name) + ".log");
}

Result<void> Deployment::start_agent(const std::string& id, const std::string& url, std::vector<std::string> extra) {
  if (!added_.contains(id)) {
    if (auto r = add_agent(id); !r) return r;
  }
  agents_[id] = Agent{nullptr, url, std::move(extra)};
  return restart_agent(id);
}

Result<void> Deployment::start_agent_online(const std::string& id, std::vector<std::string> extra,
                                            const std::string& scope) {
  if (auto r = add_agent(id, AgentSetup{.scope = scope}); !r) return r;
  if (auto r = start_agent(id, url(), std::move(extra)); !r) return r;
  if (!agent_online(id)) return make_error("setup", "agent " + id + " did not come online: " + agent(id).log());
  return {};
}

Result<void> Deployment::restart_agent(const std::string& id) {
  Agent& a = agents_.at(id);
  a.process.reset();  // a stopped one is reaped; its log is appended to
  auto p = spawn_agent(id, a.url, a.extra);
  if (!p) return p.error();
  a.process = std::move(*p);
  return {};
}

void Deployment::stop_agent(const std::string& id, int sig) {
  Process& p = agent(id);
  p.kill(sig);
  p.wait_exit(20s);
}

std::vector<pid_t> Deployment::agent_pids() const {
  std::vector<pid_t> pids;
  for (const auto& [id, a] : agents_) pids.push_back(a.process->pid());
  return pids;
}

// ---- the CLI ------------------------------------------------------------------

std::vector<std::string> Deployment::cli_argv(std::vector<std::string> args) const {
  args.insert(args.begin(), binary("requester/sealrelay"));
  return args;
}

std::vector<std::string> Deployment::cli_env(const std::string& url, int requester) const {
  return {"SEALRELAY_HOME=" + cli_home(requester), "SEALRELAY_URL=" + url, "SEALRELAY_TOKEN=" + requester_token_};
}

LoggedRun Deployment::cli(const std::string& url, std::vector<std::string> args, std::chrono::milliseconds timeout,
                          const std::vector<std::string>& flags) {
  args.insert(args.begin(), flags.begin(), flags.end());
  return run(cli_argv(std::move(args)), cli_env(url), timeout);
}

std::unique_ptr<Process> Deployment::cli_background(const std::string& url, std::vector<std::string> args,
                                                    const std::string& log_name) {
  auto p = Process::spawn(cli_argv(std::move(args)), dir() + "/" + log_name, Process::Options{cli_env(url), ""});
  return p ? std::move(*p) : nullptr;
}

bool Deployment::agent_online(const std::string& url, const std::string& id, std::chrono::milliseconds timeout,
                              const std::vector<std::string>& flags) {
  std::regex online("\"id\":\"" + id + "\"[^}]*\"online\":true");
  return wait_until(
      [&] {
        std::vector<std::string> args = flags;
        args.insert(args.end(), {"--json", "agents"});
        auto r = run(cli_argv(std::move(args)), cli_env(url), 10s, "agents.log");
        return r.exit_code == 0 && std::regex_search(r.output, online);
      },
      timeout, 50ms);
}

}  // namespace sealrelay::test
