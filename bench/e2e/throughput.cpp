// Parts a and b of e2e_bench: one `sealrelay get` per file size and store,
// on a fresh relay and agent each (so VmHWM is the transfer's), and the same
// files through bench/baselines/run.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <thread>

#include "bench/e2e/sections.h"

namespace sealrelay::bench {
namespace fs = std::filesystem;

namespace {

// `perf record` with DWARF call graphs (the programs keep no frame pointers)
// attached to running processes by PID, stopped with SIGINT (perf then
// writes its file) when this object goes. 250 Hz keeps the files at a few
// hundred MB for a 1 GiB transfer.
class PerfRecorder {
 public:
  PerfRecorder(std::string dir, std::string tag) : dir_(std::move(dir)), tag_(std::move(tag)) {}
  ~PerfRecorder() {
    for (auto& p : perfs_) p->kill(SIGINT);
    for (auto& p : perfs_) p->wait_exit(60s);  // Process's destructor SIGKILLs a perf that hangs
  }
  void attach(const std::string& name, pid_t pid) {
    std::string out = dir_ + "/" + tag_ + "-" + name + ".data";
    auto p = test::Process::spawn(
        {"/usr/bin/perf", "record", "-F", "250", "--call-graph", "dwarf,16384", "-o", out, "-p", std::to_string(pid)},
        dir_ + "/" + tag_ + "-" + name + ".log");
    if (p)
      perfs_.push_back(std::move(*p));
    else
      std::fprintf(stderr, "  perf record %s: %s\n", name.c_str(), p.error().message.c_str());
  }

 private:
  std::string dir_, tag_;
  std::vector<std::unique_ptr<test::Process>> perfs_;
};

// A directory made with mkdtemp under `parent`, removed with its contents.
class ScratchDir {
 public:
  explicit ScratchDir(const std::string& parent) {
    std::string tmpl = parent + "/sr-e2e.XXXXXX";
    if (::mkdtemp(tmpl.data())) path_ = tmpl;
  }
  ~ScratchDir() {
    std::error_code ec;
    if (!path_.empty()) fs::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }  // empty: could not be made

