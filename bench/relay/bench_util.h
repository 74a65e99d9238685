// What relay_bench's parts share: the relay binary under test, its tokens,
// starting it, and reading a process's CPU and Redis's INFO.
#pragma once

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "tests/support/support.h"

namespace sealrelay::bench {

// --relay: another sealrelay-relay binary (e.g. an older build, for a
// before/after table in one sitting); empty: this build's.
std::string& relay_binary_override();
std::string relay_binary();

// `sealrelay-relay --tokens DIR/tokens.json token ARGS...`: the token it printed.
std::string token(const std::string& dir, std::vector<std::string> args);

// The relay's argv: tokens in `dir`, `listen`, no rate limits, then `extra`.
std::vector<std::string> relay_argv(const std::string& dir, const std::string& listen,
                                    const std::vector<std::string>& extra);
// Starts it on a free port (exits the bench when it does not start).
std::unique_ptr<test::Process> start_relay(const std::string& dir, const std::vector<std::string>& extra,
                                           int& port);

// utime + stime of a process in seconds.
double proc_cpu_seconds(pid_t pid);
// An integer field of INFO `section`; -1 when unreadable.
long redis_info(const test::RedisServer& r, const std::string& section, const std::string& key);

// "10,000".
std::string thousands(size_t n);

// `n` busy loops (sh -c 'while :; do :; done'), each niced by `nice` when it
// is not 0, running until the object goes: a neighbour that wants the CPU.
class CpuHog {
 public:
  CpuHog(int n, int nice);
  ~CpuHog();  // kills its own loops, by pid
  std::string describe() const;

 private:
  std::vector<std::unique_ptr<test::Process>> loops_;
  int nice_;
  test::TempDir dir_;
};

}  // namespace sealrelay::bench
