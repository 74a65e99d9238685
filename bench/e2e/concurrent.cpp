// Part d of e2e_bench: N CLI processes at once, each getting one file, from
// M agents (N/M files each, distinct content), through the Redis store;
// beside single transfers of the same size on the same relay, same run.
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

// Runs `transfers` at once; fills identical/failed; returns wall seconds
// from the first exec to the last exit, and the CLIs' CPU.
double run_batch(test::Deployment& c, const std::vector<Transfer>& transfers, const Options& o, int& identical, int& failed,
                 double& cli_cpu) {
  std::vector<std::unique_ptr<CliRun>> runs;
  std::vector<CliRun*> raw;
  for (size_t i = 0; i < transfers.size(); ++i) {
    const Transfer& t = transfers[i];
    auto r = measured_cli(c, {"-q", "get", agent_id(t.agent) + ":/demo/" + t.file->name, "-o", t.out},
                          strf("get-%zu.log", i), t.requester);
    if (!r) {
      ++failed;
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
    cli_cpu += runs[i]->cpu_seconds();
    if (runs[i]->exit_code() != 0) {
      ++failed;
      if (failed <= 3) std::fprintf(stderr, "  transfer %zu failed: %s\n", i, runs[i]->log().c_str());
    }
  }
  for (const Transfer& t : transfers) {
    if (fs::exists(t.out) && sha256_file(t.out) == t.file->sha256) ++identical;
    fs::remove(t.out);
  }
  return runs.empty() ? 0 : std::chrono::duration<double>(last - first).count();
}

}  // namespace

