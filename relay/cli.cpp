#include "relay/cli.h"

#include <malloc.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <array>
#include <bit>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <iostream>
#include <thread>

#include "base/log_format.h"
#include "relay/config.h"
#include "relay/memory_store.h"
#include "relay/redis.h"
#include "relay/redis_store.h"
#include "relay/server.h"
#include "relay/tokens.h"

namespace sealrelay::relay {
namespace {

// Flags with their environment variable (SEALRELAY_<NAME>), all in one place.
template <class T>
CLI::Option* flag(CLI::App& app, const std::string& name, T& value, const std::string& help) {
  std::string env = "SEALRELAY_";
  for (char c : name.substr(2)) env.push_back(c == '-' ? '_' : static_cast<char>(std::toupper(c)));
  return app.add_option(name, value, help)->envname(env)->capture_default_str();
}

// Linux >= 6.16 gives each process a private futex hash sized for
// min(threads, CPUs): 16 buckets on a 2-CPU machine. Every connection here
// is a thread that sleeps in a condition variable, so with 10,000 idle
// agents each futex wake and wait walked a chain of ~600 waiters: 8-10 % of
// a core at idle (perf: futex_wake under __lll_lock_wake). Size it for the
// connections instead; older kernels (EINVAL) use the global hash anyway.
#ifndef PR_FUTEX_HASH
#define PR_FUTEX_HASH 78
#define PR_FUTEX_HASH_SET_SLOTS 1
#endif
void size_futex_hash(size_t max_connections) {
  unsigned long slots = std::bit_ceil(std::max<size_t>(max_connections, 64) * 2);
  slots = std::min(slots, 1ul << 17);
  if (::prctl(PR_FUTEX_HASH, PR_FUTEX_HASH_SET_SLOTS, slots, 0, 0) != 0 && errno != EINVAL) {
    spdlog::debug("prctl(PR_FUTEX_HASH, {}): {}", slots, std::strerror(errno));
  }
}

// Every connection is a descriptor: raise the soft limit to the hard one
// and say so if even that cannot hold --max-connections.
void raise_fd_limit(size_t max_connections) {
  rlimit lim{};
  if (::getrlimit(RLIMIT_NOFILE, &lim) != 0) return;
  if (lim.rlim_cur < lim.rlim_max) {
    lim.rlim_cur = lim.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &lim);
  }
  if (lim.rlim_cur != RLIM_INFINITY && lim.rlim_cur < max_connections + 128) {
    spdlog::warn("open-file limit {} is below --max-connections {} + 128: raise it (ulimit -n, "
                 "systemd LimitNOFILE=)", lim.rlim_cur, max_connections);
  }
}

// glibc keeps a per-thread cache of freed small blocks (tcache, up to 7 per
// size class). Here every connection is a thread, and each kept ~7.7 KiB it
// had freed while setting up its stream: 77 MiB for 10,000 idle agents with
// the Redis store (438 -> 361 MiB). glibc reads the switch only at start
// (GLIBC_TUNABLES), so `serve` sets it and executes itself again, once.
// SEALRELAY_KEEP_MALLOC=1 keeps the default (e.g. under valgrind).
void reexec_without_thread_cache(char** argv) {
  const char* keep = std::getenv("SEALRELAY_KEEP_MALLOC");
  if (keep && std::string(keep) == "1") return;
  const char* current = std::getenv("GLIBC_TUNABLES");
  std::string tunables = current ? current : "";
  if (tunables.find("glibc.malloc.tcache_count") != std::string::npos) return;
  tunables += (tunables.empty() ? "" : ":") + std::string("glibc.malloc.tcache_count=0");
  if (::setenv("GLIBC_TUNABLES", tunables.c_str(), 1) != 0) return;
  // The binary's own path, so the process keeps its name (ps, top, pgrep
  // show "exe" after an exec of /proc/self/exe); that path, if the file was
  // replaced since (an upgrade), is gone: then /proc/self/exe.
  std::array<char, 4096> self{};
  ssize_t n = ::readlink("/proc/self/exe", self.data(), self.size() - 1);
  if (n > 0 && static_cast<size_t>(n) < self.size() - 1) ::execv(self.data(), argv);
  ::execv("/proc/self/exe", argv);
  spdlog::debug("re-exec for GLIBC_TUNABLES failed: {}", std::strerror(errno));  // carry on as is
}

std::string tokens_path(const Config& cfg) {
  return cfg.tokens_file.empty() ? cfg.state_dir + "/tokens.json" : cfg.tokens_file;
}

// The embedded store, or the Redis one (nullptr, said in the log, when Redis
// cannot be reached).
std::unique_ptr<Store> open_store(const Config& cfg) {
  StoreLimits limits;
  limits.max_transfer_bytes = cfg.max_transfer_bytes;
  limits.history_frames = cfg.history_frames;
  limits.max_transfers_per_agent = cfg.max_transfers_per_agent;
  limits.transfer_ttl = cfg.transfer_ttl;
  limits.presence_ttl = std::max<std::chrono::seconds>(
      std::chrono::seconds(1), std::chrono::duration_cast<std::chrono::seconds>(cfg.heartbeat * 3));
  limits.mailbox_bytes = std::max<size_t>(8u << 20, 2 * cfg.max_frame_bytes);
  if (cfg.redis_url.empty() && cfg.redis_cluster.empty()) return std::make_unique<MemoryStore>(limits);
  RedisConfig rc;
  rc.url = cfg.redis_url;
  rc.cluster = cfg.redis_cluster;
  rc.connections = cfg.redis_connections;
  auto rs = RedisStore::open(rc, limits);
  if (!rs) {
    bool cluster = !cfg.redis_cluster.empty();
    spdlog::error("--redis{} {}: {}", cluster ? "-cluster" : "",
                  redact_redis_url(cluster ? cfg.redis_cluster : cfg.redis_url), rs.error().message);
    return nullptr;
  }
  return std::move(*rs);
}

// Serves until SIGINT or SIGTERM.
int run_until_signalled(Server& server) {
  // The signal mask was set before any thread started.
  sigset_t sigs;
  sigemptyset(&sigs);
  sigaddset(&sigs, SIGINT);
  sigaddset(&sigs, SIGTERM);
  std::thread signals([&] {
    int sig = 0;
    sigwait(&sigs, &sig);
    spdlog::info("signal {}: stopping", sig);
    server.stop();
  });
  bool ok = server.run();
  server.stop();
  // Wake the signal thread if it is still waiting.
  ::kill(::getpid(), SIGTERM);
  signals.join();
  spdlog::info("stopped");
  return ok ? 0 : 1;
}

// What `serve` is told, before it becomes a Config.
struct Options {
  Config cfg;
  double heartbeat_s = 15;
  uint64_t answer_timeout_s = 60, ttl_s = 3600, stall_s = 300, read_timeout_s = 60;
  std::string log_format = "text";
};

int serve(const Options& o) {
  Config cfg = o.cfg;
  cfg.heartbeat = std::chrono::milliseconds(static_cast<int64_t>(o.heartbeat_s * 1000));
  if (cfg.heartbeat < std::chrono::milliseconds(10)) cfg.heartbeat = std::chrono::milliseconds(10);
  cfg.answer_timeout = std::chrono::seconds(o.answer_timeout_s);
  cfg.transfer_ttl = std::chrono::seconds(std::max<uint64_t>(o.ttl_s, 1));
  cfg.upload_stall = std::chrono::seconds(std::max<uint64_t>(o.stall_s, 1));
  cfg.read_timeout = std::chrono::seconds(std::max<uint64_t>(o.read_timeout_s, 1));
  if (cfg.tls_cert.empty() != cfg.tls_key.empty()) {
    spdlog::error("--tls-cert and --tls-key go together");
    return 2;
  }
  if (!cfg.tls_client_ca.empty() && cfg.tls_cert.empty()) {
    spdlog::error("--tls-client-ca needs --tls-cert/--tls-key (HTTPS)");
    return 2;
  }

  auto tokens = std::make_shared<TokenVerifier>(tokens_path(cfg));
  if (auto r = tokens->load(); !r) {
    spdlog::error("{}", r.error().message);
    return 1;
  }
  if (tokens->size() == 0) {
    spdlog::warn("no tokens in {} yet: create them with `sealrelay-relay token add-agent|add-requester`",
                 tokens_path(cfg));
  }

  raise_fd_limit(cfg.max_connections);
  size_futex_hash(cfg.max_connections);

  auto store = open_store(cfg);
  if (!store) return 1;

  // Signals go to one thread that stops the server; block them everywhere
  // else before any thread starts.
  sigset_t sigs;
  sigemptyset(&sigs);
  sigaddset(&sigs, SIGINT);
  sigaddset(&sigs, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &sigs, nullptr);
  ::signal(SIGPIPE, SIG_IGN);

  Server server(cfg, std::move(store), tokens);
  auto port = server.bind();
  if (!port) {
    spdlog::error("{}", port.error().message);
    return 1;
  }
  return run_until_signalled(server);
}

int token_list(const std::string& path) {
  auto recs = token_file::load(path);
  if (!recs) {
    std::cerr << recs.error().message << "\n";
    return 1;
  }
  std::printf("%-16s  %-9s  %-24s  %-30s  %s\n", "ID", "KIND", "NAME/AGENT", "SCOPE", "CREATED");
  for (auto& r : *recs) {
    std::string scope;
    for (auto& a : r.agents) scope += (scope.empty() ? "" : ",") + a;
    char when[32] = "-";
    std::time_t t = r.created;
    std::tm tm{};
    if (gmtime_r(&t, &tm)) std::strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
    bool agent = r.kind == TokenKind::agent;
    std::printf("%-16s  %-9s  %-24s  %-30s  %s\n", r.id.c_str(), agent ? "agent" : "requester",
                !r.defect.empty() ? "(refused)" : agent ? r.agent.c_str() : r.name.c_str(),
                agent || !r.defect.empty() ? "-" : scope.c_str(), when);
    if (!r.defect.empty()) {
      std::printf("  ^ refused by the relay: %s; remove it with `sealrelay-relay token revoke %s`\n",
                  r.defect.c_str(), r.id.c_str());
    }
  }
  return 0;
}

void where_flags(CLI::App& app, Options& o) {
  flag(app, "--listen", o.cfg.listen, "Address to serve on, HOST:PORT (port 0: any free port, logged)");
  flag(app, "--redis", o.cfg.redis_url,
       "Shared store: redis://[:password@]host:port or unix://[:password@]/path (absent: embedded "
       "in-memory store); prefer SEALRELAY_REDIS or --config for a password: flags show in ps");
  flag(app, "--redis-cluster", o.cfg.redis_cluster,
       "Shared store on a Redis Cluster: seed nodes redis://[:password@]host:port,redis://host:port,... "
       "(the first one's password for all; at most 8 connections per master)")
      ->excludes("--redis");
  flag(app, "--redis-connections", o.cfg.redis_connections,
       "Most Redis connections this node opens (>= 3; two are the readers'); a request waits for a free "
       "one up to 5 s, then gets 503")
      ->check(CLI::Range(size_t{3}, size_t{10000}));
  flag(app, "--state-dir", o.cfg.state_dir, "Directory for the default tokens file");
  flag(app, "--tokens", o.cfg.tokens_file, "Tokens file (default <state-dir>/tokens.json)");
  flag(app, "--tls-cert", o.cfg.tls_cert, "PEM certificate chain: serve HTTPS");
  flag(app, "--tls-key", o.cfg.tls_key, "PEM private key for --tls-cert");
  flag(app, "--tls-client-ca", o.cfg.tls_client_ca,
       "PEM CA: accept agent client certificates (subject CN = agent id) instead of tokens");
  flag(app, "--web-root", o.cfg.web_root, "Serve the static files of this directory at /");
}

void limit_flags(CLI::App& app, Options& o) {
  flag(app, "--max-frame-bytes", o.cfg.max_frame_bytes, "Largest frame an agent may upload");
  flag(app, "--max-transfer-bytes", o.cfg.max_transfer_bytes, "Largest total of one transfer's frames");
  flag(app, "--window-frames", o.cfg.window_frames,
       "Undelivered frames per transfer before the relay stops reading the upload");
  flag(app, "--history-frames", o.cfg.history_frames,
       "Delivered frames kept per transfer for Last-Event-ID resume");
  flag(app, "--max-transfers-per-agent", o.cfg.max_transfers_per_agent,
       "Unfinished transfers one agent may have (then 429)");
  flag(app, "--max-connections", o.cfg.max_connections,
       "Connections served at once by this node (then 503 at once); sizes the thread pool");
  flag(app, "--rate-per-token", o.cfg.rate_per_token, "Requests per second per token (0: off)");
  flag(app, "--burst-per-token", o.cfg.burst_per_token, "Burst allowance per token");
  flag(app, "--rate-per-ip", o.cfg.rate_per_ip, "Requests per second per client address (0: off)");
  flag(app, "--burst-per-ip", o.cfg.burst_per_ip, "Burst allowance per client address");
  flag(app, "--max-json-bytes", o.cfg.max_json_bytes, "Largest JSON request body");
  flag(app, "--max-headers", o.cfg.max_headers, "Most request headers accepted");
}

void time_and_log_flags(CLI::App& app, Options& o) {
  flag(app, "--heartbeat-seconds", o.heartbeat_s, "SSE heartbeat interval (fractions allowed)");
  flag(app, "--answer-timeout-seconds", o.answer_timeout_s,
       "A transfer the agent has not answered by then expires");
  flag(app, "--transfer-ttl-seconds", o.ttl_s, "An idle transfer disappears after this long");
  flag(app, "--upload-stall-seconds", o.stall_s,
       "An upload blocked by a full window this long is cut (it can resume)");
  flag(app, "--read-timeout-seconds", o.read_timeout_s, "Per-read timeout on every connection");
  flag(app, "--log-level", o.cfg.log_level, "trace, debug, info, warn, error")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error"}));
  flag(app, "--log-format", o.log_format,
       "text (for people) or json (one object per line: time, level, message, key=value fields)")
      ->check(CLI::IsMember({"text", "json"}));
}

// The `token` subcommands and what they were given.
struct TokenCommands {
  CLI::App* token = nullptr;
  CLI::App *add_agent = nullptr, *add_req = nullptr, *revoke = nullptr;
  std::string agent_id, name, agents_csv, revoke_id;
};

void token_commands(CLI::App& app, TokenCommands& t) {
  auto* token = t.token = app.add_subcommand("token", "Manage agent and requester tokens in the tokens file");
  token->fallthrough();
  token->require_subcommand(1);
  auto* add_agent = t.add_agent = token->add_subcommand("add-agent", "Create a token for agent ID (printed once)");
  add_agent->add_option("ID", t.agent_id, "Agent id, [A-Za-z0-9._-]{1,64}")->required();
  auto* add_req = t.add_req = token->add_subcommand("add-requester", "Create a requester token (printed once)");
  add_req->add_option("NAME", t.name, "A label for the token holder")->required();
  add_req->add_option("--agents", t.agents_csv, "Agents it may reach: a,b,c or '*' for all")->required();
  auto* revoke = t.revoke = token->add_subcommand("revoke", "Revoke a token by id (relays notice within a second)");
  revoke->add_option("ID", t.revoke_id, "Token id, as shown by `token list`")->required();
  auto* list = token->add_subcommand("list", "List tokens (ids and scopes; never secrets)");
  for (auto* sub : {add_agent, add_req, revoke, list}) sub->fallthrough();
}

// "a,b,c" as its non-empty parts.
std::vector<std::string> split_csv(const std::string& csv) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= csv.size()) {
    size_t comma = csv.find(',', start);
    std::string a = csv.substr(start, comma - start);
    if (!a.empty()) out.push_back(a);
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return out;
}

