// Part d of e2e_bench: N CLI processes at once, each getting one file, from
// M agents (N/M files each, distinct content), beside single transfers of
// the same size on the same relay; on each store of
// Options::concurrent_stores in turn, same run, same files: one Redis, then
// a Redis Cluster (issue 20: on one machine a cluster adds hops, not cores;
// the point is that every copy verifies and the figures docs/scaling.md
// builds on).
//
// Each of the N transfers is its own requester (its own key and CLI home),
// as N users would be. With one key, CLIs started in the same millisecond
// against the same agent are refused as "replayed message 1": the request's
// timestamp is unique within a process only (requester/transfer.h
// TimestampSource), and the agent's replay guard takes a repeated
// timestamp from one key for a replay (crypto/replay.h).
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <thread>

#include "bench/e2e/sections.h"
#include "tests/support/redis_cluster.h"

namespace sealrelay::bench {
namespace fs = std::filesystem;

namespace {

std::string agent_id(int a) { return strf("agent-%02d", a); }

struct Transfer {
  int requester = -1;  // -1: the main CLI home
  int agent = 0;
  const DataFile* file = nullptr;
  std::string out;
};

struct BatchOutcome {
  double seconds = 0;  // first exec to last exit
  double cli_cpu = 0;
  int identical = 0, failed = 0;
  std::vector<double> transfer_ms;  // exec to exit of each CLI that ran
};

// Runs `transfers` at once and checks every output.
BatchOutcome run_batch(test::Deployment& c, const std::vector<Transfer>& transfers, const Options& o) {
  BatchOutcome out;
  std::vector<std::unique_ptr<CliRun>> runs;
  std::vector<CliRun*> raw;
  for (size_t i = 0; i < transfers.size(); ++i) {
    const Transfer& t = transfers[i];
    auto r = measured_cli(c, {"-q", "get", agent_id(t.agent) + ":/demo/" + t.file->name, "-o", t.out},
                          strf("get-%zu.log", i), t.requester);
    if (!r) {
      ++out.failed;
      continue;
    }
    raw.push_back(r->get());
    runs.push_back(std::move(*r));
  }
  CliRun::wait_all(raw, o.timeout);
  Clock::time_point first = Clock::time_point::max(), last = Clock::time_point::min();
  for (size_t i = 0; i < runs.size(); ++i) {
    first = std::min(first, runs[i]->started());
    last = std::max(last, runs[i]->ended());
    out.cli_cpu += runs[i]->cpu_seconds();
    out.transfer_ms.push_back(runs[i]->seconds() * 1000);
    if (runs[i]->exit_code() != 0) {
      ++out.failed;
      if (out.failed <= 3) std::fprintf(stderr, "  transfer %zu failed: %s\n", i, runs[i]->log().c_str());
    }
  }
  for (const Transfer& t : transfers) {
    if (fs::exists(t.out) && sha256_file(t.out) == t.file->sha256) ++out.identical;
    fs::remove(t.out);
  }
  out.seconds = runs.empty() ? 0 : std::chrono::duration<double>(last - first).count();
  return out;
}

// A relay with its agents on one store; the cluster (when there is one)
// outlives the deployment, whose relay talks to it.
struct Rig {
  test::TempDir cluster_dir;
  std::unique_ptr<test::RedisCluster> cluster;
  std::unique_ptr<test::Deployment> d;
  std::vector<const test::RedisServer*> redis;  // every Redis process the store uses
  std::vector<pid_t> redis_pids;
  std::vector<pid_t> daemons;  // agents, relay, Redis: their CPU is counted
};

Result<void> start_store(const Options& o, const std::string& store, Rig& rig) {
  if (store == "cluster") {
    // Redis's default node timeout: the harness's 2 s (quick failovers in
    // the tests) lets a loaded machine mark a master failed mid-batch.
    auto c = test::RedisCluster::start(rig.cluster_dir.path(), {.masters = o.cluster_masters, .replicas = 0,
                                                                .node_timeout = std::chrono::milliseconds(15000)});
    if (!c) return c.error();
    rig.cluster = std::move(*c);
    for (size_t i = 0; i < rig.cluster->size(); ++i) {
      rig.redis.push_back(&rig.cluster->node(i));
      rig.redis_pids.push_back(rig.cluster->node(i).process().pid());
    }
    auto d = start_deployment(Store::kMemory, {"--redis-cluster", rig.cluster->seeds()});
    if (!d) return d.error();
    rig.d = std::move(*d);
  } else {
    auto d = start_deployment(Store::kRedis);
    if (!d) return d.error();
    rig.d = std::move(*d);
    rig.redis.push_back(rig.d->redis());
    rig.redis_pids.push_back(redis_pid(*rig.d));
  }
  return {};
}

Result<void> start_agents(const Options& o, int per_agent, Rig& rig) {
  test::Deployment& c = *rig.d;
  std::fprintf(stderr, "e2e_bench: %d requester keys, %d agents\n", o.concurrent, o.agents);
  if (auto r = c.add_requesters(o.concurrent); !r) return r;
  for (int a = 0; a < o.agents; ++a) {
    // Each agent serves all of its files at once (its default is 4).
    auto r = start_agent(c, agent_id(a), o.data_dir + "/concurrent/" + agent_id(a),
                         {"--max-transfers", std::to_string(per_agent)});
    if (r) r = pin(c, agent_id(a));  // first contact pins the key, outside the measurement
    if (!r) return r;
  }
  if (auto r = c.share_pins(); !r) return r;
  rig.daemons = c.agent_pids();
  rig.daemons.push_back(c.relay_pid());
  rig.daemons.insert(rig.daemons.end(), rig.redis_pids.begin(), rig.redis_pids.end());
  return {};
}

// One transfer at a time, five times: the reference (the median).
Result<void> run_singles(const Options& o, const DataFile& file, Rig& rig, ConcurrentResults& res) {
  constexpr int kSingles = 5;
  for (int i = 0; i < kSingles; ++i) {
    BatchOutcome b = run_batch(*rig.d, {Transfer{-1, 0, &file, rig.d->dir() + "/single.bin"}}, o);
    if (b.failed || b.identical != 1) return make_error("bench", "the single reference transfer failed");
    res.single_runs_mbs.push_back(static_cast<double>(file.bytes) / 1e6 / b.seconds);
  }
  std::vector<double> sorted = res.single_runs_mbs;
  std::sort(sorted.begin(), sorted.end());
  res.single_mbs = sorted[sorted.size() / 2];
  res.single_seconds = static_cast<double>(file.bytes) / 1e6 / res.single_mbs;
  return {};
}

struct Batch {
  double seconds = 0, cpu = 0;
  long rss_relay_kb = -1, redis_growth = -1;
};

// Several batches, the median reported: the first one on a fresh relay,
// agents and Redis also pays for their first touch of the memory a hundred
// transfers need (on this VM a fresh page costs ~4x a reused one,
// docs/performance-history.md), which a relay serving all day has long paid.
void run_batches(const Options& o, const std::vector<Transfer>& batch, Rig& rig, ConcurrentResults& res) {
  test::Deployment& c = *rig.d;
  std::vector<Batch> runs;
  std::vector<double> transfer_ms;
  const long redis_before = redis_used_memory(rig.redis);
  for (int b = 0; b < o.repeat; ++b) {
    std::vector<double> cpu0;
    for (pid_t p : rig.daemons) cpu0.push_back(cpu_seconds(p));
    PeakSampler sampler(rig.redis);
    sampler.watch("relay", c.relay_pid());
    const long redis_at_start = redis_used_memory(rig.redis);
    std::fprintf(stderr, "e2e_bench: %d transfers at once on %s (batch %d of %d)\n", o.concurrent, res.label.c_str(),
                 b + 1, o.repeat);
    BatchOutcome out = run_batch(c, batch, o);
    Batch run{out.seconds, out.cli_cpu};
    for (size_t i = 0; i < rig.daemons.size(); ++i) run.cpu += cpu_seconds(rig.daemons[i]) - cpu0[i];
    sampler.stop();
    run.rss_relay_kb = std::max(sampler.peak_rss_kb("relay"), test::proc_status(c.relay_pid(), "VmHWM:"));
    if (redis_at_start >= 0 && sampler.peak_redis_bytes() >= 0) {
      run.redis_growth = std::max(0L, sampler.peak_redis_bytes() - redis_at_start);
    }
    res.identical += out.identical;
    res.failed += out.failed;
    transfer_ms.insert(transfer_ms.end(), out.transfer_ms.begin(), out.transfer_ms.end());
    res.batch_mbs.push_back(run.seconds > 0 ? static_cast<double>(res.bytes) / 1e6 / run.seconds : 0);
    runs.push_back(run);
    std::fprintf(stderr, "  %.0f MB/s, %d of %d bit-identical\n", res.batch_mbs.back(), out.identical, o.concurrent);
  }
  res.batches = o.repeat;
  res.per_transfer = percentiles(transfer_ms);
  std::sort(runs.begin(), runs.end(), [](const Batch& x, const Batch& y) { return x.seconds < y.seconds; });
  const Batch& median = runs[runs.size() / 2];
  res.seconds = median.seconds;
  res.cpu_total = median.cpu;
  res.rss_relay_kb = median.rss_relay_kb;
  res.redis_growth = median.redis_growth;
  // What Redis still holds once every transfer has ended (history kept for
  // Last-Event-ID resume until the transfer's TTL).
  std::this_thread::sleep_for(2s);
  const long redis_after = redis_used_memory(rig.redis);
  if (redis_before >= 0 && redis_after >= 0) res.redis_held_after = std::max(0L, redis_after - redis_before);
}

ConcurrentResults run_store(const Options& o, const std::string& store,
                            const std::vector<std::vector<DataFile>>& files) {
  ConcurrentResults res;
  res.store = store;
  res.label = store == "cluster" ? strf("Redis Cluster (%d masters)", o.cluster_masters) : "one Redis";
  const int per_agent = static_cast<int>(files[0].size());
  Rig rig;
  Result<void> r = start_store(o, store, rig);
  if (r) r = start_agents(o, per_agent, rig);
  if (r) r = run_singles(o, files[0][0], rig, res);
  if (!r) {
    res.error = r.error().message;
    res.absent = r.error().code == "redis_absent";
    return res;
  }
  std::vector<Transfer> batch;
  for (int i = 0; i < o.concurrent; ++i) {
    int a = i % o.agents, f = i / o.agents;
    batch.push_back(Transfer{i, a, &files[static_cast<size_t>(a)][static_cast<size_t>(f)],
                             rig.d->dir() + strf("/out-%d.bin", i)});
  }
  res.transfers = o.concurrent;
  res.bytes = files[0][0].bytes * static_cast<uint64_t>(o.concurrent);
  run_batches(o, batch, rig, res);
  res.measured = true;
  return res;
}

std::vector<std::string> single_row(const ConcurrentResults& res, uint64_t bytes) {
  std::string singles;
  for (double m : res.single_runs_mbs) singles += (singles.empty() ? "" : ", ") + strf("%.0f", m);
  return {strf("%s: one %s transfer (median of %zu: %s MB/s)", res.label.c_str(), mib_label(bytes).c_str(),
               res.single_runs_mbs.size(), singles.c_str()),
          strf("%.3f", res.single_seconds), strf("%.0f", res.single_mbs), "×1.00", "", "",
          strf("%zu of %zu", res.single_runs_mbs.size(), res.single_runs_mbs.size()), "", "", "", ""};
}

void print_concurrent(const Options& o, const std::vector<ConcurrentResults>& all, int per_agent) {
  const uint64_t bytes = o.concurrent_mib * kMiB;
  std::string where;
  for (const auto& r : all) where += (where.empty() ? "" : ", then ") + r.label;
  std::printf(
      "\n### d. %d concurrent %s transfers from %d agents (%d files each): %s\n\n"
      "%d CLI processes started at once, each its own requester key; every output checked by SHA-256. "
      "On each store its own relay, agents and Redis; %d batches one after the other; the median batch is shown "
      "(the first also pays for the first touch of the memory the batch needs). Per transfer: exec to exit of "
      "each CLI over every batch.\n\n",
      o.concurrent, mib_label(bytes).c_str(), o.agents, per_agent, where.c_str(), o.concurrent, o.repeat);
  std::vector<std::vector<std::string>> rows;
  for (const auto& res : all) {
    if (!res.measured) {
      rows.push_back({res.label + ": " + (res.absent ? "skipped: " : "failed: ") + res.error});
      continue;
    }
    rows.push_back(single_row(res, bytes));
    std::string batches;
    for (double m : res.batch_mbs) batches += (batches.empty() ? "" : ", ") + strf("%.0f", m);
    rows.push_back(
        {strf("%s: %d at once (aggregate, first exec → last exit; median of %d batches: %s MB/s)", res.label.c_str(),
              o.concurrent, res.batches, batches.c_str()),
         strf("%.2f", res.seconds), strf("%.0f", res.aggregate_mbs()), strf("×%.2f", res.aggregate_mbs() / res.single_mbs),
         strf("%.2f", res.per_transfer.p50 / 1000), strf("%.2f", res.per_transfer.p99 / 1000),
         strf("%d of %d%s", res.identical, res.checked(), res.failed ? strf(" (%d failed)", res.failed).c_str() : ""),
         strf("%.1f", res.cpu_total / (static_cast<double>(res.bytes) / 1e9)), mb_kb(res.rss_relay_kb),
         mb(res.redis_growth), strf("+%s", mb(res.redis_held_after).c_str())});
  }
  print_table({"what", "wall s", "MB/s", "÷ one transfer", "per transfer p50 s", "p99 s", "bit-identical",
               "CPU-s all / GB", "relay peak RSS", "Redis growth (peak, all nodes)", "Redis 2 s after the last exit"},
              rows);
  if (all.size() == 2 && all[0].measured && all[1].measured) {
    const ConcurrentResults &a = all[0], &b = all[1];
    std::printf("\n%s ÷ %s: aggregate ×%.2f (%.0f vs %.0f MB/s), per transfer p50 ×%.2f, p99 ×%.2f, one transfer "
                "×%.2f\n",
                b.label.c_str(), a.label.c_str(), b.aggregate_mbs() / a.aggregate_mbs(), b.aggregate_mbs(),
                a.aggregate_mbs(), b.per_transfer.p50 / a.per_transfer.p50, b.per_transfer.p99 / a.per_transfer.p99,
                b.single_mbs / a.single_mbs);
  }
  std::fflush(stdout);
}

}  // namespace

std::vector<ConcurrentResults> run_concurrent(const Options& o) {
  const int per_agent = (o.concurrent + o.agents - 1) / o.agents;
  const uint64_t bytes = o.concurrent_mib * kMiB;
  std::fprintf(stderr, "e2e_bench: writing %d files of %s for %d agents\n", o.agents * per_agent,
               mib_label(bytes).c_str(), o.agents);
  std::vector<std::vector<DataFile>> files(static_cast<size_t>(o.agents));
  for (int a = 0; a < o.agents; ++a) {
    for (int f = 0; f < per_agent; ++f) {
      auto file = make_data_file(o.data_dir + "/concurrent/" + agent_id(a), strf("file-%d.bin", f), bytes,
                                 5000 + static_cast<uint64_t>(a * per_agent + f));
      if (!file) {
        ConcurrentResults failed;
        failed.error = file.error().message;
        return {failed};
      }
      files[static_cast<size_t>(a)].push_back(*file);
    }
  }
  std::vector<ConcurrentResults> all;
  for (const std::string& store : o.concurrent_stores) all.push_back(run_store(o, store, files));
  print_concurrent(o, all, per_agent);
  return all;
}

}  // namespace sealrelay::bench