ConcurrentResults run_concurrent(const Options& o) {
  ConcurrentResults res;
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
        res.error = file.error().message;
        return res;
      }
      files[static_cast<size_t>(a)].push_back(*file);
    }
  }
  auto started = start_deployment(Store::kRedis);
  if (!started) {
    res.error = started.error().message;
    return res;
  }
  test::Deployment& c = **started;
  std::fprintf(stderr, "e2e_bench: %d requester keys, %d agents\n", o.concurrent, o.agents);
  if (auto r = c.add_requesters(o.concurrent); !r) {
    res.error = r.error().message;
    return res;
  }
  for (int a = 0; a < o.agents; ++a) {
    // Each agent serves all of its files at once (its default is 4).
    auto r = start_agent(c, agent_id(a), o.data_dir + "/concurrent/" + agent_id(a),
                         {"--max-transfers", std::to_string(per_agent)});
    if (r) r = pin(c, agent_id(a));  // first contact pins the key, outside the measurement
    if (!r) {
      res.error = r.error().message;
      return res;
    }
  }
  if (auto r = c.share_pins(); !r) {
    res.error = r.error().message;
    return res;
  }

  // One transfer at a time, five times: the reference (the median).
  constexpr int kSingles = 5;
  for (int i = 0; i < kSingles; ++i) {
    int identical = 0, failed = 0;
    double cpu = 0;
    double s = run_batch(c, {Transfer{-1, 0, &files[0][0], c.dir() + "/single.bin"}}, o, identical, failed, cpu);
    if (failed || identical != 1) {
      res.error = "the single reference transfer failed";
      return res;
    }
    res.single_runs_mbs.push_back(static_cast<double>(bytes) / 1e6 / s);
  }
  std::vector<double> sorted = res.single_runs_mbs;
  std::sort(sorted.begin(), sorted.end());
  res.single_mbs = sorted[sorted.size() / 2];
  res.single_seconds = static_cast<double>(bytes) / 1e6 / res.single_mbs;

  std::vector<Transfer> batch;
  for (int i = 0; i < o.concurrent; ++i) {
    int a = i % o.agents, f = i / o.agents;
    batch.push_back(
        Transfer{i, a, &files[static_cast<size_t>(a)][static_cast<size_t>(f)], c.dir() + strf("/out-%d.bin", i)});
  }
  std::vector<pid_t> daemons = c.agent_pids();
  daemons.push_back(c.relay_pid());
  if (redis_pid(c) > 0) daemons.push_back(redis_pid(c));
  // Several batches, the median reported: the first one on a fresh relay,
  // agents and Redis also pays for their first touch of the memory a hundred
  // transfers need (on this VM a fresh page costs ~4x a reused one,
  // docs/performance-history.md), which a relay serving all day has long paid.
  struct Batch {
    double seconds = 0, cpu = 0;
    long rss_relay_kb = -1, redis_growth = -1;
  };
  std::vector<Batch> runs;
  res.transfers = o.concurrent;
  res.bytes = bytes * static_cast<uint64_t>(o.concurrent);
  const long redis_before = redis_used_memory(c);
  for (int b = 0; b < o.repeat; ++b) {
    std::vector<double> cpu0;
    for (pid_t p : daemons) cpu0.push_back(cpu_seconds(p));
    PeakSampler sampler(c.redis());
    sampler.watch("relay", c.relay_pid());
    const long redis_at_start = redis_used_memory(c);
    std::fprintf(stderr, "e2e_bench: %d transfers at once (batch %d of %d)\n", o.concurrent, b + 1, o.repeat);
    Batch run;
    int identical = 0, failed = 0;
    run.seconds = run_batch(c, batch, o, identical, failed, run.cpu);
    for (size_t i = 0; i < daemons.size(); ++i) run.cpu += cpu_seconds(daemons[i]) - cpu0[i];
    sampler.stop();
    run.rss_relay_kb = std::max(sampler.peak_rss_kb("relay"), test::proc_status(c.relay_pid(), "VmHWM:"));
    if (redis_at_start >= 0 && sampler.peak_redis_bytes() >= 0) {
      run.redis_growth = std::max(0L, sampler.peak_redis_bytes() - redis_at_start);
    }
    res.identical += identical;
    res.failed += failed;
    res.batch_mbs.push_back(run.seconds > 0 ? static_cast<double>(res.bytes) / 1e6 / run.seconds : 0);
    runs.push_back(run);
    std::fprintf(stderr, "  %.0f MB/s, %d of %d bit-identical\n", res.batch_mbs.back(), identical, o.concurrent);
  }
  res.batches = o.repeat;
  std::sort(runs.begin(), runs.end(), [](const Batch& x, const Batch& y) { return x.seconds < y.seconds; });
  const Batch& median = runs[runs.size() / 2];
  res.seconds = median.seconds;
  res.cpu_total = median.cpu;
  res.rss_relay_kb = median.rss_relay_kb;
  res.redis_growth = median.redis_growth;
  // What Redis still holds once every transfer has ended (history kept for
  // Last-Event-ID resume until the transfer's TTL).
  std::this_thread::sleep_for(2s);
  const long redis_after = redis_used_memory(c);
  if (redis_before >= 0 && redis_after >= 0) res.redis_held_after = std::max(0L, redis_after - redis_before);
  res.measured = true;

  std::printf(
      "\n### d. %d concurrent %s transfers from %d agents (%d files each), Redis store\n\n"
      "%d CLI processes started at once, each its own requester key; every output checked by SHA-256. "
      "%d batches one after the other on the same relay, agents and Redis; the median batch is shown (the first "
      "also pays for the first touch of the memory the batch needs).\n\n",
      o.concurrent, mib_label(bytes).c_str(), o.agents, per_agent, o.concurrent, res.batches);
  std::string singles, batches;
  for (double m : res.single_runs_mbs) singles += (singles.empty() ? "" : ", ") + strf("%.0f", m);
  for (double m : res.batch_mbs) batches += (batches.empty() ? "" : ", ") + strf("%.0f", m);
  print_table(
      {"what", "wall s", "MB/s", "÷ one transfer", "bit-identical", "CPU-s all / GB", "relay peak RSS",
       "Redis growth (peak)", "Redis 2 s after the last exit"},
      {{strf("one %s transfer (median of %zu: %s MB/s)", mib_label(bytes).c_str(), res.single_runs_mbs.size(),
             singles.c_str()),
        strf("%.3f", res.single_seconds), strf("%.0f", res.single_mbs), "×1.00",
        strf("%zu of %zu", res.single_runs_mbs.size(), res.single_runs_mbs.size()), "", "", ""},
       {strf("%d at once (aggregate, first exec → last exit; median of %d batches: %s MB/s)", o.concurrent,
             res.batches, batches.c_str()),
        strf("%.2f", res.seconds),
        strf("%.0f", res.aggregate_mbs()), strf("×%.2f", res.aggregate_mbs() / res.single_mbs),
        strf("%d of %d%s", res.identical, res.checked(), res.failed ? strf(" (%d failed)", res.failed).c_str() : ""),
        strf("%.1f", res.cpu_total / (static_cast<double>(res.bytes) / 1e9)), mb_kb(res.rss_relay_kb),
        mb(res.redis_growth), strf("+%s", mb(res.redis_held_after).c_str())}});
  return res;
}

}  // namespace sealrelay::bench
