// relay_bench: what the relay costs, measured beside a baseline in the same run.
//
//   1. Opaque-frame throughput agent -> relay -> requester (SSE, base64) with
//      the embedded store, with one Redis and with a Redis Cluster, beside
//      one plain HTTP hop (the same cpp-httplib upload and download, bytes
//      copied through a pipe, no SSE, no base64, no store). Peak relay RSS
//      and Redis memory during each run.
//   2. Idle agent control streams and a reconnect storm, per store
//      (idle_bench.h).
//   The clients are in-process (control_clients.h), not agent processes.
//
// A program, not a test: it prints figures (docs/performance.md has a run).
//   build/bench/relay/relay_bench [--total-mib 1024] [--frame-kib 256]
//       [--idle 1000,5000,10000] [--idle-seconds 30] [--storm 10000]
//       [--storm-modes agent,at-once] [--hog 2 [--hog-nice 0]]
//       [--skip-throughput] [--skip-memory] [--skip-redis] [--skip-cluster]
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
#include "bench/relay/bench_util.h"
#include "bench/relay/idle_bench.h"
#include "proto/sse.h"
#include "proto/upload.h"
#include "tests/support/redis_cluster.h"
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

// used_memory summed over the backend's Redis nodes; -1 for the embedded store.
long redis_memory(const sr::bench::Backend& b) {
  if (b.nodes.empty()) return -1;
  long sum = 0;
  for (auto* n : b.nodes) sum += sr::bench::redis_info(*n, "memory", "used_memory");
  return sum;
}

