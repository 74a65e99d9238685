// Test support: real processes on loopback, for integration and end-to-end
// tests. Small on purpose; shared by every component's tests.
//
//   TempDir dir;                                   // removed with its contents
//   auto redis = RedisServer::start(dir.path());   // unix socket, no TCP port
//   if (!redis) GTEST_SKIP() << redis.error().message;
//   auto relay = Process::spawn({binary("relay/sealrelay-relay"), "--listen",
//                                "127.0.0.1:0", "--redis", redis->url()}, dir.path() + "/relay.log");
//   auto port = relay->wait_for_log(R"(listening on [0-9.]+:(\d+))", 10s);  // capture group 1
//   ... relay->kill(SIGKILL); relay->wait_exit(5s);
//
// Nothing here sleeps to wait for something: waits poll a condition until a
// deadline. A Process still running at destruction gets SIGKILL and is reaped;
// only processes spawned here are ever signalled, by PID.
#pragma once

#include <hiredis.h>
#include <sys/types.h>

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"

namespace sealrelay::test {

using namespace std::chrono_literals;

// Path of a built binary, relative to the build directory, e.g.
// binary("relay/sealrelay-relay").
std::string binary(const std::string& relative);

// A fresh directory under $TMPDIR (short path: unix sockets allow 107 bytes),
// removed recursively on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// A TCP port on 127.0.0.1 that was free a moment ago. Racy by nature: prefer
// "port 0 and read the bound port back" where the program supports it.
int free_port();

// Polls `pred` every `interval` until it returns true (-> true) or `timeout`
// passes (-> false, after one last try).
bool wait_until(const std::function<bool()>& pred, std::chrono::milliseconds timeout,
                std::chrono::milliseconds interval = 5ms);

// Whole file as a string ("" when it cannot be read).
std::string read_file(const std::string& path);

// Writes `bytes` of incompressible pseudo-random content (AES-128-CTR keyed
// by `seed`, about 1 GiB a second) to `path`, calling `each_mib` (when set)
// after every MiB. False when it cannot be written (disk full).
bool write_random_file(const std::string& path, uint64_t bytes, uint64_t seed,
                       const std::function<void()>& each_mib = nullptr);
// Both files exist and hold the same bytes.
bool same_file(const std::string& a, const std::string& b);

// `s` up to its first newline (a token command's output is its first line).
std::string first_line(const std::string& s);

// GET `path` on 127.0.0.1:`port` (with a bearer token when not empty):
// the HTTP status (0: no answer), the body into `body` when given.
int http_status(int port, const std::string& path, const std::string& token = "", std::string* body = nullptr);

// A child process with stdout and stderr appended to a log file.
class Process {
 public:
  struct Options {
    std::vector<std::string> env;  // extra "NAME=value" entries
    std::string cwd;               // empty: inherit
  };

  // fork + execv(argv[0]); fails when the binary is not executable. The
  // child gets SIGKILL if the spawning *thread* ends (PR_SET_PDEATHSIG), so
  // a crashed test leaves nothing running: spawn from a thread that lives
  // as long as the child should.
  static Result<std::unique_ptr<Process>> spawn(const std::vector<std::string>& argv,
                                                const std::string& log_path, Options opts);
  static Result<std::unique_ptr<Process>> spawn(const std::vector<std::string>& argv,
                                                const std::string& log_path) {
    return spawn(argv, log_path, Options{});
  }
  ~Process();  // SIGKILL + reap if still running

  pid_t pid() const { return pid_; }
  // Sends `sig` to this child only (no-op once reaped).
  void kill(int sig);
  // True until the child has exited (reaps it when it has).
  bool running();
  // Waits for exit; returns the raw wait status (use WIFEXITED etc.), or
  // nullopt on timeout.
  std::optional<int> wait_exit(std::chrono::milliseconds timeout);
  // The log so far.
  std::string log() const { return read_file(log_path_); }
  const std::string& log_path() const { return log_path_; }
  // Polls the log until the ECMAScript regex matches; returns capture group 1
  // (or the whole match when it has no group). nullopt on timeout or when the
  // process exits first.
  std::optional<std::string> wait_for_log(const std::string& regex,
                                          std::chrono::milliseconds timeout);

 private:
  Process(pid_t pid, std::string log_path) : pid_(pid), log_path_(std::move(log_path)) {}
  pid_t pid_;
  bool reaped_ = false;
  int status_ = 0;
  std::string log_path_;
};

// A TCP connection to 127.0.0.1:`port` (TCP_NODELAY), or -1.
int connect_loopback(int port);

// The number after `field` ("VmRSS:", "VmHWM:" in kB; "Threads:") in
// /proc/PID/status; -1 when the process or the field is not there.
long proc_status(pid_t pid, std::string_view field);
// Resident memory in bytes, and thread count (0 when the process is gone).
size_t rss_of(pid_t pid);
int threads_of(pid_t pid);

// Runs a command to completion; stdout and stderr captured separately.
struct RunResult {
  int exit_code = -1;  // -1: killed by a signal or timed out
  std::string out;
  std::string err;
};
Result<RunResult> run_command(const std::vector<std::string>& argv,
                              std::chrono::milliseconds timeout = 30s);

// Runs a command to completion with `env` added to its environment, stdout
// and stderr together in `log` (replaced).
struct LoggedRun {
  int exit_code = -1;  // -1: killed by a signal, or did not exit in time
  std::string output;
};
LoggedRun run_logged(const std::vector<std::string>& argv, const std::string& log,
                     const std::vector<std::string>& env = {}, std::chrono::milliseconds timeout = 60s);

// One command on a hiredis connection, arguments binary-safe: the reply,
// freed with it; null on an I/O error (c->errstr says which).
struct RedisReplyFree {
  void operator()(redisReply* r) const { freeReplyObject(r); }
};
using RedisReplyPtr = std::unique_ptr<redisReply, RedisReplyFree>;
RedisReplyPtr redis_call(redisContext* c, const std::vector<std::string>& args);

// A private redis-server listening only on a unix socket in `dir`
// (port 0, no persistence). start() fails with code "redis_absent" when no
// redis-server binary is installed: the test should GTEST_SKIP() with the
// message.
class RedisServer {
 public:
  static Result<std::unique_ptr<RedisServer>> start(const std::string& dir,
                                                    std::vector<std::string> extra_args = {});
  // "unix:///tmp/.../redis.sock"
  std::string url() const { return "unix://" + socket_; }
  const std::string& socket_path() const { return socket_; }
  Process& process() { return *proc_; }
  // Runs one command (arguments binary-safe) on a fresh connection and
  // returns the reply flattened to text: strings and status as-is, integers
  // in decimal, nil as "(nil)", arrays as one element per line. Error
  // replies come back as Error{"redis_error", text}.
  Result<std::string> command(const std::vector<std::string>& args) const;

 private:
  std::string socket_;
  std::unique_ptr<Process> proc_;
};

}  // namespace sealrelay::test
