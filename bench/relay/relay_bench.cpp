// relay_bench: what the relay costs, measured beside a baseline in the same run.
//
//   1. Opaque-frame throughput agent -> relay -> requester (SSE, base64) with
//      the embedded store and with Redis, beside one plain HTTP hop (the same
//      cpp-httplib upload and download, bytes copied through a pipe, no SSE,
//      no base64, no store). Peak relay RSS and Redis memory during each run.
//   2. Idle agent control streams, for each store a row at 0 (the relay
//      alone: baseline), 1,000, 5,000 and 10,000 streams: relay RSS (and per
//      stream), threads, relay CPU over a quiet interval, Redis clients and
//      used_memory. The relay runs with --max-connections largest + 240.
//   3. A reconnect storm: the relay holding 10,000 streams is killed
//      (SIGKILL) and started again on the same port; the clients reconnect
//      with the agent's own backoff (agent/backoff.h), then all at once; the
//      row says when the relay listened and when the last client streamed.
//   The clients are in-process (control_clients.h), not agent processes.
//
// A program, not a test: it prints figures (docs/performance.md has a run).
//   build/bench/relay/relay_bench [--total-mib 1024] [--frame-kib 256]
//       [--idle 1000,5000,10000] [--idle-seconds 15] [--storm 10000]
//       [--storm-modes agent,at-once] [--skip-throughput] [--skip-redis]
#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <deque>
#include <fstream>
#include <httplib.h>
#include <mutex>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "base/base64.h"
#include "bench/relay/control_clients.h"
#include "proto/sse.h"
#include "proto/upload.h"
#include "tests/support/support.h"

namespace sr = sealrelay;
using nlohmann::json;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