 private:
  std::string path_;
};

// One get of `file` on a fresh cluster; the CLI writes into `out_dir`
// (empty: the cluster's temp dir, on the --tmp-dir file system).
GetFigures measure_get(Store store, const DataFile& file, const Options& o, bool perf, const std::string& out_dir) {
  GetFigures g;
  g.store = store;
  g.bytes = file.bytes;
  auto started = start_deployment(store);
  if (!started) {
    g.error = started.error().message;
    return g;
  }
  test::Deployment& c = **started;
  if (auto r = start_agent(c, "shop-1", file.dir); !r) {
    g.error = r.error().message;
    return g;
  }
  if (auto r = pin(c, "shop-1"); !r) {
    g.error = r.error().message;
    return g;
  }
  const std::string out = (out_dir.empty() ? c.dir() : out_dir) + "/" + file.name;
  const pid_t relay = c.relay_pid(), agent = c.agent("shop-1").pid(), redis = redis_pid(c);
  PeakSampler sampler(c.redis());
  sampler.watch("relay", relay);
  sampler.watch("agent", agent);
  const long redis_before = redis_used_memory(c);
  const double relay0 = cpu_seconds(relay), agent0 = cpu_seconds(agent), redis0 = redis > 0 ? cpu_seconds(redis) : 0;

  std::optional<PerfRecorder> rec;
  if (perf) {
    rec.emplace(o.perf_dir, strf("%s-%lluMiB", store == Store::kRedis ? "redis" : "embedded",
                                 static_cast<unsigned long long>(file.bytes / kMiB)));
    rec->attach("relay", relay);
    rec->attach("agent", agent);
    if (redis > 0) rec->attach("redis-server", redis);
    std::this_thread::sleep_for(500ms);  // perf needs a moment to attach
  }
  auto run = measured_cli(c, {"-q", "get", "shop-1:/demo/" + file.name, "-o", out}, "get.log");
  if (!run) {
    g.error = run.error().message;
    return g;
  }
  sampler.watch("cli", (*run)->pid());
  if (rec) rec->attach("cli", (*run)->pid());
  const bool done = (*run)->wait(o.timeout);
  g.cpu_relay = cpu_seconds(relay) - relay0;
  g.cpu_agent = cpu_seconds(agent) - agent0;
  g.cpu_redis = redis > 0 ? cpu_seconds(redis) - redis0 : 0;
  g.cpu_cli = (*run)->cpu_seconds();
  g.seconds = (*run)->seconds();
  const long hwm_relay = test::proc_status(relay, "VmHWM:"), hwm_agent = test::proc_status(agent, "VmHWM:");
  sampler.stop();
  rec.reset();
  g.rss_relay_kb = std::max(sampler.peak_rss_kb("relay"), hwm_relay);
  g.rss_agent_kb = std::max(sampler.peak_rss_kb("agent"), hwm_agent);
  g.rss_cli_kb = std::max(sampler.peak_rss_kb("cli"), (*run)->max_rss_kb());
  if (redis > 0 && redis_before >= 0 && sampler.peak_redis_bytes() >= 0) {
    g.redis_growth = std::max(0L, sampler.peak_redis_bytes() - redis_before);
  }
  if (!done || (*run)->exit_code() != 0) {
    g.error = done ? strf("sealrelay get exited %d: %s", (*run)->exit_code(), (*run)->log().c_str())
                   : "sealrelay get did not finish within the timeout";
    return g;
  }
  g.sha256 = sha256_file(out);
  g.identical = g.sha256 == file.sha256;
  fs::remove(out);
  return g;
}

BaselineFigures run_baseline(const std::string& what, const DataFile& file, const Options& o) {
  BaselineFigures b;
  b.name = what;
  if (::access(o.baselines.c_str(), X_OK) != 0) {
    b.skipped = "bench/baselines/run not present";
    return b;
  }
  test::TempDir logs;
  auto run = CliRun::start(
      {o.baselines, "--what", what, "--file", file.path(), "--timeout", std::to_string(o.timeout.count())}, {},
      logs.path() + "/stderr.log");
  if (!run) {
    b.skipped = run.error().message;
    return b;
  }
  if (!(*run)->wait(o.timeout)) {
    b.skipped = "bench/baselines/run did not finish within the timeout";
    return b;
  }
  std::string last;
  for (const auto& [t, line] : (*run)->lines()) {
    if (line.find('{') != std::string::npos) last = line;
  }
  auto j = nlohmann::json::parse(last, nullptr, false);
  if (!j.is_object()) {
    b.skipped = strf("no JSON line from bench/baselines/run (exit %d): %s", (*run)->exit_code(),
                     (*run)->log().substr(0, 300).c_str());
    return b;
  }
  if (j.contains("skipped")) {
    b.skipped = j["skipped"].is_string() ? j["skipped"].get<std::string>() : j["skipped"].dump();
    return b;
  }
  if (j.contains("error")) {
    b.skipped = "failed: " + (j["error"].is_string() ? j["error"].get<std::string>() : j["error"].dump());
    return b;
  }
  b.bytes = j.value("bytes", uint64_t{0});
  b.seconds = j.value("seconds", 0.0);
  b.cpu_seconds = j.value("cpu_seconds", -1.0);
  b.identical = j.value("identical", false);
  b.setup_seconds = j.value("setup_seconds", -1.0);
  if (b.bytes == 0 || b.seconds <= 0) b.skipped = "unusable result: " + last;
  return b;
}

// " [all: a, b, c]" when a row ran more than once.
template <class K>
std::string runs_cell(const std::map<K, std::vector<double>>& all, const K& key) {
  auto it = all.find(key);
  if (it == all.end() || it->second.size() < 2) return "";
  std::string s;
  for (double v : it->second) s += (s.empty() ? "" : ", ") + strf("%.0f", v);
  return " [" + s + "]";
}

std::string cpu_cell(const GetFigures& g) {
  std::string s = strf("%.2f (%.2f + %.2f", g.cpu_total(), g.cpu_agent, g.cpu_relay);
  s += g.store == Store::kRedis ? strf(" + %.2f", g.cpu_redis) : std::string(" + —");
  return s + strf(" + %.2f)", g.cpu_cli);
}

void print_gets(const ThroughputResults& r, const Options& o) {
  std::printf(
      "\n### a. End-to-end get (agent → relay → CLI), one transfer per row\n\n"
      "Fresh redis-server, relay and agent per run; wall time from exec of `sealrelay -q get` to its exit "
      "(the file saved, fsync'd and verified); source and output in %s. %s\n\n",
      o.tmp_dir.c_str(),
      o.repeat > 1 ? strf("Each row is the median of %d rounds (MB/s of every round in brackets); rounds "
                          "alternate embedded, Redis and the baselines.",
                          o.repeat)
                         .c_str()
                   : "One round.");
  std::vector<std::vector<std::string>> rows;
  std::vector<const GetFigures*> all;
  for (const auto& [key, g] : r.gets) all.push_back(&g);
  if (r.disk_row) all.push_back(&*r.disk_row);
  for (const GetFigures* gp : all) {
    const GetFigures& g = *gp;
    std::string store = store_name(g.store);
    if (gp == (r.disk_row ? &*r.disk_row : nullptr)) store += ", output on disk (" + o.disk_dir + ")";
    if (!g.ok()) {
      rows.push_back({mib_label(g.bytes), store, "failed: " + g.error.substr(0, 200)});
      continue;
    }
    std::string mbs = strf("%.0f", g.mbs());
    if (gp != (r.disk_row ? &*r.disk_row : nullptr)) mbs += runs_cell(r.gets_mbs, std::make_pair(g.bytes, g.store));
    auto failed = r.gets_failed.find({g.bytes, g.store});
    if (failed != r.gets_failed.end() && failed->second) mbs += strf(" (%d failed)", failed->second);
    rows.push_back({mib_label(g.bytes), store, strf("%.2f", g.seconds), mbs, cpu_cell(g), strf("%.1f", g.cpu_per_gb()),
                    mb_kb(g.rss_relay_kb), mb_kb(g.rss_agent_kb), mb_kb(g.rss_cli_kb),
                    g.store == Store::kRedis ? mb(g.redis_growth) : "—",
                    g.identical ? "yes (sha256 " + g.sha256.substr(0, 12) + "…)" : "NO (sha256 " + g.sha256 + ")"});
  }
  print_table({"size", "store", "wall s", "MB/s", "CPU-s all (agent + relay + redis + CLI)", "CPU-s/GB",
               "relay peak RSS", "agent peak RSS", "CLI peak RSS", "Redis growth", "bit-identical"},
              rows);
}

void print_baselines(const ThroughputResults& r) {
  std::printf("\n### b. Baselines on the same files, same run (bench/baselines/run)\n\n");
  std::vector<std::vector<std::string>> rows;
  for (const auto& [key, b] : r.baselines) {
    const uint64_t bytes = key.first;
    if (!b.ok()) {
      rows.push_back({mib_label(bytes), b.name, "skipped: " + b.skipped, "", "", "", "", "", ""});
      continue;
    }
    // nginx's setup (starting nginx) is outside its wall time; wormhole's
    // (mailbox, PAKE, transit connect) is inside, as a user sees it.
    std::string setup = b.setup_seconds < 0    ? "—"
                        : b.name == "wormhole" ? strf("%.2f (in wall)", b.setup_seconds)
                                               : strf("%.2f (not in wall)", b.setup_seconds);
    auto ratio = [&](Store s) {
      auto it = r.gets.find({bytes, s});
      return it != r.gets.end() && it->second.ok() ? strf("×%.2f", it->second.mbs() / b.mbs()) : std::string("—");
    };
    rows.push_back({mib_label(bytes), b.name, strf("%.2f", b.seconds), setup,
                    strf("%.0f", b.mbs()) + runs_cell(r.baselines_mbs, key),
                    b.cpu_seconds >= 0 ? strf("%.1f", b.cpu_seconds / (static_cast<double>(b.bytes) / 1e9)) : "—",
                    ratio(Store::kMemory), ratio(Store::kRedis), b.identical ? "yes" : "NO"});
  }
  if (rows.empty()) {
    std::printf("(no sizes measured)\n");
    return;
  }
  print_table({"size", "baseline", "wall s", "setup s", "MB/s", "CPU-s/GB", "ours embedded ÷ it (MB/s)",
               "ours Redis ÷ it (MB/s)", "bit-identical"},
              rows);
}

}  // namespace

// The run with the median MB/s of `runs` (failed runs count as failures,
// not as slow runs); bit-identical only when every run was.
template <class F>
F median_of(std::vector<F> runs, std::vector<double>& mbs, int& failed) {
  std::vector<F> ok;
  bool all_identical = true;
  for (auto& f : runs) {
    if (f.ok()) {
      mbs.push_back(f.mbs());
      all_identical = all_identical && f.identical;
      ok.push_back(f);
    } else {
      ++failed;
    }
  }
  if (ok.empty()) return runs.front();
  std::sort(ok.begin(), ok.end(), [](const F& a, const F& b) { return a.mbs() < b.mbs(); });
  F m = ok[ok.size() / 2];
  m.identical = all_identical;
  return m;
}

ThroughputResults run_throughput(const Options& o) {
  ThroughputResults r;
  const uint64_t largest = *std::max_element(o.sizes_mib.begin(), o.sizes_mib.end());
  for (uint64_t mib : o.sizes_mib) {
    std::fprintf(stderr, "e2e_bench: writing a %s file\n", mib_label(mib * kMiB).c_str());
    auto file = make_data_file(o.data_dir + "/single-" + std::to_string(mib), "file-" + std::to_string(mib) + "MiB.bin",
                               mib * kMiB, 1000 + mib);
    if (!file) {
      std::fprintf(stderr, "e2e_bench: %s\n", file.error().message.c_str());
      continue;
    }
    // Rounds alternate ours and the baselines, so drift in the machine's
    // load hits all of them alike; each row reports its median round.
    std::map<Store, std::vector<GetFigures>> gets;
    std::map<std::string, std::vector<BaselineFigures>> bases;
    for (int round = 0; round < o.repeat; ++round) {
      if (o.has("throughput")) {
        for (Store store : {Store::kMemory, Store::kRedis}) {
          std::fprintf(stderr, "e2e_bench: get %s, %s store (round %d of %d)\n", mib_label(file->bytes).c_str(),
                       store_name(store), round + 1, o.repeat);
          GetFigures g = measure_get(store, *file, o, !o.perf_dir.empty() && mib == largest && round == 0, "");
          if (g.ok()) {
            std::fprintf(stderr, "  %.0f MB/s, %.1f CPU-s/GB, %s\n", g.mbs(), g.cpu_per_gb(),
                         g.identical ? "bit-identical" : "NOT IDENTICAL");
          } else {
            std::fprintf(stderr, "  failed: %s\n", g.error.c_str());
          }
          gets[store].push_back(std::move(g));
        }
      }
      if (o.has("baselines")) {
        for (const char* what : {"nginx", "wormhole"}) {
          std::fprintf(stderr, "e2e_bench: baseline %s, %s (round %d of %d)\n", what, mib_label(file->bytes).c_str(),
                       round + 1, o.repeat);
          BaselineFigures b = run_baseline(what, *file, o);
          std::fprintf(stderr, "  %s\n",
                       b.ok() ? strf("%.0f MB/s", b.mbs()).c_str() : ("skipped: " + b.skipped).c_str());
          bool skipped = !b.ok() && b.skipped.rfind("failed", 0) != 0;
          bases[what].push_back(std::move(b));
          if (skipped) break;  // absent tools stay absent
        }
      }
    }
    for (auto& [store, runs] : gets) {
      auto key = std::make_pair(file->bytes, store);
      r.gets[key] = median_of(std::move(runs), r.gets_mbs[key], r.gets_failed[key]);
    }
    for (auto& [what, runs] : bases) {
      auto key = std::make_pair(file->bytes, what);
      int failed = 0;
      r.baselines[key] = median_of(std::move(runs), r.baselines_mbs[key], failed);
    }
    if (o.has("throughput") && mib == largest && !o.disk_dir.empty()) {
      ScratchDir disk(o.disk_dir);
      std::fprintf(stderr, "e2e_bench: get %s, Redis store, output on disk in %s\n", mib_label(file->bytes).c_str(),
                   o.disk_dir.c_str());
      if (disk.path().empty()) {
        std::fprintf(stderr, "  skipped: cannot make a directory in %s\n", o.disk_dir.c_str());
      } else {
        r.disk_row = measure_get(Store::kRedis, *file, o, false, disk.path());
        std::fprintf(
            stderr, "  %s\n",
            r.disk_row->ok() ? strf("%.0f MB/s", r.disk_row->mbs()).c_str() : ("failed: " + r.disk_row->error).c_str());
      }
    }
    fs::remove_all(file->dir);
  }
  if (o.has("throughput")) print_gets(r, o);
  if (o.has("baselines")) print_baselines(r);
  return r;
}

}  // namespace sealrelay::bench