struct Sampler {
  pid_t pid;
  const sr::bench::Backend& backend;
  std::atomic<bool> stop{false};
  long peak_rss_kb = 0, peak_redis = -1;
  std::thread t;
  Sampler(pid_t p, const sr::bench::Backend& b) : pid(p), backend(b) {
    t = std::thread([this] {
      while (!stop) {
        peak_rss_kb = std::max(peak_rss_kb, sr::test::proc_status(pid, "VmRSS:"));
        peak_redis = std::max(peak_redis, redis_memory(backend));
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

Figures through_relay(const FramePool& frames, uint64_t count, const sr::bench::Backend& backend) {
  sr::test::TempDir dir;
  std::string at = sr::bench::token(dir.path(), {"add-agent", "bench"});
  std::string rt = sr::bench::token(dir.path(), {"add-requester", "bench", "--agents", "*"});
  std::vector<std::string> extra = {"--max-frame-bytes", std::to_string(frames.frame + 4096),
                                    "--max-transfer-bytes", std::to_string(1ull << 40),
                                    "--log-level", "info"};
  extra.insert(extra.end(), backend.relay_args.begin(), backend.relay_args.end());
  int port = 0;
  auto relay = sr::bench::start_relay(dir.path(), extra, port);
  for (auto* n : backend.nodes) (void)n->command({"FLUSHALL"});

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
  f.base_redis = redis_memory(backend);
  Sampler sampler(relay->pid(), backend);
  double cpu0 = sr::bench::proc_cpu_seconds(relay->pid());
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
  f.cpu_seconds = sr::bench::proc_cpu_seconds(relay->pid()) - cpu0;
  f.peak_rss_kb = sampler.peak_rss_kb;
  f.peak_redis = sampler.peak_redis;
  control.stop();
  relay->kill(SIGTERM);
  relay->wait_exit(10s);
  control_thread.join();
  return f;
}

// The stores the relay is measured on, in table order; the Redis servers
// they need are started here and live as long as the object.
struct Backends {
  sr::test::TempDir dir;
  std::unique_ptr<sr::test::RedisServer> redis;
  std::unique_ptr<sr::test::RedisCluster> cluster;
  std::vector<sr::bench::Backend> list;

  Backends(bool memory, bool one_redis, int cluster_masters) {
    if (memory) list.push_back({"memory store", {}, {}});
    if (one_redis) {
      auto r = sr::test::RedisServer::start(dir.path());
      if (!r) std::printf("(no redis: %s)\n", r.error().message.c_str());
      else redis = std::move(*r);
      if (redis) list.push_back({"Redis store (one redis-server, unix socket)", {"--redis", redis->url()}, {redis.get()}});
    }
    if (cluster_masters > 0) {
      auto c = sr::test::RedisCluster::start(dir.path() + "/cluster", {.masters = cluster_masters, .replicas = 0,
                                                 // Redis's default: the harness's 2 s for quick failovers
                                                 // let a loaded machine (a storm, a hog) mark masters failed.
                                                 .node_timeout = std::chrono::milliseconds(15000)});
      if (!c) std::printf("(no redis cluster: %s)\n", c.error().message.c_str());
      else cluster = std::move(*c);
      if (cluster) {
        sr::bench::Backend b{"Redis Cluster store (" + std::to_string(cluster_masters) + " masters, TCP loopback)",
                             {"--redis-cluster", cluster->seeds()}, {}};
        for (size_t i = 0; i < cluster->size(); ++i) b.nodes.push_back(&cluster->node(i));
        list.push_back(std::move(b));
      }
    }
  }
};

void run_throughput(uint64_t total_mib, uint64_t frame_kib, const Backends& backends) {
  FramePool frames(frame_kib << 10);
  uint64_t count = (total_mib << 20) / frames.frame;
  std::printf("relay_bench: %llu MiB in %llu frames of %llu KiB\n", static_cast<unsigned long long>(total_mib),
              static_cast<unsigned long long>(count), static_cast<unsigned long long>(frame_kib));
  Figures base = baseline_hop(frames, count);
  double base_mbs = static_cast<double>(base.bytes) / 1e6 / base.seconds;
  print_throughput("plain HTTP hop (baseline)", base, 0);
  for (auto& b : backends.list) {
    print_throughput(("relay, " + b.name).c_str(), through_relay(frames, count, b), base_mbs);
  }
}

// Raises RLIMIT_NOFILE to its hard limit (the relay inherits it); false when
// that is below what `streams` clients and the relay need.
bool enough_descriptors(size_t streams) {
  rlimit lim{};
  getrlimit(RLIMIT_NOFILE, &lim);
  lim.rlim_cur = lim.rlim_max;
  setrlimit(RLIMIT_NOFILE, &lim);
  size_t need = streams + 512;
  if (lim.rlim_cur >= need) return true;
  std::fprintf(stderr, "RLIMIT_NOFILE %llu is below the %zu descriptors the clients and relay need\n",
               static_cast<unsigned long long>(lim.rlim_cur), need);
  return false;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"relay_bench: relay throughput beside a plain HTTP hop; idle agent streams; reconnect storm"};
  uint64_t total_mib = 1024, frame_kib = 256;
  std::vector<size_t> idle = {1000, 5000, 10000};
  sr::bench::IdleOptions io;
  io.storm_modes = {"agent", "at-once"};
  long storm = -1;
  int cluster_masters = 3;
  bool skip_redis = false, skip_memory = false, skip_cluster = false, skip_throughput = false;
  app.add_option("--total-mib", total_mib, "Opaque bytes per throughput run (MiB)")->capture_default_str();
  app.add_option("--frame-kib", frame_kib, "Frame size (KiB)")->capture_default_str();
  app.add_option("--idle", idle, "Idle agent control streams, one table row each (0: skip)")
      ->delimiter(',')->capture_default_str();
  app.add_option("--idle-seconds", io.quiet_seconds,
                 "Quiet interval over which relay CPU is measured (a multiple of the 15 s heartbeat)")
      ->capture_default_str();
  app.add_option("--storm", storm, "Streams in the reconnect storm (default: the largest --idle; 0: skip)");
  app.add_option("--storm-modes", io.storm_modes, "How clients reconnect: agent (the agent's backoff), at-once")
      ->delimiter(',')->check(CLI::IsMember({"agent", "at-once"}))->capture_default_str();
  app.add_option("--hog", io.hog, "Busy loops (sh) running beside the reconnect storm")->capture_default_str();
  app.add_option("--hog-nice", io.hog_nice, "Their niceness above relay_bench's own")->capture_default_str();
  app.add_option("--source-addrs", io.source_addrs, "Client source addresses 127.0.0.1..N")->capture_default_str();
  app.add_option("--cluster-masters", cluster_masters, "Masters of the Redis Cluster")->capture_default_str();
  app.add_option("--relay", sr::bench::relay_binary_override(),
                 "sealrelay-relay binary to measure (default: this build's)");
  app.add_flag("--skip-memory", skip_memory, "Leave out the embedded store");
  app.add_flag("--skip-redis", skip_redis, "Leave out the store on one Redis");
  app.add_flag("--skip-cluster", skip_cluster, "Leave out the store on a Redis Cluster");
  app.add_flag("--skip-throughput", skip_throughput, "Only the idle streams and the storm");
  CLI11_PARSE(app, argc, argv);
  ::signal(SIGPIPE, SIG_IGN);

  std::erase(idle, 0);
  std::sort(idle.begin(), idle.end());
  io.counts = idle;
  io.storm = storm >= 0 ? static_cast<size_t>(storm) : (idle.empty() ? 0 : idle.back());
  size_t streams = std::max(idle.empty() ? 0 : idle.back(), io.storm);
  io.max_connections = streams + 240;
  if (!enough_descriptors(streams)) return 1;
  std::printf("relay_bench: relay %s; %u cores\n", sr::bench::relay_binary().c_str(),
              std::thread::hardware_concurrency());
  Backends backends(!skip_memory, !skip_redis, skip_cluster ? 0 : cluster_masters);
  if (!skip_throughput) run_throughput(total_mib, frame_kib, backends);
  if (io.counts.empty() && io.storm == 0) return 0;
  std::printf("\nIdle agents are in-process clients (one epoll thread, raw sockets from %d source addresses "
              "127.0.0.x), not sealrelay-agent processes: 10,000 agent processes are too many for this "
              "machine. Each sends the agent's request and counts once the relay answers 200.\n",
              io.source_addrs);
  for (auto& b : backends.list) sr::bench::idle_streams(io, b);
  return 0;
}
