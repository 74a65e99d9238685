// The end-to-end benchmark's harness: a whole sealrelay on loopback
// (tests/support's Deployment: a private redis-server, the real relay, real
// agents) and the real `sealrelay` CLI run as child processes whose output,
// exit, CPU time and memory are measured. The CLI gets its own small runner here
// because a benchmark needs what Process does not give: its stdout as
// timestamped lines through a pipe, and its rusage (CPU, peak RSS) from wait4.
//
// Every child is signalled by PID only, and only children started here.
// Ctrl-C (SIGINT, SIGTERM, SIGHUP) sets a flag; waits throw Interrupted, the
// stack unwinds, destructors kill the children and remove the temp dirs. A
// second Ctrl-C exits at once (PR_SET_PDEATHSIG still kills the children).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/result.h"
#include "tests/support/deployment.h"
#include "tests/support/support.h"

namespace sealrelay::bench {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

// ---- interruption -----------------------------------------------------------

struct Interrupted {};
void install_interrupt_handler();
bool interrupted();
// Throws Interrupted once the user asked to stop.
void throw_if_interrupted();

// ---- /proc and files --------------------------------------------------------

// utime + stime of a whole process (all its threads, dead ones included), in
// seconds; -1 when it cannot be read.
double cpu_seconds(pid_t pid);
// Hex SHA-256 of a file ("" when it cannot be read).
std::string sha256_file(const std::string& path);

// ---- the CLI, measured ------------------------------------------------------

// One run of a program with stdout on a pipe (every line timestamped on
// arrival) and stderr appended to a log. Reaped with wait4 for its rusage.
class CliRun {
 public:
  static Result<std::unique_ptr<CliRun>> start(const std::vector<std::string>& argv,
                                               const std::vector<std::string>& env, const std::string& log_path);
  ~CliRun();  // SIGKILL + reap if still running
  CliRun(const CliRun&) = delete;
  CliRun& operator=(const CliRun&) = delete;

  // Waits for all `runs` to exit, reading their output as it comes.
  // Returns false (and SIGKILLs the rest) when `timeout` passes.
  static bool wait_all(const std::vector<CliRun*>& runs, std::chrono::milliseconds timeout);
  bool wait(std::chrono::milliseconds timeout) { return wait_all({this}, timeout); }

  pid_t pid() const { return pid_; }
  bool exited() const { return reaped_; }
  int exit_code() const { return exit_code_; }  // -1: killed by a signal
  Clock::time_point started() const { return started_; }
  Clock::time_point ended() const { return ended_; }
  double seconds() const { return std::chrono::duration<double>(ended_ - started_).count(); }
  double cpu_seconds() const { return cpu_seconds_; }  // user + system, from wait4
  long max_rss_kb() const { return max_rss_kb_; }      // from wait4
  // Arrival time of the first stdout line containing `needle`.
  std::optional<Clock::time_point> first_line_with(const std::string& needle) const;
  const std::vector<std::pair<Clock::time_point, std::string>>& lines() const { return lines_; }
  std::string log() const { return test::read_file(log_path_); }

 private:
  CliRun() = default;
  void read_available(Clock::time_point now);
  bool try_reap();

  pid_t pid_ = -1;
  int out_fd_ = -1;
  bool reaped_ = false;
  int exit_code_ = -1;
  double cpu_seconds_ = 0;
  long max_rss_kb_ = 0;
  Clock::time_point started_, ended_;
  std::string partial_;
  std::vector<std::pair<Clock::time_point, std::string>> lines_;
  std::string log_path_;
};

// ---- a whole sealrelay on loopback (tests/support's Deployment) -------------

using Store = test::Deployment::Store;
const char* store_name(Store s);

// Redis (kRedis) and one relay with the request rate limits off (they
// protect a public relay; 200 gets in a row or 100 CLIs starting at once
// would meet them, not the pipeline), other flags at their defaults;
// `relay_args` after them (kMemory with --redis-cluster: a relay on a Redis
// Cluster the caller started).
Result<std::unique_ptr<test::Deployment>> start_deployment(Store store,
                                                           const std::vector<std::string>& relay_args = {});
// Adds agent `id` sharing `share_dir` as /demo, starts it and waits until
// the relay lists it online.
Result<void> start_agent(test::Deployment& d, const std::string& id, const std::string& share_dir,
                         const std::vector<std::string>& extra_args = {});
// Runs `sealrelay ls ID:/demo` once so the CLI pins the agent's key (the
// first contact) outside any measurement.
Result<void> pin(test::Deployment& d, const std::string& id);
// redis-server's pid, or -1 with the embedded store.
pid_t redis_pid(test::Deployment& d);
// INFO memory used_memory in bytes; -1 without Redis.
long redis_used_memory(const test::Deployment& d);
// The sum over `servers` (a cluster's nodes); -1 when one cannot be read or none is given.
long redis_used_memory(const std::vector<const test::RedisServer*>& servers);
// Starts the CLI with `args` against the relay as `requester` (-1: the main
// identity), measured, its stderr to `log_name` in d.dir().
Result<std::unique_ptr<CliRun>> measured_cli(const test::Deployment& d, const std::vector<std::string>& args,
                                             const std::string& log_name, int requester = -1);

// ---- sampling during a transfer ---------------------------------------------

// Polls VmRSS of the watched processes and Redis's used_memory every 20 ms
// on a thread of its own, keeping the peaks. Over several servers (a
// cluster) the peak is of their sum.
class PeakSampler {
 public:
  explicit PeakSampler(const test::RedisServer* redis);
  explicit PeakSampler(const std::vector<const test::RedisServer*>& redis);
  ~PeakSampler();
  PeakSampler(const PeakSampler&) = delete;
  PeakSampler& operator=(const PeakSampler&) = delete;

  // Starts watching `pid` under `name` (may be called while sampling).
  void watch(const std::string& name, pid_t pid);
  // Stops the thread; peaks are final after it.
  void stop();
  long peak_rss_kb(const std::string& name) const;
  long peak_redis_bytes() const { return peak_redis_; }

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  long peak_redis_ = -1;
};

}  // namespace sealrelay::bench
