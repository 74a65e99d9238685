// e2e_bench: what a user of sealrelay gets end to end, with the real
// programs on loopback — a private redis-server, sealrelay-relay (embedded
// store and Redis store), sealrelay-agent and the sealrelay CLI — each figure
// beside a baseline measured in the same run (issue 8; docs/performance.md,
// "End to end"). A program, not a test: it prints markdown tables and a
// summary against issue 8's targets, and has no thresholds.
//
//   build/bench/e2e/e2e_bench                      # everything (5-10 min on 2 busy cores)
//   build/bench/e2e/e2e_bench --sizes-mib 10,100 --parts throughput,baselines
//   build/bench/e2e/e2e_bench --help
#include <linux/magic.h>
#include <sodium.h>
#include <sys/resource.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cmath>
#include <cstdarg>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <thread>

#include "bench/e2e/sections.h"
#include "crypto/protocol.h"
#include "proto/event_stream.h"
#include "relay/config.h"

#ifndef SEALRELAY_SOURCE_DIR
#error "SEALRELAY_SOURCE_DIR must be defined (bench/e2e/CMakeLists.txt does it)"
#endif

namespace sealrelay::bench {
namespace fs = std::filesystem;

// ---- shared helpers (sections.h) --------------------------------------------

bool Options::has(const std::string& part) const { return std::find(parts.begin(), parts.end(), part) != parts.end(); }

std::string strf(const char* format, ...) {
  va_list ap;
  va_start(ap, format);
  char buf[1024];
  int n = std::vsnprintf(buf, sizeof buf, format, ap);
  va_end(ap);
  if (n < 0) return "";
  if (static_cast<size_t>(n) < sizeof buf) return buf;
  std::string big(static_cast<size_t>(n) + 1, '\0');
  va_start(ap, format);
  std::vsnprintf(big.data(), big.size(), format, ap);
  va_end(ap);
  big.resize(static_cast<size_t>(n));
  return big;
}

void print_table(const std::vector<std::string>& header, const std::vector<std::vector<std::string>>& rows) {
  auto line = [](const std::vector<std::string>& cells, size_t width) {
    std::string s = "|";
    for (size_t i = 0; i < width; ++i) s += " " + (i < cells.size() ? cells[i] : std::string()) + " |";
    std::printf("%s\n", s.c_str());
  };
  line(header, header.size());
  line(std::vector<std::string>(header.size(), "---"), header.size());
  for (const auto& r : rows) line(r, header.size());
  std::fflush(stdout);
}

std::string mib_label(uint64_t bytes) {
  if (bytes >= (1ull << 30) && bytes % (1ull << 30) == 0)
    return strf("%llu GiB", static_cast<unsigned long long>(bytes >> 30));
  if (bytes >= kMiB && bytes % kMiB == 0) return strf("%llu MiB", static_cast<unsigned long long>(bytes >> 20));
  return strf("%llu B", static_cast<unsigned long long>(bytes));
}

std::string mb(long bytes) { return bytes < 0 ? "—" : strf("%.1f MB", static_cast<double>(bytes) / 1e6); }
std::string mb_kb(long kb) { return kb < 0 ? "—" : strf("%.1f MiB", static_cast<double>(kb) / 1024.0); }

Percentiles percentiles(std::vector<double> ms) {
  Percentiles p;
  p.n = ms.size();
  if (ms.empty()) return p;
  std::sort(ms.begin(), ms.end());
  auto rank = [&](double q) {  // nearest rank
    size_t i = static_cast<size_t>(std::ceil(q * static_cast<double>(ms.size())));
    return ms[std::min(ms.size() - 1, i == 0 ? 0 : i - 1)];
  };
  p.p50 = rank(0.50);
  p.p99 = rank(0.99);
  return p;
}

Result<DataFile> make_data_file(const std::string& dir, const std::string& name, uint64_t bytes, uint64_t seed) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  DataFile f{dir, name, bytes, ""};
  if (!test::write_random_file(f.path(), bytes, seed, throw_if_interrupted)) {
    return make_error("io", "writing " + f.path() + " failed (disk full?)");
  }
  f.sha256 = sha256_file(f.path());
  return f;
}

namespace {

// ---- the run's context ------------------------------------------------------

std::string first_match(const std::string& path, const std::string& key) {
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(key, 0) == 0) {
      auto colon = line.find(':');
      std::string v = colon == std::string::npos ? line : line.substr(colon + 1);
      v.erase(0, v.find_first_not_of(" \t"));
      return v;
    }
  }
  return "?";
}