int run_token(const TokenCommands& t, const std::string& path) {
  if (t.add_agent->parsed() || t.add_req->parsed()) {
    auto made = t.add_agent->parsed() ? token_file::add_agent(path, t.agent_id)
                                      : token_file::add_requester(path, t.name, split_csv(t.agents_csv));
    if (!made) {
      std::cerr << made.error().message << "\n";
      return 1;
    }
    std::cout << *made << "\n";
    std::cerr << "token written to " << path << " (only its hash is kept; copy the token now)\n";
    return 0;
  }
  if (t.revoke->parsed()) {
    auto r = token_file::revoke(path, t.revoke_id);
    if (!r) {
      std::cerr << r.error().message << "\n";
      return 1;
    }
    std::cerr << "revoked " << t.revoke_id << "\n";
    return 0;
  }
  return token_list(path);
}

}  // namespace

int relay_main(int argc, char** argv) {
  // Frames and the Redis commands that carry them are 0.3-6 MB buffers made
  // and freed at a high rate on many threads. By default glibc maps and
  // unmaps each one, or trims its heaps after each free, so every frame
  // pays page faults and zeroing again (~20% of the relay's CPU with Redis).
  // Keep such buffers in the heaps; peak RSS is unchanged (~35 MB for 1 GiB).
  mallopt(M_MMAP_THRESHOLD, 32 << 20);
  mallopt(M_TRIM_THRESHOLD, 64 << 20);
  CLI::App app{
      "sealrelay-relay: the cloud relay of sealrelay. It registers agents, carries opaque\n"
      "handshake messages and encrypted frames from agents to requesters, and never sees\n"
      "plaintext. API: docs/api.md.\n"};
  app.set_config("--config", "", "Read options from this file (key = value lines, long flag names)");
  app.require_subcommand(0, 1);

  Options o;
  where_flags(app, o);
  limit_flags(app, o);
  time_and_log_flags(app, o);
  auto* serve_cmd = app.add_subcommand("serve", "Run the relay (the default)");
  serve_cmd->fallthrough();
  TokenCommands t;
  token_commands(app, t);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }

  auto format = logging::parse_format(o.log_format).value_or(logging::Format::text);
  auto logger = format == logging::Format::json ? spdlog::stderr_logger_mt("relay") : spdlog::stderr_color_mt("relay");
  spdlog::set_default_logger(logger);
  spdlog::set_level(spdlog::level::from_str(o.cfg.log_level));
  logging::apply(format, "relay", "%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v");

  if (t.token->parsed()) return run_token(t, tokens_path(o.cfg));
  reexec_without_thread_cache(argv);
  return serve(o);
}

}  // namespace sealrelay::relay
