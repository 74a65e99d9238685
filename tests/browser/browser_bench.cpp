// The page's download throughput beside the CLI's, on the same file, relay
// (Redis store), agent and machine, in the same run (docs/performance.md,
// "Browser page"). Not a ctest test: it takes a minute and prints figures.
//
//   build/tests/browser/browser_bench                  # 256 MiB
//   SEALRELAY_BENCH_MIB=64 build/tests/browser/browser_bench
//   SEALRELAY_WEB_ROOT=/tmp/old/web build/tests/browser/browser_bench   # another copy of the page
//
// Order: CLI, page, CLI, page, CLI (so drift shows). The page streams to disk
// through the File System Access path (page_driver.mjs's shim: a real
// writable stream into the origin-private file system); its time runs from
// the click to "Verified", as the page measures it; the CLI's from process
// start to exit. Every copy is checked against the source (SHA-256).
//
// Beside each time, the CPU every process spent on the download, per GiB
// (from /proc: this process's descendants, classified by command line,
// between the click and "Verified" for the page, around the CLI's run for
// the CLI), and the memory of Chromium's processes (summed PSS) at the click
// and at its peak during the download: on a machine shared with builds the
// CPU cost says more than the time, and the memory shows it stays bounded.
#include <sys/resource.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <iterator>
#include <map>
#include <sstream>
#include <thread>

#include "tests/browser/browser_fixture.h"