std::string load_average() {
  std::ifstream in("/proc/loadavg");
  std::string a, b, c;
  in >> a >> b >> c;
  return a + " " + b + " " + c;
}

bool is_tmpfs(const std::string& dir) {
  struct statfs s {};
  return ::statfs(dir.c_str(), &s) == 0 && s.f_type == TMPFS_MAGIC;
}

uint64_t free_bytes(const std::string& dir) {
  struct statvfs s {};
  return ::statvfs(dir.c_str(), &s) == 0 ? static_cast<uint64_t>(s.f_bavail) * s.f_frsize : 0;
}

// Where temp dirs go: /dev/shm when it is a roomy tmpfs, so the figures are
// sealrelay's and not this disk's (the CLI fsyncs the file it saves; the
// disk row shows what that costs); else $TMPDIR or /tmp.
std::string default_tmp_dir() {
  if (is_tmpfs("/dev/shm") && ::access("/dev/shm", W_OK) == 0 && free_bytes("/dev/shm") >= (6ull << 30)) {
    return "/dev/shm";
  }
  const char* t = std::getenv("TMPDIR");
  return t && *t ? t : "/tmp";
}

void print_context(const Options& o) {
  utsname u{};
  ::uname(&u);
  char when[64];
  std::time_t now = std::time(nullptr);
  std::strftime(when, sizeof when, "%Y-%m-%d %H:%M UTC", std::gmtime(&now));
  std::string sizes;
  for (auto s : o.sizes_mib) sizes += (sizes.empty() ? "" : ", ") + mib_label(s * kMiB);
  std::string parts;
  for (const auto& p : o.parts) parts += (parts.empty() ? "" : ",") + p;
  std::printf("## e2e_bench: agent → relay → requester, real processes on loopback\n\n");
  std::printf("%s; %u CPUs (%s); %s RAM; Linux %s; build %s; load average at start %s\n", when,
              std::thread::hardware_concurrency(), first_match("/proc/cpuinfo", "model name").c_str(),
              first_match("/proc/meminfo", "MemTotal").c_str(), u.release, SEALRELAY_BUILD_TYPE,
              load_average().c_str());
  std::printf(
      "temp dirs, test files and CLI outputs in %s (%s)%s\n", o.tmp_dir.c_str(),
      is_tmpfs(o.tmp_dir) ? "tmpfs: the disk is not in the figures" : "not tmpfs: the disk is in the figures",
      o.disk_dir.empty()
          ? ""
          : ("; one more row saves to " + o.disk_dir + " (" + (is_tmpfs(o.disk_dir) ? "tmpfs" : "disk") + ")").c_str());
  std::printf(
      "parts: %s; sizes: %s; relay defaults (window %llu + history %llu frames of %zu KiB chunks), "
      "request rate limits off; every process on this machine, CPU summed over all of them.\n",
      parts.c_str(), sizes.c_str(), static_cast<unsigned long long>(relay::Config{}.window_frames),
      static_cast<unsigned long long>(relay::Config{}.history_frames), protocol::kDefaultChunkBytes / 1024);
  std::fflush(stdout);
}

// ---- the summary against issue 8's targets ----------------------------------

struct SummaryLine {
  std::string target, measured, verdict;
};

std::string verdict(bool met) { return met ? "met" : "NOT MET"; }

