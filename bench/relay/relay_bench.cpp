// relay_bench: what the relay costs, measured beside a baseline in the same run.
//
//   1. Opaque-frame throughput agent -> relay -> requester (SSE, base64) with
//      the embedded store and with Redis, beside one plain HTTP hop (the same
//      cpp-httplib upload and download, bytes copied through a pipe, no SSE,
//      no base64, no store). Peak relay RSS and Redis memory during each run.
//   2. N idle agent control streams: relay RSS and CPU, Redis clients.
//
// A program, not a test: it prints figures (docs/performance.md has a run).
//   build/bench/relay/relay_bench [--total-mib 1024] [--frame-kib 256] [--idle 10000]
#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <chrono>
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

#include "proto/base64.h"
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

long proc_status_kb(pid_t pid, const char* field) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(field, 0) == 0) return std::stol(line.substr(std::strlen(field)));
  }
  return -1;
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
        peak_rss_kb = std::max(peak_rss_kb, proc_status_kb(pid, "VmRSS:"));
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

std::string relay_binary() { return sr::test::binary("relay/sealrelay-relay"); }

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

// ---- idle agent streams --------------------------------------------------------

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
std::vector<std::string> write_agent_tokens(const std::string& path, int n) {
  std::vector<std::string> tokens;
  json list = json::array();
  for (int i = 0; i < n; ++i) {
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

int open_control(int port, const std::string& tok) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ::close(fd);
    return -1;
  }
  static const std::string key = sr::base64::encode(std::string_view(random_bytes(32)));
  std::string req = "GET /v1/agent/control HTTP/1.1\r\nHost: relay\r\nAuthorization: Bearer " + tok +
                    "\r\nX-Sealrelay-Public-Key: " + key + "\r\n\r\n";
  if (::send(fd, req.data(), req.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(req.size())) {
    ::close(fd);
    return -1;
  }
  std::string head;
  char buf[512];
  while (head.find("\r\n\r\n") == std::string::npos) {
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) {
      ::close(fd);
      return -1;
    }
    head.append(buf, static_cast<size_t>(n));
  }
  if (head.rfind("HTTP/1.1 200", 0) != 0) {
    std::fprintf(stderr, "control stream refused: %s\n", head.substr(0, head.find('\r')).c_str());
    ::close(fd);
    return -1;
  }
  return fd;
}

void idle_streams(int n, int seconds, const sr::test::RedisServer* redis) {
  sr::test::TempDir dir;
  auto tokens = write_agent_tokens(dir.path() + "/tokens.json", n);
  std::vector<std::string> extra = {"--max-connections", std::to_string(n + 64), "--log-level", "warn"};
  // "listening on" is an info line; keep info but silence per-agent lines by level.
  extra[3] = "info";
  if (redis) extra.insert(extra.end(), {"--redis", redis->url()});
  if (redis) (void)redis->command({"FLUSHALL"});
  int port = 0;
  auto relay = start_relay(dir.path(), extra, port);
  long rss0 = proc_status_kb(relay->pid(), "VmRSS:");
  auto t0 = Clock::now();
  std::vector<int> fds;
  fds.reserve(n);
  for (int i = 0; i < n; ++i) {
    int fd = open_control(port, tokens[static_cast<size_t>(i)]);
    if (fd < 0) break;
    fds.push_back(fd);
  }
  double connect_s = std::chrono::duration<double>(Clock::now() - t0).count();
  std::this_thread::sleep_for(2s);  // let the first catch-up reads settle before measuring
  double cpu0 = proc_cpu_seconds(relay->pid());
  std::this_thread::sleep_for(std::chrono::seconds(seconds));
  double cpu = proc_cpu_seconds(relay->pid()) - cpu0;
  long rss = proc_status_kb(relay->pid(), "VmRSS:");
  long threads = proc_status_kb(relay->pid(), "Threads:");
  long clients = redis_info(redis, "clients", "connected_clients");
  std::printf("%-28s %6zu streams (of %d) opened in %.1f s; relay RSS %.1f MB (idle %.1f MB, %.1f KB/stream), "
              "%ld threads, CPU %.1f%% of one core over %d s",
              redis ? "idle agents, redis store" : "idle agents, memory store", fds.size(), n,
              connect_s, rss / 1024.0, rss0 / 1024.0,
              fds.empty() ? 0.0 : static_cast<double>(rss - rss0) / static_cast<double>(fds.size()),
              threads, 100.0 * cpu / seconds, seconds);
  if (redis) std::printf("; redis clients %ld", clients);
  std::printf("\n");
  for (int fd : fds) ::close(fd);
  relay->kill(SIGTERM);
  relay->wait_exit(30s);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"relay_bench: relay throughput beside a plain HTTP hop; idle agent streams"};
  uint64_t total_mib = 1024, frame_kib = 256;
  int idle = 10000, idle_seconds = 10;
  bool skip_redis = false;
  app.add_option("--total-mib", total_mib, "Opaque bytes per throughput run (MiB)")->capture_default_str();
  app.add_option("--frame-kib", frame_kib, "Frame size (KiB)")->capture_default_str();
  app.add_option("--idle", idle, "Idle agent control streams to hold (0: skip)")->capture_default_str();
  app.add_option("--idle-seconds", idle_seconds, "How long to measure them")->capture_default_str();
  app.add_flag("--skip-redis", skip_redis, "Only the embedded store");
  CLI11_PARSE(app, argc, argv);
  ::signal(SIGPIPE, SIG_IGN);
  rlimit lim{};
  getrlimit(RLIMIT_NOFILE, &lim);
  lim.rlim_cur = lim.rlim_max;
  setrlimit(RLIMIT_NOFILE, &lim);

  FramePool frames(frame_kib << 10);
  uint64_t count = (total_mib << 20) / frames.frame;
  std::printf("relay_bench: %llu MiB in %llu frames of %llu KiB; %u cores\n",
              static_cast<unsigned long long>(total_mib), static_cast<unsigned long long>(count),
              static_cast<unsigned long long>(frame_kib), std::thread::hardware_concurrency());

  sr::test::TempDir redis_dir;
  std::unique_ptr<sr::test::RedisServer> redis;
  if (!skip_redis) {
    auto r = sr::test::RedisServer::start(redis_dir.path());
    if (r) redis = std::move(*r);
    else std::printf("(no redis: %s)\n", r.error().message.c_str());
  }

  Figures base = baseline_hop(frames, count);
  double base_mbs = static_cast<double>(base.bytes) / 1e6 / base.seconds;
  print_throughput("plain HTTP hop (baseline)", base, 0);
  print_throughput("relay, memory store", through_relay(frames, count, nullptr), base_mbs);
  if (redis) print_throughput("relay, redis store", through_relay(frames, count, redis.get()), base_mbs);
  if (idle > 0) {
    idle_streams(idle, idle_seconds, nullptr);
    if (redis) idle_streams(idle, idle_seconds, redis.get());
  }
  return 0;
}