namespace sealrelay::test {
namespace {

size_t bench_mib() {
  const char* env = std::getenv("SEALRELAY_BENCH_MIB");
  return env && *env ? std::strtoul(env, nullptr, 10) : 256;
}

// What a process is, from its command line.
std::string kind_of(const std::string& cmdline) {
  auto has = [&](const char* s) { return cmdline.find(s) != std::string::npos; };
  if (has("sealrelay-relay")) return "relay";
  if (has("sealrelay-agent")) return "agent";
  if (has("redis-server")) return "redis";
  if (has("requester/sealrelay")) return "cli";
  if (has("chrom")) {
    if (has("--type=renderer")) return "chromium renderer";
    if (has("--type=")) return "chromium other";
    return "chromium browser";
  }
  return "";  // the driver (node) and anything else
}

struct ProcSample {
  std::string kind;
  double cpu_seconds = 0;
  double pss_mib = 0;   // proportional set size
};

// Every descendant of this process that kind_of() knows.
std::map<pid_t, ProcSample> sample_processes() {
  std::map<pid_t, pid_t> parent;
  for (const auto& entry : fs::directory_iterator("/proc")) {
    std::string name = entry.path().filename();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::string stat = read_file(entry.path().string() + "/stat");
    size_t close = stat.rfind(')');
    if (close == std::string::npos) continue;
    std::istringstream rest(stat.substr(close + 2));
    std::string state;
    pid_t ppid = 0;
    rest >> state >> ppid;
    parent[std::stoi(name)] = ppid;
  }
  static const double tick = static_cast<double>(sysconf(_SC_CLK_TCK));
  std::map<pid_t, ProcSample> out;
  for (auto [pid, ppid] : parent) {
    bool mine = false;
    for (pid_t p = ppid; p > 1 && !mine; p = parent.count(p) ? parent[p] : 0) mine = p == getpid();
    if (!mine) continue;
    std::string cmdline = read_file("/proc/" + std::to_string(pid) + "/cmdline");
    std::string kind = kind_of(cmdline);
    if (kind.empty()) continue;
    std::string stat = read_file("/proc/" + std::to_string(pid) + "/stat");
    size_t close = stat.rfind(')');
    if (close == std::string::npos) continue;
    std::istringstream fields(stat.substr(close + 2));
    std::vector<std::string> f{std::istream_iterator<std::string>(fields), {}};
    if (f.size() < 22) continue;
    // PSS, not RSS: Chromium's processes share much (the binary, shared
    // memory), and PSS splits each shared page among its sharers, so the
    // sum over processes counts every page once.
    double pss_kib = 0;
    std::istringstream smaps(read_file("/proc/" + std::to_string(pid) + "/smaps_rollup"));
    for (std::string line; std::getline(smaps, line);) {
      if (line.starts_with("Pss:")) pss_kib = std::stod(line.substr(4));
    }
    out[pid] = {kind, (std::stod(f[11]) + std::stod(f[12])) / tick, pss_kib / 1024};
  }
  return out;
}

// CPU seconds per kind between two samples, for processes in both.
std::map<std::string, double> cpu_between(const std::map<pid_t, ProcSample>& before,
                                          const std::map<pid_t, ProcSample>& after) {
  std::map<std::string, double> out;
  for (const auto& [pid, a] : after) {
    auto b = before.find(pid);
    if (b != before.end() && b->second.kind == a.kind) out[a.kind] += a.cpu_seconds - b->second.cpu_seconds;
  }
  return out;
}

double children_cpu_seconds() {
  rusage u{};
  getrusage(RUSAGE_CHILDREN, &u);
  return u.ru_utime.tv_sec + u.ru_stime.tv_sec + (u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

// Peak of the summed PSS of Chromium's processes while it runs.
class ChromiumMemory {
 public:
  ChromiumMemory() : thread_([this] { run(); }) {}
  ~ChromiumMemory() { stop(); }
  double stop() {
    done_ = true;
    if (thread_.joinable()) thread_.join();
    return peak_mib_;
  }

 private:
  void run() {
    while (!done_) {
      double sum = 0;
      for (const auto& [pid, s] : sample_processes()) {
        if (s.kind.starts_with("chromium")) sum += s.pss_mib;
      }
      peak_mib_ = std::max(peak_mib_, sum);
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }
  std::atomic<bool> done_{false};
  double peak_mib_ = 0;
  std::thread thread_;
};

std::string format_cpu(const std::map<std::string, double>& cpu, double gib) {
  std::string out;
  double total = 0;
  char buf[96];
  for (const auto& [kind, seconds] : cpu) {
    std::snprintf(buf, sizeof buf, "%s%s %.1f", out.empty() ? "" : ", ", kind.c_str(), seconds / gib);
    out += buf;
    total += seconds;
  }
  std::snprintf(buf, sizeof buf, " (total %.1f)", total / gib);
  return out + buf;
}

TEST_F(BrowserPage, PageAndCliThroughput) {
  const size_t bytes = bench_mib() * kMiB;
  const double gib = static_cast<double>(bytes) / (1024.0 * kMiB);
  std::string file = sys->share("shop-1") + "/bench.bin";
  write_random_file(file, bytes, 64);
  std::string want = sha256_of_file(file);
  fs::create_directories(out_dir());
  std::vector<double> cli_mbs, page_mbs;
  std::vector<std::string> lines;
  int runs = 0;
  auto cli_once = [&] {
    std::string dst = out_dir() + "/cli-" + std::to_string(++runs) + ".bin";
    auto before = sample_processes();
    double children_before = children_cpu_seconds();
    auto start = std::chrono::steady_clock::now();
    auto r = sys->cli({"get", "shop-1:/demo/bench.bin", "-o", dst}, std::chrono::minutes(10));
    double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    auto cpu = cpu_between(before, sample_processes());
    cpu["cli"] = children_cpu_seconds() - children_before;
    ASSERT_EQ(r.exit_code, 0) << r.output;
    ASSERT_EQ(sha256_of_file(dst), want);
    fs::remove(dst);
    cli_mbs.push_back(bytes / seconds / 1e6);
    char head[64];
    std::snprintf(head, sizeof head, "  CLI  %4.0f MB/s; CPU-s per GiB: ", cli_mbs.back());
    lines.push_back(head + format_cpu(cpu, gib));
  };
  auto page_once = [&] {
    fs::remove(sys->dir() + "/result.json");
    for (const char* name : {"downloading", "downloaded"}) fs::remove(sync_dir() + "/" + name);
    auto driver = start_driver("bench");
    ASSERT_TRUE(driver);
    ASSERT_TRUE(wait_signal("downloading")) << driver->log();
    auto before = sample_processes();
    double rss_before = 0;
    for (const auto& [pid, s] : before) rss_before += s.kind.starts_with("chromium") ? s.pss_mib : 0;
    ChromiumMemory memory;
    ASSERT_TRUE(wait_signal("downloaded", std::chrono::minutes(5))) << driver->log();
    auto cpu = cpu_between(before, sample_processes());
    double rss_peak = memory.stop();
    json r = finish_driver(*driver);
    ASSERT_TRUE(r.value("ok", false)) << r.value("error", "") << "\n" << r.value("driver_log", "");
    ASSERT_EQ(r["download"].value("state", ""), "done") << r["download"].dump(2);
    ASSERT_EQ(r["disk"].value("sha256", ""), want);
    double seconds = r["download"].value("elapsedMs", 0.0) / 1000;
    page_mbs.push_back(bytes / seconds / 1e6);
    char head[160];
    std::snprintf(head, sizeof head, "  page %4.0f MB/s; Chromium PSS %.0f MiB at the click, %.0f MiB peak; CPU-s per GiB: ",
                  page_mbs.back(), rss_before, rss_peak);
    lines.push_back(head + format_cpu(cpu, gib));
  };
  for (int i = 0; i < 2; ++i) {
    cli_once();
    if (HasFatalFailure()) return;
    page_once();
    if (HasFatalFailure()) return;
  }
  cli_once();
  if (HasFatalFailure()) return;
  auto list = [](const std::vector<double>& v) {
    std::string out;
    for (double x : v) out += (out.empty() ? "" : " / ") + std::to_string(static_cast<int>(x + 0.5));
    return out;
  };
  auto best = [](const std::vector<double>& v) { return *std::max_element(v.begin(), v.end()); };
  std::printf("\n%zu MiB through relay (Redis) + agent on loopback, MB/s per run:\n", bench_mib());
  std::printf("  page (headless Chromium, to disk): %s\n", list(page_mbs).c_str());
  std::printf("  CLI (sealrelay get):               %s\n", list(cli_mbs).c_str());
  std::printf("  best page / best CLI:              %.2f\n", best(page_mbs) / best(cli_mbs));
  std::printf("Each run in order (the page's CPU from the click to \"Verified\"; the CLI's around its run):\n");
  for (const auto& line : lines) std::printf("%s\n", line.c_str());
}

}  // namespace
}  // namespace sealrelay::test