void summarize(const Options& o, const ThroughputResults& t, const LatencyResults& l,
               const std::vector<ConcurrentResults>& concurrent) {
  std::vector<SummaryLine> lines;
  auto get = [&](uint64_t mib, Store s) -> const GetFigures* {
    auto it = t.gets.find({mib * kMiB, s});
    return it != t.gets.end() && it->second.ok() ? &it->second : nullptr;
  };
  auto base = [&](uint64_t mib, const char* name) -> const BaselineFigures* {
    auto it = t.baselines.find({mib * kMiB, name});
    return it != t.baselines.end() ? &it->second : nullptr;
  };
  auto absent = [&](const std::string& target, const std::string& why) {
    lines.push_back({target, why, "not measured"});
  };
  auto why_no_row = [&](const char* what) {
    return o.has("throughput") ? strf("%s: not in --sizes-mib, or it failed", what)
                               : std::string("part throughput not run");
  };
  auto why_no_wormhole = [&](const BaselineFigures* w, const char* what) {
    if (!o.has("baselines")) return std::string("part baselines not run");
    return w ? "wormhole skipped: " + w->skipped : strf("%s: not in --sizes-mib, or it failed", what);
  };

  const GetFigures* r1g = get(1024, Store::kRedis);
  const GetFigures* m1g = get(1024, Store::kMemory);
  if (r1g) {
    lines.push_back({"1 GiB, Redis store ≥ 180 MB/s", strf("%.0f MB/s", r1g->mbs()), verdict(r1g->mbs() >= 180)});
    lines.push_back({"1 GiB, Redis store ≤ 10 CPU-s per GB (agent + relay + Redis + CLI)",
                     strf("%.1f CPU-s/GB", r1g->cpu_per_gb()), verdict(r1g->cpu_per_gb() <= 10)});
  } else {
    absent("1 GiB, Redis store ≥ 180 MB/s and ≤ 10 CPU-s/GB", why_no_row("1 GiB"));
  }
  const BaselineFigures* w1g = base(1024, "wormhole");
  if (r1g && w1g && w1g->ok()) {
    lines.push_back(
        {"1 GiB, Redis store ahead of magic-wormhole (same file, same run)",
         strf("%.0f vs %.0f MB/s (×%.2f); CPU %.1f vs %.1f CPU-s/GB", r1g->mbs(), w1g->mbs(), r1g->mbs() / w1g->mbs(),
              r1g->cpu_per_gb(), w1g->cpu_seconds / (static_cast<double>(w1g->bytes) / 1e9)),
         verdict(r1g->mbs() > w1g->mbs())});
  } else {
    absent("1 GiB, Redis store ahead of magic-wormhole", r1g ? why_no_wormhole(w1g, "1 GiB") : why_no_row("1 GiB"));
  }
  const GetFigures* r100 = get(100, Store::kRedis);
  const BaselineFigures* w100 = base(100, "wormhole");
  if (r100 && w100 && w100->ok()) {
    lines.push_back({"100 MiB, Redis store ≥ 2.5× magic-wormhole",
                     strf("×%.2f (%.0f vs %.0f MB/s)", r100->mbs() / w100->mbs(), r100->mbs(), w100->mbs()),
                     verdict(r100->mbs() >= 2.5 * w100->mbs())});
  } else {
    absent("100 MiB ≥ 2.5× magic-wormhole", r100 ? why_no_wormhole(w100, "100 MiB") : why_no_row("100 MiB"));
  }
  if (m1g) {
    lines.push_back({"1 GiB, embedded store ≥ 220 MB/s", strf("%.0f MB/s", m1g->mbs()), verdict(m1g->mbs() >= 220)});
  } else {
    absent("1 GiB, embedded store ≥ 220 MB/s", why_no_row("1 GiB"));
  }
  if (r1g || m1g) {
    long peak = std::max(r1g ? r1g->rss_relay_kb : -1, m1g ? m1g->rss_relay_kb : -1);
    lines.push_back({"relay RSS ≤ 64 MiB during a 1 GiB transfer (peak over both stores)", mb_kb(peak),
                     verdict(peak <= 64 * 1024)});
  }
  for (Store s : {Store::kMemory, Store::kRedis}) {
    // Issue 8: time grows with the size, memory stays flat. Shown, not judged.
    std::string sizes, rss;
    for (uint64_t mib : o.sizes_mib) {
      const GetFigures* g = get(mib, s);
      if (!g) continue;
      sizes += (sizes.empty() ? "" : " / ") + mib_label(mib * kMiB);
      rss += (rss.empty() ? "" : " / ") + strf("%.2f s, relay %s, agent %s, CLI %s%s", g->seconds,
                                               mb_kb(g->rss_relay_kb).c_str(), mb_kb(g->rss_agent_kb).c_str(),
                                               mb_kb(g->rss_cli_kb).c_str(),
                                               s == Store::kRedis ? (", Redis +" + mb(g->redis_growth)).c_str() : "");
    }
    if (o.sizes_mib.size() > 1 && !sizes.empty()) {
      lines.push_back({strf("time grows with the size, memory stays flat (%s store; %s)", store_name(s), sizes.c_str()),
                       rss, "shown"});
    }
  }
  if (r1g && r1g->redis_growth >= 0) {
    // Per-transfer window in Redis: frames are kept as event-stream records
    // (header + frame: chunk + frame overhead).
    relay::Config d;
    const double stored_frame = static_cast<double>(event_stream::kHeaderBytes + protocol::kDefaultChunkBytes +
                                                    protocol::kFrameOverheadBytes);
    const double window = static_cast<double>(d.window_frames) * stored_frame;
    const double bound = static_cast<double>(d.window_frames + d.history_frames) * stored_frame;
    const double g = static_cast<double>(r1g->redis_growth);
    lines.push_back(
        {strf("Redis growth ≤ 2× the per-transfer window, read as window + history (%llu frames ≈ %.1f MB "
              "→ ≤ %.1f MB)",
              static_cast<unsigned long long>(d.window_frames + d.history_frames), bound / 1e6, 2 * bound / 1e6),
         mb(r1g->redis_growth), verdict(g <= 2 * bound)});
    lines.push_back({strf("Redis growth ≤ 2× the per-transfer window, read as the window alone (%llu frames ≈ %.1f MB "
                          "→ ≤ %.1f MB)",
                          static_cast<unsigned long long>(d.window_frames), window / 1e6, 2 * window / 1e6),
                     mb(r1g->redis_growth), verdict(g <= 2 * window)});
  }
  // Issue 8's targets are on one Redis; a cluster's rows are shown beside it.
  for (const ConcurrentResults& c : concurrent) {
    if (!c.measured) {
      absent(strf("%d concurrent transfers (%s): all bit-identical", o.concurrent, c.label.c_str()),
             (c.absent ? "skipped: " : "failed: ") + c.error);
      continue;
    }
    lines.push_back({strf("%d concurrent transfers (%s): all bit-identical", c.transfers, c.label.c_str()),
                     strf("%d of %d (%d batches)", c.identical, c.checked(), c.batches),
                     verdict(c.identical == c.checked())});
    SummaryLine ratio{strf("%d concurrent transfers (%s): aggregate ≥ 0.8× one transfer", c.transfers, c.label.c_str()),
                      strf("×%.2f (%.0f vs %.0f MB/s; median of %d batches, the first ×%.2f)",
                           c.aggregate_mbs() / c.single_mbs, c.aggregate_mbs(), c.single_mbs, c.batches,
                           c.batch_mbs.empty() ? 0 : c.batch_mbs[0] / c.single_mbs),
                      verdict(c.aggregate_mbs() >= 0.8 * c.single_mbs)};
    if (c.store != "redis") ratio.verdict = "shown";  // no target off one Redis (issue 20: the model, not a gain)
    lines.push_back(ratio);
  }
  if (concurrent.empty()) {
    absent("100 concurrent transfers: all bit-identical, aggregate ≥ 0.8× one transfer", "part concurrent not run");
  }
  if (l.measured && l.cli_first_byte.n) {
    lines.push_back({"time to first byte p50 ≤ 15 ms (CLI process, what a user sees)",
                     strf("%.1f ms (p99 %.1f)", l.cli_first_byte.p50, l.cli_first_byte.p99),
                     verdict(l.cli_first_byte.p50 <= 15)});
  }
  if (l.measured && l.lib_first_byte.n) {
    lines.push_back({"time to first byte p50 ≤ 15 ms (requester library in-process, no exec)",
                     strf("%.1f ms (p99 %.1f)", l.lib_first_byte.p50, l.lib_first_byte.p99),
                     verdict(l.lib_first_byte.p50 <= 15)});
  } else {
    absent("time to first byte p50 ≤ 15 ms", o.has("latency") ? "failed: " + l.error : "part latency not run");
  }
  absent("10,000 idle agents per node ≤ 400 MiB, ≤ 5% of a core, ≤ 16 Redis connections; reconnect within 5 s",
         "relay_bench (scripts/bench relay)");
  absent("browser ≥ 80 MB/s with memory bounded", "browser_bench (scripts/bench browser)");

  std::printf("\n### Summary against issue 8's targets\n\n");
  for (const auto& s : lines) {
    std::printf("- %s: **%s** — %s\n", s.target.c_str(), s.verdict.c_str(), s.measured.c_str());
  }
  std::printf("\nload average at the end %s\n", load_average().c_str());
}

