// The end-to-end benchmark's harness: a whole sealrelay on loopback (a
// private redis-server, the real relay, real agents) and the real `sealrelay`
// CLI run as child processes whose output, exit, CPU time and memory are
// measured. Built on tests/support (Process with PR_SET_PDEATHSIG,
// RedisServer, TempDir, wait_until); the CLI gets its own small runner here
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
// A "Field:   N kB" line of /proc/PID/status (VmRSS:, VmHWM:, Threads:), or -1.
long status_kb(pid_t pid, const char* field);
// Hex SHA-256 of a file ("" when it cannot be read).
std::string sha256_file(const std::string& path);
// `bytes` of incompressible pseudo-random content (AES-128-CTR keyed by
// `seed`), written fast enough that generating 1 GiB takes about a second.
Result<void> write_random_file(const std::string& path, uint64_t bytes, uint64_t seed);

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

// ---- a whole sealrelay on loopback ------------------------------------------

enum class Store { kMemory, kRedis };
const char* store_name(Store s);

// redis-server (for kRedis), one relay, any number of agents, and a CLI home
// with a requester key every agent trusts. Everything lives in one TempDir,
// removed at destruction after every process is stopped.
class Cluster {
 public:
  // Starts redis (kRedis) and the relay. `relay_args` are added to the
  // relay's command line. Fails with redis_absent without redis-server.
  static Result<std::unique_ptr<Cluster>> start(Store store, const std::vector<std::string>& relay_args);
  ~Cluster();

  // Creates `n` more requester identities (homes cli-0 .. cli-<n-1>), which
  // agents added afterwards trust as well. Call before add_agent.
  Result<void> add_requesters(int n);
  // Copies the main CLI home's pins (known_agents) to the extra homes.
  Result<void> share_pins() const;

  // Creates agent `id` (token, key, trust lines) sharing `share_dir` as
  // /demo, starts it and waits until the relay lists it online.
  Result<void> add_agent(const std::string& id, const std::string& share_dir,
                         const std::vector<std::string>& extra_args = {});
  // Runs `sealrelay ls ID:/demo` once so the CLI pins the agent's key (the
  // first contact) outside any measurement.
  Result<void> pin(const std::string& id);

  const std::string& dir() const { return dir_.path(); }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  int port() const { return port_; }
  // The main CLI home (`requester` -1) or extra requester `requester`'s.
  std::string cli_home(int requester = -1) const {
    return requester < 0 ? dir() + "/cli" : dir() + "/cli-" + std::to_string(requester);
  }
  std::string agent_state(const std::string& id) const { return dir() + "/agent-" + id; }
  const std::string& requester_token() const { return requester_token_; }
  pid_t relay_pid() const { return relay_->pid(); }
  pid_t agent_pid(const std::string& id) const { return agents_.at(id)->pid(); }
  std::vector<pid_t> agent_pids() const;
  // -1 with the embedded store.
  pid_t redis_pid() const { return redis_ ? redis_->process().pid() : -1; }
  const test::RedisServer* redis() const { return redis_.get(); }
  // INFO memory used_memory in bytes; -1 without Redis.
  long redis_used_memory() const;

  // argv and environment of the CLI talking to this relay.
  std::vector<std::string> cli_argv(const std::vector<std::string>& args) const;
  std::vector<std::string> cli_env(int requester = -1) const;
  // Starts the CLI with `args` as `requester` (-1: the main identity), its
  // stderr to `log_name` in dir().
  Result<std::unique_ptr<CliRun>> cli(const std::vector<std::string>& args, const std::string& log_name,
                                      int requester = -1) const;

 private:
  Cluster() = default;
  bool agent_online(const std::string& id) const;
  // `sealrelay keygen` in cli_home(requester); returns the public key.
  Result<std::string> keygen(int requester) const;

  test::TempDir dir_;
  std::unique_ptr<test::RedisServer> redis_;
  std::unique_ptr<test::Process> relay_;
  std::map<std::string, std::unique_ptr<test::Process>> agents_;
  int port_ = 0;
  std::string requester_token_;
  std::vector<std::string> requester_keys_;  // [0]: the main CLI home's
};

// ---- sampling during a transfer ---------------------------------------------

// Polls VmRSS of the watched processes and Redis's used_memory every 20 ms
// on a thread of its own, keeping the peaks.
class PeakSampler {
 public:
  explicit PeakSampler(const test::RedisServer* redis);
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
