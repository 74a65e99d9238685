#include "bench/relay/idle_bench.h"

#include <openssl/rand.h>
#include <openssl/sha.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <httplib.h>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "bench/relay/bench_util.h"
#include "bench/relay/control_clients.h"

namespace sealrelay::bench {

using nlohmann::json;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

namespace {

std::string hex(const unsigned char* p, size_t n) {
  static const char* d = "0123456789abcdef";
  std::string s;
  for (size_t i = 0; i < n; ++i) {
    s.push_back(d[p[i] >> 4]);
    s.push_back(d[p[i] & 15]);
  }
  return s;
}

// Writes a tokens file with n agent tokens (format: relay/tokens.h).
std::vector<std::string> write_agent_tokens(const std::string& path, size_t n) {
  std::vector<std::string> tokens;
  json list = json::array();
  for (size_t i = 0; i < n; ++i) {
    unsigned char b[40];
    RAND_bytes(b, sizeof b);
    std::string id = hex(b, 8);
    std::string secret = hex(b + 8, 32);
    std::string t = "srt_" + id + "_" + secret;
    unsigned char dgst[SHA256_DIGEST_LENGTH];
    SHA256(reinterpret_cast<const unsigned char*>(t.data()), t.size(), dgst);
    list.push_back({{"id", id}, {"kind", "agent"}, {"agent", "idle-" + std::to_string(i)},
                    {"sha256", hex(dgst, sizeof dgst)}, {"created", 0}});
    tokens.push_back(t);
  }
  std::ofstream(path) << json{{"version", 1}, {"tokens", list}}.dump();
  return tokens;
}

// sealrelay_agents_online from the relay's /metrics; -1 if unreadable.
long agents_online(int port) {
  httplib::Client cli("127.0.0.1", port);
  cli.set_connection_timeout(5);
  cli.set_read_timeout(5);
  auto r = cli.Get("/metrics");
  if (!r || r->status != 200) return -1;
  auto at = r->body.find("\nsealrelay_agents_online ");
  return at == std::string::npos ? -1 : std::stol(r->body.substr(at + 25));
}

// Relay RSS, threads, CPU over a quiet interval, Redis clients and memory.
struct Quiet {
  long rss_kb = -1, threads = -1, redis_clients = -1, redis_mem = -1;
  double cpu_pct = -1;
  double redis_cpu_pct = -1;  // summed over the nodes: presence refreshes, plus each server's own cron and bus
};

// CPU seconds of every Redis node, summed.
double redis_cpu_seconds(const Backend& b) {
  double sum = 0;
  for (auto* n : b.nodes) sum += proc_cpu_seconds(n->process().pid());
  return sum;
}

Quiet measure_quiet(pid_t pid, const Backend& b, int seconds) {
  std::this_thread::sleep_for(2s);  // let connection set-up work finish first
  Quiet q;
  double cpu0 = proc_cpu_seconds(pid), redis0 = redis_cpu_seconds(b);
  std::this_thread::sleep_for(std::chrono::seconds(seconds));
  q.cpu_pct = 100.0 * (proc_cpu_seconds(pid) - cpu0) / seconds;
  if (!b.nodes.empty()) q.redis_cpu_pct = 100.0 * (redis_cpu_seconds(b) - redis0) / seconds;
  q.rss_kb = test::proc_status(pid, "VmRSS:");
  q.threads = test::proc_status(pid, "Threads:");
  if (!b.nodes.empty()) {
    q.redis_clients = q.redis_mem = 0;
    for (auto* n : b.nodes) {
      // INFO's own connection is one of the clients: not the relay's. On a
      // cluster the other nodes' bus links are not clients.
      q.redis_clients += redis_info(*n, "clients", "connected_clients") - 1;
      q.redis_mem += redis_info(*n, "memory", "used_memory");
    }
  }
  return q;
}

void print_idle_row(const std::string& streams, const std::string& opened, const Quiet& q, long rss0_kb,
                    size_t n) {
  std::string per = "—";
  if (n > 0) per = std::to_string(static_cast<long>(std::lround(static_cast<double>(q.rss_kb - rss0_kb) /
                                                                static_cast<double>(n)))) + " KiB";
  char redis_cpu[32] = "—";
  if (q.redis_cpu_pct >= 0) std::snprintf(redis_cpu, sizeof redis_cpu, "%.2f %%", q.redis_cpu_pct);
  std::printf("| %s | %s | %.1f MiB | %s | %ld | %.2f %% | %s | %s | %s |\n", streams.c_str(), opened.c_str(),
              q.rss_kb / 1024.0, per.c_str(), q.threads, q.cpu_pct,
              q.redis_clients >= 0 ? std::to_string(q.redis_clients).c_str() : "—",
              q.redis_mem >= 0 ? (std::to_string(q.redis_mem / 1024) + " KiB").c_str() : "—", redis_cpu);
  std::fflush(stdout);
}

struct StormRow {
  double reaped_s = -1, listening_s = -1, back_s = -1;
  size_t back_at_5s = 0;  // streaming 5 s after the kill
  size_t back = 0, failed = 0, failed_before_listening = 0, refused = 0;
  std::string answers;  // the non-200 answers, counted
  long online = -1, rss_kb = -1, threads = -1;
  std::string where;  // the successful attempts: when they started, how long their 200 took
};

// "p50 / p99 / max" of `v` in seconds (sorted here).
std::string spread(std::vector<double> v) {
  if (v.empty()) return "—";
  std::sort(v.begin(), v.end());
  auto at = [&](double q) { return v[std::min(v.size() - 1, static_cast<size_t>(q * static_cast<double>(v.size())))]; };
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.2f / %.2f / %.2f", at(0.5), at(0.99), v.back());
  return buf;
}

// Where the time to come back went: in the schedule (the successful attempt
// started late) or at the relay (it started early and its 200 came late).
std::string where_the_time_went(const ControlClients::Counters& k, Clock::time_point kill) {
  std::vector<double> started, waited;
  for (const auto& [attempt, answered] : k.opened) {
    started.push_back(std::chrono::duration<double>(attempt - kill).count());
    waited.push_back(std::chrono::duration<double>(answered - attempt).count());
  }
  return spread(started) + " s; " + spread(waited) + " s";
}

// The relay's first warnings and errors: why some clients are not back.
void print_relay_complaints(const std::string& log) {
  std::istringstream lines(test::read_file(log));
  std::string line;
  int shown = 0;
  while (std::getline(lines, line) && shown < 5) {
    if (line.find(" warn") == std::string::npos && line.find(" error") == std::string::npos) continue;
    std::fprintf(stderr, "relay log: %s\n", line.c_str());
    ++shown;
  }
}

// kill -9 the relay, start it again on the same port, and wait until every
// client streams again. `relay` is replaced by the new process.
StormRow storm(std::unique_ptr<test::Process>& relay, const std::vector<std::string>& argv, int port,
               const std::string& log, ControlClients& clients, const std::string& mode) {
  using CC = ControlClients;
  StormRow row;
  clients.set_reconnect(mode == "at-once" ? CC::Reconnect::held : CC::Reconnect::agent_backoff);
  clients.reset_counters();
  auto t_kill = Clock::now();
  relay->kill(SIGKILL);
  relay->wait_exit(30s);
  row.reaped_s = std::chrono::duration<double>(Clock::now() - t_kill).count();
  auto p = test::Process::spawn(argv, log);
  if (!p) {
    std::fprintf(stderr, "%s\n", p.error().message.c_str());
    std::exit(1);
  }
  relay = std::move(*p);
  bool listening = false;
  size_t n = clients.size();
  bool five = false;
  clients.run_until([&] { return listening && clients.streaming() == n; }, 60s, [&] {
    if (!five && Clock::now() - t_kill >= 5s) {
      five = true;
      row.back_at_5s = clients.streaming();
    }
    if (listening) return;
    if (test::read_file(log).find("listening on") == std::string::npos) return;
    listening = true;
    row.failed_before_listening = clients.counters().failed_attempts;
    row.listening_s = std::chrono::duration<double>(Clock::now() - t_kill).count();
    clients.release();
  });
  row.back = clients.streaming();
  if (!five) row.back_at_5s = row.back;
  if (row.back < n) print_relay_complaints(log);
  if (row.back == n) row.back_s = std::chrono::duration<double>(clients.counters().last_back - t_kill).count();
  row.failed = clients.counters().failed_attempts;
  row.where = where_the_time_went(clients.counters(), t_kill);
  row.refused = clients.counters().refused_answers;
  for (auto& [status, count] : clients.counters().answers) row.answers += " " + status + " x" + std::to_string(count) + ";";
  for (auto& [what, count] : clients.counters().failures) std::fprintf(stderr, "  failed attempts: %s x%zu\n", what.c_str(), count);
  row.online = agents_online(port);
  row.rss_kb = test::proc_status(relay->pid(), "VmRSS:");
  row.threads = test::proc_status(relay->pid(), "Threads:");
  return row;
}

void storms(const IdleOptions& o, const Backend& b, const std::string& dir, const std::vector<std::string>& extra,
            std::unique_ptr<test::Process>& relay, int port, ControlClients& clients) {
  clients.open(o.storm, 256);
  clients.run_until([&] { return clients.streaming() >= o.storm; }, 120s);
  auto argv = relay_argv(dir, "127.0.0.1:" + std::to_string(port), extra);
  CpuHog hog(o.hog, o.hog_nice);
  std::printf("\nreconnect storm, %s: %s streams, relay killed (SIGKILL) and started again on the same port; "
              "CPU hog beside it: %s\n", b.name.c_str(), thousands(clients.streaming()).c_str(), hog.describe().c_str());
  std::printf("| clients reconnect | old relay reaped after | relay listening after | back 5 s after the kill | all back after | "
              "failed attempts (before listening) | non-200 answers | agents_online (/metrics) | relay RSS, threads after | "
              "successful attempt started after the kill; its 200 came after (p50 / p99 / max) |\n");
  std::printf("|---|---|---|---|---|---|---|---|---|---|\n");
  int round = 0;
  for (auto& mode : o.storm_modes) {
    std::this_thread::sleep_for(11s);  // streams count as healthy for the agent's backoff after 10 s
    auto row = storm(relay, argv, port, dir + "/relay-" + std::to_string(++round) + ".log", clients, mode);
    std::string what = mode == "at-once"
                           ? "at once (all connect when the relay listens; refused: retry in 100 ms)"
                           : "agent backoff (agent/backoff.h defaults: the first 5 retries 0.5-1.5 s apart, then growing)";
    char back[96];
    if (row.back_s >= 0) std::snprintf(back, sizeof back, "%.2f s", row.back_s);
    else std::snprintf(back, sizeof back, "only %zu of %zu after 60 s", row.back, clients.size());
    std::printf("| %s | %.2f s | %.2f s | %s | %s | %zu (%zu) | %zu%s | %ld | %.1f MiB, %ld | %s |\n", what.c_str(),
                row.reaped_s, row.listening_s, thousands(row.back_at_5s).c_str(), back, row.failed, row.failed_before_listening, row.refused, row.answers.c_str(), row.online,
                row.rss_kb / 1024.0, row.threads, row.where.c_str());
    std::fflush(stdout);
  }
}

}  // namespace

void idle_streams(const IdleOptions& o, const Backend& b) {
  test::TempDir dir;
  size_t n_max = std::max(o.counts.empty() ? 0 : o.counts.back(), o.storm);
  auto tokens = write_agent_tokens(dir.path() + "/tokens.json", n_max);
  for (auto* n : b.nodes) (void)n->command({"FLUSHALL"});
  // "listening on" is an info line; the relay logs each agent's connect at info too.
  std::vector<std::string> extra = {"--max-connections", std::to_string(o.max_connections), "--log-level", "info"};
  extra.insert(extra.end(), b.relay_args.begin(), b.relay_args.end());
  int port = 0;
  auto relay = start_relay(dir.path(), extra, port);

  std::printf("\nidle agent control streams, %s (relay --max-connections %zu, heartbeat 15 s; CPU over %d quiet s)\n",
              b.name.c_str(), o.max_connections, o.quiet_seconds);
  std::printf("| streams | opened in | relay RSS | per stream | threads | relay CPU | Redis clients | Redis used_memory | "
              "Redis CPU (all nodes) |\n");
  std::printf("|---|---|---|---|---|---|---|---|---|\n");
  Quiet q0 = measure_quiet(relay->pid(), b, o.quiet_seconds);
  print_idle_row("0 (baseline)", "—", q0, q0.rss_kb, 0);

  ControlClients clients(port, tokens, o.source_addrs);
  for (size_t n : o.counts) {
    auto t0 = Clock::now();
    clients.open(n, 256);
    clients.run_until([&] { return clients.streaming() >= n; }, 120s);
    double opened = std::chrono::duration<double>(Clock::now() - t0).count();
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.1f s", opened);
    std::string label = thousands(n);
    if (clients.streaming() < n) label += " (only " + thousands(clients.streaming()) + " open)";
    Quiet q = measure_quiet(relay->pid(), b, o.quiet_seconds);
    print_idle_row(label, buf, q, q0.rss_kb, clients.streaming());
  }
  if (o.storm > 0 && !o.storm_modes.empty()) storms(o, b, dir.path(), extra, relay, port, clients);
  relay->kill(SIGTERM);
  relay->wait_exit(30s);
}

}  // namespace sealrelay::bench