// --check-copies: 0 when every concurrent copy on every store verified (and
// the latency part, when run, measured); 77 when a store could not start
// for want of redis-server or redis-cli; 1 otherwise.
int copies_verdict(const Options& o, const LatencyResults& l, const std::vector<ConcurrentResults>& concurrent) {
  if (o.has("latency") && !l.measured) return 1;
  if (!o.has("concurrent")) return 0;
  if (concurrent.size() != o.concurrent_stores.size()) return 1;  // the files could not be written
  for (const ConcurrentResults& c : concurrent) {
    if (c.absent) {
      std::printf("skipped: %s\n", c.error.c_str());
      return 77;
    }
    if (!c.measured || c.failed > 0 || c.identical != c.checked() || c.checked() == 0) return 1;
  }
  return 0;
}

std::vector<std::string> split_csv(const std::string& s) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= s.size()) {
    size_t comma = s.find(',', start);
    std::string item = s.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    if (!item.empty()) out.push_back(item);
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return out;
}

// Our children must see only the flags we give them.
void drop_sealrelay_environment() {
  std::vector<std::string> names;
  for (char** e = environ; *e; ++e) {
    std::string kv = *e;
    if (kv.rfind("SEALRELAY_", 0) == 0) names.push_back(kv.substr(0, kv.find('=')));
  }
  for (const auto& n : names) ::unsetenv(n.c_str());
}

}  // namespace
}  // namespace sealrelay::bench

