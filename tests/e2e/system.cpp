#include "tests/e2e/system.h"

#include <hiredis.h>
#include <sys/wait.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <regex>

#include "crypto/protocol.h"
#include "proto/event_stream.h"

namespace sealrelay::test {
namespace fs = std::filesystem;

namespace {

std::string first_line(const std::string& s) { return s.substr(0, s.find('\n')); }

}  // namespace

Result<void> tamper_last_frame(const std::string& socket, const std::string& key) {
  std::unique_ptr<redisContext, decltype(&redisFree)> c(redisConnectUnix(socket.c_str()), redisFree);
  if (!c || c->err) return make_error("redis", "cannot connect to " + socket);
  auto command = [&](const std::vector<std::string>& args) { return redis_call(c.get(), args); };
  auto range = command({"XRANGE", key, "-", "+"});
  if (!range || range->type != REDIS_REPLY_ARRAY) return make_error("redis", "XRANGE failed");
  // Each entry: [id, [field, value, ...]].
  std::vector<std::vector<std::string>> entries;
  int last_frame = -1;
  for (size_t i = 0; i < range->elements; ++i) {
    redisReply* e = range->element[i];
    std::vector<std::string> add{"XADD", key, std::string(e->element[0]->str, e->element[0]->len)};
    redisReply* fields = e->element[1];
    for (size_t f = 0; f < fields->elements; ++f) add.emplace_back(fields->element[f]->str, fields->element[f]->len);
    for (size_t f = 3; f + 1 < add.size(); f += 2) {
      if (add[f] == "k" && add[f + 1] == "frame") last_frame = static_cast<int>(entries.size());
    }
    entries.push_back(std::move(add));
  }
  if (last_frame < 0) return make_error("redis", "no frame queued in " + key);
  for (size_t f = 3; f + 1 < entries[last_frame].size(); f += 2) {
    std::string& v = entries[last_frame][f + 1];
    if (entries[last_frame][f] != "p") continue;
    // The payload is the frame's event-stream record: its header, then the
    // frame. Change one ciphertext byte; the record stays well formed.
    constexpr size_t kSkip = event_stream::kHeaderBytes + protocol::kFrameHeaderBytes;
    if (v.size() <= kSkip) return make_error("redis", "frame payload too short");
    size_t at = kSkip + (v.size() - kSkip) / 2;
    v[at] = static_cast<char>(v[at] ^ 0x01);
  }
  // One transaction, so the relay cannot add an entry in between.
  command({"MULTI"});
  command({"DEL", key});
  for (const auto& add : entries) {
    auto r = command(add);
    if (!r || r->type == REDIS_REPLY_ERROR) return make_error("redis", "XADD " + add[2] + " was refused");
  }
  command({"EXPIRE", key, "3600"});
  auto done = command({"EXEC"});
  if (!done || done->type != REDIS_REPLY_ARRAY) return make_error("redis", "the rewrite transaction failed");
  for (size_t i = 0; i < done->elements; ++i) {
    if (done->element[i]->type == REDIS_REPLY_ERROR) {
      return make_error("redis", "rewrite failed: " + std::string(done->element[i]->str, done->element[i]->len));
    }
  }
  return {};
}

void write_random_file(const std::string& path, size_t bytes, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::ofstream out(path, std::ios::binary);
  std::vector<uint64_t> block(8192);
  for (size_t done = 0; done < bytes;) {
    for (auto& w : block) w = rng();
    size_t n = std::min(bytes - done, block.size() * 8);
    out.write(reinterpret_cast<const char*>(block.data()), static_cast<std::streamsize>(n));
    done += n;
  }
}

bool same_file(const std::string& a, const std::string& b) {
  std::error_code ec;
  if (!fs::exists(a, ec) || !fs::exists(b, ec) || fs::file_size(a) != fs::file_size(b)) return false;
  return read_file(a) == read_file(b);
}

Result<std::unique_ptr<System>> System::start(Store store, std::vector<std::string> relay_args) {
  std::unique_ptr<System> s(new System());
  if (store == Store::kRedis) {
    auto redis = RedisServer::start(s->dir());
    if (!redis) return redis.error();
    s->redis_ = std::move(*redis);
  }
  s->relay_args_ = std::move(relay_args);
  s->port_ = free_port();
  auto token = run_logged({binary("relay/sealrelay-relay"), "--state-dir", s->dir() + "/relay", "token", "add-requester",
                    "e2e", "--agents", "*"},
                   s->dir() + "/token.log", {}, 30s);
  if (token.exit_code != 0) return make_error("setup", "token add-requester failed: " + token.output);
  s->requester_token_ = first_line(token.output);
  auto keygen = run_logged({binary("requester/sealrelay"), "keygen"}, s->dir() + "/keygen.log", s->cli_env(), 30s);
  if (keygen.exit_code != 0) return make_error("setup", "keygen failed: " + keygen.output);
  std::smatch m;
  std::string text = read_file(s->cli_home() + "/identity.key");
  if (!std::regex_search(text, m, std::regex("public=(\\S+)"))) return make_error("setup", "no public key");
  s->requester_key_ = m[1];
  if (auto r = s->spawn_relay(); !r) return r.error();
  return s;
}

Result<void> System::spawn_relay() {
  std::vector<std::string> argv{binary("relay/sealrelay-relay"), "--state-dir", dir() + "/relay", "--listen",
                                "127.0.0.1:" + std::to_string(port_), "--heartbeat-seconds", "1"};
  if (redis_) {
    argv.push_back("--redis");
    argv.push_back(redis_->url());
  }
  argv.insert(argv.end(), relay_args_.begin(), relay_args_.end());
  auto p = Process::spawn(argv, dir() + "/relay-" + std::to_string(++relay_starts_) + ".log");
  if (!p) return p.error();
  relay_ = std::move(*p);
  if (!relay_->wait_for_log("listening on", 20s)) return make_error("setup", "relay did not start: " + relay_->log());
  return {};
}

void System::stop_relay(int sig) {
  relay_->kill(sig);
  relay_->wait_exit(20s);
}

Result<void> System::restart_relay() {
  // The port was just released; the relay refuses SO_REUSEPORT, so retry a
  // moment if the kernel has not let go of it yet.
  Result<void> r;
  wait_until([&] { return (r = spawn_relay()).ok(); }, 20s, 200ms);
  return r;
}

Result<void> System::start_agent(const std::string& id, std::vector<std::string> extra_args, const std::string& scope) {
  fs::create_directories(share(id));
  auto token = run_logged({binary("relay/sealrelay-relay"), "--state-dir", dir() + "/relay", "token", "add-agent", id},
                   dir() + "/token.log", {}, 30s);
  if (token.exit_code != 0) return make_error("setup", "token add-agent failed: " + token.output);
  std::string token_file = dir() + "/agent-" + id + ".token";
  std::ofstream(token_file) << first_line(token.output) << "\n";
  fs::permissions(token_file, fs::perms::owner_read | fs::perms::owner_write);
  auto init = run_logged({binary("agent/sealrelay-agent"), "init", "--state-dir", agent_state(id)}, dir() + "/init.log", {},
                  30s);
  if (init.exit_code != 0) return make_error("setup", "agent init failed: " + init.output);
  std::ofstream(agent_state(id) + "/authorized_requesters", std::ios::app)
      << requester_key_ << (scope.empty() ? "" : " " + scope) << " e2e-cli\n";
  std::vector<std::string> argv{binary("agent/sealrelay-agent"), "run", "--state-dir", agent_state(id),
                                "--relay-url", url(), "--token-file", token_file, "--share", "demo=" + share(id),
                                "--read-timeout", "5"};
  argv.insert(argv.end(), extra_args.begin(), extra_args.end());
  agent_args_[id] = argv;
  return restart_agent(id);
}

Result<void> System::restart_agent(const std::string& id) {
  auto p = Process::spawn(agent_args_[id], dir() + "/agent-" + id + ".log");
  if (!p) return p.error();
  agents_[id] = std::move(*p);
  if (!agent_online(id)) return make_error("setup", "agent " + id + " did not come online: " + agents_[id]->log());
  return {};
}

void System::stop_agent(const std::string& id, int sig) {
  agents_[id]->kill(sig);
  agents_[id]->wait_exit(20s);
}

bool System::agent_online(const std::string& id) {
  return wait_until(
      [&] {
        auto r = run_logged({binary("requester/sealrelay"), "--json", "agents"}, dir() + "/agents.log", cli_env(), 10s);
        return r.exit_code == 0 && std::regex_search(r.output, std::regex("\"id\":\"" + id + "\",\"last_seen\":[0-9]+,\"online\":true"));
      },
      20s, 50ms);
}

std::vector<std::string> System::cli_env() const {
  return {"SEALRELAY_HOME=" + cli_home(), "SEALRELAY_URL=" + url(), "SEALRELAY_TOKEN=" + requester_token_};
}

CliResult System::cli(std::vector<std::string> args, std::chrono::milliseconds timeout) {
  args.insert(args.begin(), binary("requester/sealrelay"));
  return run_logged(args, dir() + "/cli.log", cli_env(), timeout);
}

std::unique_ptr<Process> System::cli_background(std::vector<std::string> args) {
  args.insert(args.begin(), binary("requester/sealrelay"));
  auto p = Process::spawn(args, dir() + "/cli-bg.log", Process::Options{cli_env(), ""});
  return p ? std::move(*p) : nullptr;
}

}  // namespace sealrelay::test