namespace {

std::string random_bytes(size_t n) {
  std::string s(n, '\0');
  RAND_bytes(reinterpret_cast<unsigned char*>(s.data()), static_cast<int>(n));
  return s;
}

// utime + stime of a process in seconds.
double proc_cpu_seconds(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string all((std::istreambuf_iterator<char>(in)), {});
  auto close = all.rfind(')');
  std::istringstream rest(all.substr(close + 2));
  std::string f;
  long utime = 0, stime = 0;
  for (int i = 3; i <= 15 && rest >> f; ++i) {
    if (i == 14) utime = std::stol(f);
    if (i == 15) stime = std::stol(f);
  }
  return static_cast<double>(utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

long redis_info(const sr::test::RedisServer* r, const std::string& section, const std::string& key) {
  if (!r) return -1;
  auto text = r->command({"INFO", section});
  if (!text) return -1;
  auto at = text->find(key + ":");
  return at == std::string::npos ? -1 : std::stol(text->substr(at + key.size() + 1));
}

// Frames are slices of one random pool: generating them costs nothing in the
// measured loop, and they are incompressible.
struct FramePool {
  std::string pool;
  size_t frame;
  FramePool(size_t frame_bytes) : pool(random_bytes(16u << 20)), frame(frame_bytes) {}
  std::string_view at(uint64_t i) const {
    size_t slots = pool.size() / frame;
    return std::string_view(pool).substr((i % slots) * frame, frame);
  }
};

// Posts `count` frames as one chunked upload body of records (+ end).
bool upload(httplib::Client& cli, const std::string& path, const httplib::Headers& h,
            const FramePool& frames, uint64_t count) {
  uint64_t next = 0;
  bool ended = false;
  std::string rec;
  auto res = cli.Post(
      path.c_str(), h,
      [&](size_t, httplib::DataSink& sink) {
        rec.clear();
        if (next < count) {
          sr::upload::append_record(rec, frames.at(next++));
        } else if (!ended) {
          sr::upload::append_end(rec);
          ended = true;
        } else {
          sink.done();
          return true;
        }
        return sink.write(rec.data(), rec.size());
      },
      "application/octet-stream");
  if (!res || res->status != 200) {
    std::fprintf(stderr, "upload failed: %s\n", res ? res->body.c_str() : httplib::to_string(res.error()).c_str());
    return false;
  }
  return true;
}

struct Sampler {
  pid_t pid;
  const sr::test::RedisServer* redis;
  std::atomic<bool> stop{false};
  long peak_rss_kb = 0, peak_redis = 0;
  std::thread t;
  Sampler(pid_t p, const sr::test::RedisServer* r) : pid(p), redis(r) {
    t = std::thread([this] {
      while (!stop) {
        peak_rss_kb = std::max(peak_rss_kb, sr::test::proc_status(pid, "VmRSS:"));
        if (redis) peak_redis = std::max(peak_redis, redis_info(redis, "memory", "used_memory"));
        std::this_thread::sleep_for(50ms);
      }
    });
  }
  void finish() {
    stop = true;
    t.join();
  }
};

struct Figures {
  double seconds = 0;
  uint64_t bytes = 0;
  long peak_rss_kb = -1;
  long peak_redis = -1;
  long base_redis = -1;
  double cpu_seconds = -1;
};

void print_throughput(const char* name, const Figures& f, double baseline_mbs) {
  double mbs = static_cast<double>(f.bytes) / 1e6 / f.seconds;
  std::printf("%-28s %8.1f MB/s  %6.2f s  x%.2f of baseline", name, mbs, f.seconds,
              baseline_mbs > 0 ? mbs / baseline_mbs : 1.0);
  if (f.cpu_seconds >= 0) std::printf("  relay CPU %.1f s", f.cpu_seconds);
  if (f.peak_rss_kb >= 0) std::printf("  relay peak RSS %.1f MB", f.peak_rss_kb / 1024.0);
  if (f.peak_redis >= 0) {
    std::printf("  redis peak %.1f MB (+%.1f MB)", f.peak_redis / 1e6,
                (f.peak_redis - f.base_redis) / 1e6);
  }
  std::printf("\n");
}

// ---- baseline: one plain HTTP hop ------------------------------------------

class Pipe {
 public:
  void push(const char* d, size_t n) {
    std::unique_lock lk(mu_);
    cv_.wait(lk, [&] { return bytes_ < (8u << 20); });
    q_.emplace_back(d, n);
    bytes_ += n;
    cv_.notify_all();
  }
  void close() {
    std::lock_guard lk(mu_);
    closed_ = true;
    cv_.notify_all();
  }
  // "" when closed and drained.
  std::string pop() {
    std::unique_lock lk(mu_);
    cv_.wait(lk, [&] { return !q_.empty() || closed_; });
    if (q_.empty()) return "";
    std::string s = std::move(q_.front());
    q_.pop_front();
    bytes_ -= s.size();
    cv_.notify_all();
    return s;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::string> q_;
  size_t bytes_ = 0;
  bool closed_ = false;
};

Figures baseline_hop(const FramePool& frames, uint64_t count) {
  httplib::Server svr;
  Pipe pipe;
  svr.Post("/up", [&](const httplib::Request&, httplib::Response& res,
                      const httplib::ContentReader& reader) {
    reader([&](const char* d, size_t n) {
      pipe.push(d, n);
      return true;
    });
    pipe.close();
    res.set_content("{}", "application/json");
  });
  svr.Get("/down", [&](const httplib::Request&, httplib::Response& res) {
    res.set_chunked_content_provider("application/octet-stream",
                                     [&](size_t, httplib::DataSink& sink) {
                                       std::string s = pipe.pop();
                                       if (s.empty()) {
                                         sink.done();
                                         return true;
                                       }
                                       return sink.write(s.data(), s.size());
                                     });
  });
  int port = svr.bind_to_any_port("127.0.0.1");
  std::thread server([&] { svr.listen_after_bind(); });
  while (!svr.is_running()) std::this_thread::sleep_for(1ms);
  uint64_t received = 0;
  auto t0 = Clock::now();
  std::thread down([&] {
    httplib::Client cli("127.0.0.1", port);
    cli.set_read_timeout(60);
    cli.Get("/down", [&](const char*, size_t n) {
      received += n;
      return true;
    });
  });
  httplib::Client up("127.0.0.1", port);
  up.set_write_timeout(60);
  upload(up, "/up", {}, frames, count);
  down.join();
  Figures f;
  f.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  f.bytes = received;
  svr.stop();
  server.join();
  return f;
}

// ---- through the relay -------------------------------------------------------

// --relay: another sealrelay-relay binary (e.g. an older build, for a
// before/after table in one sitting); default: this build's.
std::string g_relay_binary;
std::string relay_binary() {
  return g_relay_binary.empty() ? sr::test::binary("relay/sealrelay-relay") : g_relay_binary;
}

std::string token(const std::string& dir, std::vector<std::string> args) {
  std::vector<std::string> argv = {relay_binary(), "--tokens", dir + "/tokens.json", "token"};
  argv.insert(argv.end(), args.begin(), args.end());
  auto r = sr::test::run_command(argv);
  if (!r || r->exit_code != 0) {
    std::fprintf(stderr, "token command failed\n");
    std::exit(1);
  }
  std::string out = r->out;
  while (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

std::unique_ptr<sr::test::Process> start_relay(const std::string& dir, std::vector<std::string> extra,
                                               int& port) {
  std::vector<std::string> argv = {relay_binary(), "--tokens", dir + "/tokens.json", "--listen",
                                   "127.0.0.1:0", "--rate-per-ip", "0", "--rate-per-token", "0"};
  argv.insert(argv.end(), extra.begin(), extra.end());
  auto p = sr::test::Process::spawn(argv, dir + "/relay.log");
  if (!p) {
    std::fprintf(stderr, "%s\n", p.error().message.c_str());
    std::exit(1);
  }
  auto got = (*p)->wait_for_log(R"(listening on 127\.0\.0\.1:(\d+))", 30s);
  if (!got) {
    std::fprintf(stderr, "relay did not start:\n%s\n", (*p)->log().c_str());
    std::exit(1);
  }
  port = std::stoi(*got);
  return std::move(*p);
}

Figures through_relay(const FramePool& frames, uint64_t count, const sr::test::RedisServer* redis) {
  sr::test::TempDir dir;
  std::string at = token(dir.path(), {"add-agent", "bench"});
  std::string rt = token(dir.path(), {"add-requester", "bench", "--agents", "*"});
  std::vector<std::string> extra = {"--max-frame-bytes", std::to_string(frames.frame + 4096),
                                    "--max-transfer-bytes", std::to_string(1ull << 40),
                                    "--log-level", "info"};
  if (redis) extra.insert(extra.end(), {"--redis", redis->url()});
  int port = 0;
  auto relay = start_relay(dir.path(), extra, port);
  if (redis) (void)redis->command({"FLUSHALL"});

  // Agent control stream, held open on a thread.
  httplib::Client control("127.0.0.1", port);
  control.set_read_timeout(120);
  std::thread control_thread([&] {
    control.Get("/v1/agent/control",
                {{"Authorization", "Bearer " + at},
                 {"X-Sealrelay-Public-Key", sr::base64::encode(std::string_view(random_bytes(32)))}},
                [](const char*, size_t) { return true; });
  });
  httplib::Client api("127.0.0.1", port);
  httplib::Headers req_h = {{"Authorization", "Bearer " + rt}};
  httplib::Headers agent_h = {{"Authorization", "Bearer " + at}};
  std::string tid;
  sr::test::wait_until(
      [&] {
        auto r = api.Post("/v1/transfers", req_h,
                          json{{"agent", "bench"}, {"msg1", "bWVzc2FnZSAx"}}.dump(), "application/json");
        if (r && r->status == 201) tid = json::parse(r->body)["transfer_id"];
        return !tid.empty();
      },
      10s);
  api.Post(("/v1/agent/transfers/" + tid + "/answer").c_str(), agent_h,
           json{{"msg2", "bWVzc2FnZSAy"}}.dump(), "application/json");

  Figures f;
  f.base_redis = redis_info(redis, "memory", "used_memory");
  Sampler sampler(relay->pid(), redis);
  double cpu0 = proc_cpu_seconds(relay->pid());
  std::atomic<bool> answered{false};
  std::atomic<bool> ended{false};
  uint64_t received = 0;
  Clock::time_point t_end;
  std::thread requester([&] {
    httplib::Client cli("127.0.0.1", port);
    cli.set_read_timeout(120);
    sr::sse::Parser parser;
    std::vector<uint8_t> bytes;
    cli.Get(("/v1/transfers/" + tid + "/events").c_str(), req_h, [&](const char* d, size_t n) {
      (void)parser.feed(std::string_view(d, n), [&](sr::sse::Event&& e) {
        if (e.name == "answer") answered = true;
        if (e.name == "frame" && sr::base64::decode_into(e.data, bytes)) received += bytes.size();
        if (e.name == "end" || e.name == "error") {
          t_end = Clock::now();
          ended = true;
        }
      });
      return !ended;
    });
  });
  sr::test::wait_until([&] { return answered.load(); }, 10s);
  auto t0 = Clock::now();
  httplib::Client up("127.0.0.1", port);
  up.set_write_timeout(120);
  up.set_read_timeout(120);
  httplib::Headers up_h = agent_h;
  up_h.emplace("X-Sealrelay-First-Frame", "0");
  upload(up, "/v1/agent/transfers/" + tid + "/frames", up_h, frames, count);
  requester.join();
  sampler.finish();
  f.seconds = std::chrono::duration<double>(t_end - t0).count();
  f.bytes = received;
  f.cpu_seconds = proc_cpu_seconds(relay->pid()) - cpu0;
  f.peak_rss_kb = sampler.peak_rss_kb;
  f.peak_redis = redis ? sampler.peak_redis : -1;
  control.stop();
  relay->kill(SIGTERM);
  relay->wait_exit(10s);
  control_thread.join();
  return f;
}

// ---- idle agent streams and the reconnect storm ---------------------------------

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
    std::string b = random_bytes(40);
    std::string id = hex(reinterpret_cast<const unsigned char*>(b.data()), 8);
    std::string secret = hex(reinterpret_cast<const unsigned char*>(b.data() + 8), 32);
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

std::string thousands(size_t n) {
  std::string s = std::to_string(n);
  for (int at = static_cast<int>(s.size()) - 3; at > 0; at -= 3) s.insert(static_cast<size_t>(at), ",");
  return s;
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

struct IdleOptions {
  std::vector<size_t> counts;       // rows of the table, ascending
  int quiet_seconds = 15;           // CPU is measured over this
  size_t storm = 0;                 // clients in the reconnect storm (0: none)
  std::vector<std::string> storm_modes;  // "agent", "at-once"
  size_t max_connections = 0;       // relay --max-connections
  int source_addrs = 16;            // 127.0.0.1..N as client source addresses
};

// Relay RSS, threads, CPU over a quiet interval, Redis clients and memory.
struct Quiet {
  long rss_kb = -1, threads = -1, redis_clients = -1, redis_mem = -1;
  double cpu_pct = -1;
};

Quiet measure_quiet(pid_t pid, const sr::test::RedisServer* redis, int seconds) {
  std::this_thread::sleep_for(2s);  // let connection set-up work finish first
  Quiet q;
  double cpu0 = proc_cpu_seconds(pid);
  std::this_thread::sleep_for(std::chrono::seconds(seconds));
  q.cpu_pct = 100.0 * (proc_cpu_seconds(pid) - cpu0) / seconds;
  q.rss_kb = sr::test::proc_status(pid, "VmRSS:");
  q.threads = sr::test::proc_status(pid, "Threads:");
  if (redis) {
    // INFO's own connection is one of the clients: not the relay's.
    q.redis_clients = redis_info(redis, "clients", "connected_clients") - 1;
    q.redis_mem = redis_info(redis, "memory", "used_memory");
  }
  return q;
}

void print_idle_row(const std::string& streams, const std::string& opened, const Quiet& q, long rss0_kb,
                    size_t n) {
  std::string per = "—";
  if (n > 0) per = std::to_string(static_cast<long>(std::lround(static_cast<double>(q.rss_kb - rss0_kb) /
                                                                static_cast<double>(n)))) + " KiB";
  std::printf("| %s | %s | %.1f MiB | %s | %ld | %.2f %% | %s | %s |\n", streams.c_str(), opened.c_str(),
              q.rss_kb / 1024.0, per.c_str(), q.threads, q.cpu_pct,
              q.redis_clients >= 0 ? std::to_string(q.redis_clients).c_str() : "—",
              q.redis_mem >= 0 ? (std::to_string(q.redis_mem / 1024) + " KiB").c_str() : "—");
  std::fflush(stdout);
}

struct StormRow {
  std::string mode;
  double listening_s = -1, back_s = -1;
  size_t back = 0, failed = 0, refused = 0;
  std::string answers;  // the non-200 status lines, counted
  long online = -1, rss_kb = -1, threads = -1;
};

// kill -9 the relay, start it again on the same port, and wait until every
// client streams again. `relay` is replaced by the new process.
StormRow storm(std::unique_ptr<sr::test::Process>& relay, const std::vector<std::string>& argv,
               int port, const std::string& log, sr::bench::ControlClients& clients, const std::string& mode) {
  using CC = sr::bench::ControlClients;
  StormRow row;
  row.mode = mode;
  clients.set_reconnect(mode == "at-once" ? CC::Reconnect::held : CC::Reconnect::agent_backoff);
  clients.reset_counters();
  auto t_kill = Clock::now();
  relay->kill(SIGKILL);
  relay->wait_exit(10s);
  auto p = sr::test::Process::spawn(argv, log);
  if (!p) {
    std::fprintf(stderr, "%s\n", p.error().message.c_str());
    std::exit(1);
  }
  relay = std::move(*p);
  bool listening = false;
  size_t n = clients.size();
  clients.run_until([&] { return listening && clients.streaming() == n; }, 60s, [&] {
    if (listening) return;
    if (sr::test::read_file(log).find("listening on") == std::string::npos) return;
    listening = true;
    row.listening_s = std::chrono::duration<double>(Clock::now() - t_kill).count();
    clients.release();
  });
  row.back = clients.streaming();
  if (row.back < n) {  // say why, from the relay's own log
    std::istringstream lines(sr::test::read_file(log));
    std::string line;
    int shown = 0;
    while (std::getline(lines, line) && shown < 5) {
      if (line.find(" warn") == std::string::npos && line.find(" error") == std::string::npos) continue;
      std::fprintf(stderr, "relay log: %s\n", line.c_str());
      ++shown;
    }
  }
  if (row.back == n) row.back_s = std::chrono::duration<double>(clients.counters().last_back - t_kill).count();
  row.failed = clients.counters().failed_attempts;
  row.refused = clients.counters().refused_answers;
  for (auto& [status, count] : clients.counters().answers) row.answers += " " + status + " x" + std::to_string(count) + ";";
  row.online = agents_online(port);
  row.rss_kb = sr::test::proc_status(relay->pid(), "VmRSS:");
  row.threads = sr::test::proc_status(relay->pid(), "Threads:");
  return row;
}

void idle_streams(const IdleOptions& o, const sr::test::RedisServer* redis) {
  sr::test::TempDir dir;
  size_t n_max = std::max(o.counts.empty() ? 0 : o.counts.back(), o.storm);
  auto tokens = write_agent_tokens(dir.path() + "/tokens.json", n_max);
  if (redis) (void)redis->command({"FLUSHALL"});
  // "listening on" is an info line; the relay logs each agent's connect at info too.
  std::vector<std::string> extra = {"--max-connections", std::to_string(o.max_connections),
                                    "--log-level", "info"};
  if (redis) extra.insert(extra.end(), {"--redis", redis->url()});
  int port = 0;
  auto relay = start_relay(dir.path(), extra, port);
  const char* store = redis ? "Redis store" : "memory store";

  std::printf("\nidle agent control streams, %s (relay --max-connections %zu, heartbeat 15 s; CPU over %d quiet s)\n",
              store, o.max_connections, o.quiet_seconds);
  std::printf("| streams | opened in | relay RSS | per stream | threads | relay CPU | Redis clients | Redis used_memory |\n");
  std::printf("|---|---|---|---|---|---|---|---|\n");
  Quiet q0 = measure_quiet(relay->pid(), redis, o.quiet_seconds);
  print_idle_row("0 (baseline)", "—", q0, q0.rss_kb, 0);

  sr::bench::ControlClients clients(port, tokens, o.source_addrs);
  for (size_t n : o.counts) {
    auto t0 = Clock::now();
    clients.open(n, 256);
    clients.run_until([&] { return clients.streaming() >= n; }, 120s);
    double opened = std::chrono::duration<double>(Clock::now() - t0).count();
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.1f s", opened);
    std::string label = thousands(n);
    if (clients.streaming() < n) label += " (only " + thousands(clients.streaming()) + " open)";
    Quiet q = measure_quiet(relay->pid(), redis, o.quiet_seconds);
    print_idle_row(label, buf, q, q0.rss_kb, clients.streaming());
  }
  if (o.storm == 0 || o.storm_modes.empty()) return;

  clients.open(o.storm, 256);
  clients.run_until([&] { return clients.streaming() >= o.storm; }, 120s);
  std::vector<std::string> argv = {relay_binary(), "--tokens", dir.path() + "/tokens.json", "--listen",
                                   "127.0.0.1:" + std::to_string(port), "--rate-per-ip", "0",
                                   "--rate-per-token", "0"};
  argv.insert(argv.end(), extra.begin(), extra.end());
  std::printf("\nreconnect storm, %s: %s streams, relay killed (SIGKILL) and started again on the same port\n",
              store, thousands(clients.streaming()).c_str());
  std::printf("| clients reconnect | relay listening after | all back after | failed attempts | non-200 answers | "
              "agents_online (/metrics) | relay RSS, threads after |\n");
  std::printf("|---|---|---|---|---|---|---|\n");
  int round = 0;
  for (auto& mode : o.storm_modes) {
    std::this_thread::sleep_for(11s);  // streams count as healthy for the agent's backoff after 10 s
    auto row = storm(relay, argv, port, dir.path() + "/relay-" + std::to_string(++round) + ".log", clients, mode);
    std::string what = mode == "at-once"
                           ? "at once (all connect when the relay listens; refused: retry in 100 ms)"
                           : "agent backoff (agent/backoff.h defaults: first retry 0.5-1.5 s)";
    char back[96];
    if (row.back_s >= 0) std::snprintf(back, sizeof back, "%.2f s", row.back_s);
    else std::snprintf(back, sizeof back, "only %zu of %zu after 60 s", row.back, clients.size());
    std::printf("| %s | %.2f s | %s | %zu | %zu%s | %ld | %.1f MiB, %ld |\n", what.c_str(), row.listening_s, back,
                row.failed, row.refused, row.answers.c_str(), row.online, row.rss_kb / 1024.0, row.threads);
    std::fflush(stdout);
  }
  relay->kill(SIGTERM);
  relay->wait_exit(30s);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"relay_bench: relay throughput beside a plain HTTP hop; idle agent streams; reconnect storm"};
  uint64_t total_mib = 1024, frame_kib = 256;
  std::vector<size_t> idle = {1000, 5000, 10000};
  IdleOptions io;
  io.storm_modes = {"agent", "at-once"};
  long storm = -1;
  bool skip_redis = false, skip_memory = false, skip_throughput = false;
  app.add_option("--total-mib", total_mib, "Opaque bytes per throughput run (MiB)")->capture_default_str();
  app.add_option("--frame-kib", frame_kib, "Frame size (KiB)")->capture_default_str();
  app.add_option("--idle", idle, "Idle agent control streams, one table row each (0: skip)")
      ->delimiter(',')->capture_default_str();
  app.add_option("--idle-seconds", io.quiet_seconds, "Quiet interval over which relay CPU is measured")
      ->capture_default_str();
  app.add_option("--storm", storm, "Streams in the reconnect storm (default: the largest --idle; 0: skip)");
  app.add_option("--storm-modes", io.storm_modes, "How clients reconnect: agent (the agent's backoff), at-once")
      ->delimiter(',')->check(CLI::IsMember({"agent", "at-once"}))->capture_default_str();
  app.add_option("--source-addrs", io.source_addrs, "Client source addresses 127.0.0.1..N")->capture_default_str();
  app.add_option("--relay", g_relay_binary, "sealrelay-relay binary to measure (default: this build's)");
  app.add_flag("--skip-redis", skip_redis, "Only the embedded store");
  app.add_flag("--skip-memory", skip_memory, "Idle streams and storm: only the Redis store");
  app.add_flag("--skip-throughput", skip_throughput, "Only the idle streams and the storm");
  CLI11_PARSE(app, argc, argv);
  ::signal(SIGPIPE, SIG_IGN);
  rlimit lim{};
  getrlimit(RLIMIT_NOFILE, &lim);
  lim.rlim_cur = lim.rlim_max;  // inherited by the relay it starts
  setrlimit(RLIMIT_NOFILE, &lim);

  std::erase(idle, 0);
  std::sort(idle.begin(), idle.end());
  io.counts = idle;
  io.storm = storm >= 0 ? static_cast<size_t>(storm) : (idle.empty() ? 0 : idle.back());
  io.max_connections = std::max(idle.empty() ? 0 : idle.back(), io.storm) + 240;
  // Per process: the clients here, and the relay (it inherits the limit).
  size_t need_fds = std::max(idle.empty() ? 0 : idle.back(), io.storm) + 512;
  if (lim.rlim_cur < need_fds) {
    std::fprintf(stderr, "RLIMIT_NOFILE %llu is below the %zu descriptors the clients and relay need\n",
                 static_cast<unsigned long long>(lim.rlim_cur), need_fds);
    return 1;
  }

  FramePool frames(frame_kib << 10);
  uint64_t count = (total_mib << 20) / frames.frame;
  std::printf("relay_bench: relay %s\n", relay_binary().c_str());
  std::printf("relay_bench: %llu MiB in %llu frames of %llu KiB; %u cores; RLIMIT_NOFILE %llu\n",
              static_cast<unsigned long long>(total_mib), static_cast<unsigned long long>(count),
              static_cast<unsigned long long>(frame_kib), std::thread::hardware_concurrency(),
              static_cast<unsigned long long>(lim.rlim_cur));

  sr::test::TempDir redis_dir;
  std::unique_ptr<sr::test::RedisServer> redis;
  if (!skip_redis) {
    auto r = sr::test::RedisServer::start(redis_dir.path());
    if (r) redis = std::move(*r);
    else std::printf("(no redis: %s)\n", r.error().message.c_str());
  }

  if (!skip_throughput) {
    Figures base = baseline_hop(frames, count);
    double base_mbs = static_cast<double>(base.bytes) / 1e6 / base.seconds;
    print_throughput("plain HTTP hop (baseline)", base, 0);
    print_throughput("relay, memory store", through_relay(frames, count, nullptr), base_mbs);
    if (redis) print_throughput("relay, redis store", through_relay(frames, count, redis.get()), base_mbs);
  }
  if (!io.counts.empty() || io.storm > 0) {
    std::printf("\nIdle agents are in-process clients (one epoll thread, raw sockets from %d source addresses "
                "127.0.0.x), not sealrelay-agent processes: 10,000 agent processes are too many for this "
                "machine. Each sends the agent's request and counts once the relay answers 200.\n",
                io.source_addrs);
    if (!skip_memory) idle_streams(io, nullptr);
    if (redis) idle_streams(io, redis.get());
  }
  return 0;
}
