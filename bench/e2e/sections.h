// The four parts of e2e_bench, each printing its markdown table and
// returning its figures for the summary against issue 8's targets.
//   throughput  end-to-end get of one file per size, embedded and Redis store
//   baselines   the same files through bench/baselines/run (nginx, wormhole)
//   latency     1 KiB gets: time to first plaintext byte and total, p50/p99
//   concurrent  N transfers at once from M agents, beside one transfer
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "bench/e2e/harness.h"

namespace sealrelay::bench {

inline constexpr uint64_t kMiB = 1ull << 20;

struct Options {
  std::vector<uint64_t> sizes_mib{10, 100, 1024};
  std::vector<std::string> parts{"throughput", "baselines", "latency", "concurrent"};
  int repeat = 3;  // rounds per throughput row and concurrent batches, median reported
  int gets = 200;
  int concurrent = 100;
  int agents = 20;
  uint64_t concurrent_mib = 10;
  // Where the concurrent part runs, one after the other in the same run:
  // "redis" (one redis-server), "cluster" (a Redis Cluster of
  // cluster_masters masters on loopback).
  std::vector<std::string> concurrent_stores{"redis", "cluster"};
  int cluster_masters = 3;
  std::chrono::seconds timeout{900};  // per transfer or baseline run
  std::string baselines;              // path of bench/baselines/run
  std::string perf_dir;               // non-empty: perf record the largest size
  std::string data_dir;               // where the test files are written
  std::string tmp_dir;                // file system of every temp dir (TMPDIR)
  std::string disk_dir;               // non-empty: one more row with the output here
  bool has(const std::string& part) const;
};

// One source file shared by an agent as /demo/<name>.
struct DataFile {
  std::string dir, name;
  uint64_t bytes = 0;
  std::string sha256;
  std::string path() const { return dir + "/" + name; }
};
Result<DataFile> make_data_file(const std::string& dir, const std::string& name, uint64_t bytes, uint64_t seed);

// ---- a + b: throughput of one get, and the baselines ------------------------

struct GetFigures {
  Store store = Store::kMemory;
  uint64_t bytes = 0;
  double seconds = 0;  // CLI exec to exit
  double cpu_agent = 0, cpu_relay = 0, cpu_redis = 0, cpu_cli = 0;
  long rss_relay_kb = -1, rss_agent_kb = -1, rss_cli_kb = -1;
  long redis_growth = -1;  // bytes, peak during the transfer minus before
  std::string sha256;      // of the output
  bool identical = false;
  std::string error;  // empty: measured
  bool ok() const { return error.empty(); }
  double mbs() const { return static_cast<double>(bytes) / 1e6 / seconds; }
  double cpu_total() const { return cpu_agent + cpu_relay + cpu_redis + cpu_cli; }
  double cpu_per_gb() const { return cpu_total() / (static_cast<double>(bytes) / 1e9); }
};

struct BaselineFigures {
  std::string name;
  std::string skipped;  // non-empty: not measured, and why
  uint64_t bytes = 0;
  double seconds = 0, cpu_seconds = -1;
  double setup_seconds = -1;  // as the baseline reports it (see bench/baselines/run)
  bool identical = false;
  bool ok() const { return skipped.empty(); }
  double mbs() const { return static_cast<double>(bytes) / 1e6 / seconds; }
};

struct ThroughputResults {
  std::map<std::pair<uint64_t, Store>, GetFigures> gets;                  // by (bytes, store)
  std::map<std::pair<uint64_t, std::string>, BaselineFigures> baselines;  // by (bytes, name)
  std::optional<GetFigures> disk_row;                                     // largest size, Redis, output in --disk-dir
  // MB/s of every round, and failed rounds, behind each median above.
  std::map<std::pair<uint64_t, Store>, std::vector<double>> gets_mbs;
  std::map<std::pair<uint64_t, Store>, int> gets_failed;
  std::map<std::pair<uint64_t, std::string>, std::vector<double>> baselines_mbs;
};
ThroughputResults run_throughput(const Options& o);

// ---- c: latency of a 1 KiB get ----------------------------------------------

struct Percentiles {
  double p50 = 0, p99 = 0;
  size_t n = 0;
};
struct LatencyResults {
  bool measured = false;
  std::string error;
  Percentiles cli_first_byte, cli_total, curl_total;              // processes
  Percentiles lib_answer, lib_first_byte, lib_total, http_total;  // in-process
  int identical = 0, runs = 0;
};
LatencyResults run_latency(const Options& o);

// ---- d: concurrent transfers ------------------------------------------------

// One batch: `transfers` at once. The figures of the median batch (by
// aggregate MB/s) are reported; every batch's outputs are checked. One
// result per store in Options::concurrent_stores, in that order.
struct ConcurrentResults {
  std::string store;  // "redis" or "cluster"
  std::string label;  // for the table: "one Redis", "Redis Cluster (3 masters)"
  bool measured = false;
  std::string error;
  bool absent = false;  // not measured because redis-server or redis-cli is missing
  int transfers = 0;           // per batch
  int batches = 0;
  int identical = 0, failed = 0;  // over all batches
  std::vector<double> batch_mbs;  // every batch, in the order run
  uint64_t bytes = 0;             // per batch
  double seconds = 0, cpu_total = 0;
  double single_mbs = 0, single_seconds = 0;  // median of the single runs
  std::vector<double> single_runs_mbs;
  Percentiles per_transfer;  // ms, exec to exit of each CLI, over every batch
  long rss_relay_kb = -1, redis_growth = -1, redis_held_after = -1;
  double aggregate_mbs() const { return static_cast<double>(bytes) / 1e6 / seconds; }
  int checked() const { return transfers * batches; }
};
std::vector<ConcurrentResults> run_concurrent(const Options& o);

// ---- printing ---------------------------------------------------------------

std::string strf(const char* format, ...) __attribute__((format(printf, 1, 2)));
void print_table(const std::vector<std::string>& header, const std::vector<std::vector<std::string>>& rows);
std::string mib_label(uint64_t bytes);
std::string mb(long bytes);  // "12.3 MB", "—" when negative
std::string mb_kb(long kb);  // from kB
Percentiles percentiles(std::vector<double> ms);

}  // namespace sealrelay::bench