int main(int argc, char** argv) {
  using namespace sealrelay::bench;
  Options o;
  o.baselines = std::string(SEALRELAY_SOURCE_DIR) + "/bench/baselines/run";
  std::string sizes = "10,100,1024", parts = "throughput,baselines,latency,concurrent";
  int timeout_s = 900;
  CLI::App app{
      "e2e_bench: end-to-end get through the real relay, agent and CLI on loopback, beside baselines\n"
      "measured in the same run (issue 8). Starts its own redis-server, relays and agents on\n"
      "127.0.0.1 and unix sockets in a temp dir; stops them by PID and removes the dir at exit,\n"
      "also on Ctrl-C. Prints markdown tables and a summary against issue 8's targets."};
  app.add_option("--sizes-mib", sizes, "File sizes for the throughput part, comma-separated MiB")
      ->capture_default_str();
  app.add_option("--parts", parts,
                 "Parts to run, comma-separated: throughput (a: one get per size and store), baselines (b: "
                 "bench/baselines/run nginx and wormhole on the same files), latency (c: 1 KiB gets), concurrent "
                 "(d: many transfers at once)")
      ->capture_default_str();
  app.add_option("--repeat", o.repeat,
                 "Rounds of every throughput and baseline row (alternating), and batches of the concurrent part; "
                 "the median is reported")
      ->capture_default_str()
      ->check(CLI::Range(1, 100));
  app.add_option("--gets", o.gets, "1 KiB gets for the latency part")
      ->capture_default_str()
      ->check(CLI::Range(1, 100000));
  app.add_option("--concurrent", o.concurrent, "Transfers at once in the concurrent part")
      ->capture_default_str()
      ->check(CLI::Range(1, 1000));
  app.add_option("--agents", o.agents, "Agents serving them")->capture_default_str()->check(CLI::Range(1, 200));
  app.add_option("--concurrent-mib", o.concurrent_mib, "Size of each concurrent transfer (MiB)")
      ->capture_default_str()
      ->check(CLI::Range(1, 4096));
  std::string concurrent_stores = "redis,cluster";
  app.add_option("--concurrent-stores", concurrent_stores,
                 "Stores the concurrent part runs on, one after the other, comma-separated: redis (one "
                 "redis-server), cluster (a Redis Cluster on loopback)")
      ->capture_default_str();
  app.add_option("--cluster-masters", o.cluster_masters, "Masters of that Redis Cluster")
      ->capture_default_str()
      ->check(CLI::Range(3, 16));
  bool check_copies = false;
  app.add_flag("--check-copies", check_copies,
               "Exit 1 unless every part asked for ran and every concurrent copy on every store verified, 77 "
               "(skipped) when redis-server or redis-cli is missing: the smoke test's mode");
  app.add_option("--timeout-seconds", timeout_s, "Longest wait for one transfer, batch or baseline run")
      ->capture_default_str()
      ->check(CLI::Range(10, 86400));
  app.add_option("--baselines", o.baselines, "The baselines program (interface: --what nginx|wormhole --file PATH)")
      ->capture_default_str();
  o.tmp_dir = default_tmp_dir();
  o.disk_dir = "/var/tmp";
  app.add_option("--tmp-dir", o.tmp_dir,
                 "File system for temp dirs, test files and outputs (exported as TMPDIR, also to "
                 "bench/baselines/run); default /dev/shm when it is a tmpfs with 6 GiB free")
      ->capture_default_str();
  app.add_option("--disk-dir", o.disk_dir,
                 "One more row: the largest size through Redis saved into this directory (a disk, where the "
                 "CLI's fsync counts); \"none\" to skip")
      ->capture_default_str();
  app.add_option("--perf-dir", o.perf_dir,
                 "perf record (DWARF call graphs) the relay, agent, redis-server and CLI during the largest size's "
                 "transfers and leave the .data files here (perturbs those rows' figures)");
  CLI11_PARSE(app, argc, argv);
  o.timeout = std::chrono::seconds(timeout_s);
  o.parts = split_csv(parts);
  for (const auto& p : o.parts) {
    if (p != "throughput" && p != "baselines" && p != "latency" && p != "concurrent") {
      std::fprintf(stderr, "e2e_bench: unknown part \"%s\" (throughput, baselines, latency, concurrent)\n", p.c_str());
      return 2;
    }
  }
  o.concurrent_stores = split_csv(concurrent_stores);
  for (const auto& st : o.concurrent_stores) {
    if (st != "redis" && st != "cluster") {
      std::fprintf(stderr, "e2e_bench: --concurrent-stores: unknown store \"%s\" (redis, cluster)\n", st.c_str());
      return 2;
    }
  }
  o.sizes_mib.clear();
  for (const auto& s : split_csv(sizes)) {
    char* end = nullptr;
    unsigned long long v = std::strtoull(s.c_str(), &end, 10);
    if (!end || *end || v == 0) {
      std::fprintf(stderr, "e2e_bench: --sizes-mib: \"%s\" is not a positive number of MiB\n", s.c_str());
      return 2;
    }
    o.sizes_mib.push_back(v);
  }
  if (o.sizes_mib.empty() && (o.has("throughput") || o.has("baselines"))) {
    std::fprintf(stderr, "e2e_bench: --sizes-mib is empty\n");
    return 2;
  }
  if (!o.perf_dir.empty()) {
    if (::access("/usr/bin/perf", X_OK) != 0) {
      std::fprintf(stderr, "e2e_bench: --perf-dir needs /usr/bin/perf\n");
      return 2;
    }
    std::filesystem::create_directories(o.perf_dir);
    o.perf_dir = std::filesystem::absolute(o.perf_dir).string();
  }
  if (o.disk_dir == "none") o.disk_dir.clear();
  o.tmp_dir = std::filesystem::absolute(o.tmp_dir).string();
  if (::access(o.tmp_dir.c_str(), W_OK) != 0) {
    std::fprintf(stderr, "e2e_bench: --tmp-dir %s is not a writable directory\n", o.tmp_dir.c_str());
    return 2;
  }
  ::setenv("TMPDIR", o.tmp_dir.c_str(), 1);
  if (sodium_init() < 0) {
    std::fprintf(stderr, "e2e_bench: libsodium failed to initialise\n");
    return 1;
  }
  drop_sealrelay_environment();
  install_interrupt_handler();
  rlimit lim{};
  ::getrlimit(RLIMIT_NOFILE, &lim);
  lim.rlim_cur = lim.rlim_max;
  ::setrlimit(RLIMIT_NOFILE, &lim);

  try {
    sealrelay::test::TempDir data;
    o.data_dir = data.path();
    print_context(o);
    ThroughputResults t;
    LatencyResults l;
    std::vector<ConcurrentResults> c;
    if (o.has("throughput") || o.has("baselines")) t = run_throughput(o);
    if (o.has("latency")) {
      l = run_latency(o);
      if (!l.measured) std::printf("\n### c. latency: failed: %s\n", l.error.c_str());
    }
    if (o.has("concurrent")) {
      c = run_concurrent(o);
    }
    summarize(o, t, l, c);
    if (check_copies) return copies_verdict(o, l, c);
  } catch (const Interrupted&) {
    std::fprintf(stderr, "e2e_bench: interrupted; children stopped, temp dirs removed\n");
    return 130;
  }
  return 0;
}
