#include "bench/relay/bench_util.h"

#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>

namespace sealrelay::bench {

using namespace std::chrono_literals;

std::string& relay_binary_override() {
  static std::string path;
  return path;
}

std::string relay_binary() {
  return relay_binary_override().empty() ? test::binary("relay/sealrelay-relay") : relay_binary_override();
}

std::string token(const std::string& dir, std::vector<std::string> args) {
  std::vector<std::string> argv = {relay_binary(), "--tokens", dir + "/tokens.json", "token"};
  argv.insert(argv.end(), args.begin(), args.end());
  auto r = test::run_command(argv);
  if (!r || r->exit_code != 0) {
    std::fprintf(stderr, "token command failed\n");
    std::exit(1);
  }
  std::string out = r->out;
  while (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

std::vector<std::string> relay_argv(const std::string& dir, const std::string& listen,
                                    const std::vector<std::string>& extra) {
  std::vector<std::string> argv = {relay_binary(), "--tokens", dir + "/tokens.json", "--listen", listen,
                                   "--rate-per-ip", "0", "--rate-per-token", "0"};
  argv.insert(argv.end(), extra.begin(), extra.end());
  return argv;
}

std::unique_ptr<test::Process> start_relay(const std::string& dir, const std::vector<std::string>& extra,
                                           int& port) {
  auto p = test::Process::spawn(relay_argv(dir, "127.0.0.1:0", extra), dir + "/relay.log");
  if (!p) {
    std::fprintf(stderr, "%s\n", p.error().message.c_str());
    std::exit(1);
  }
  auto got = (*p)->wait_for_log(R"(listening on 127\.0\.0\.1:(\d+))", 30s);
  if (!got) {
    std::fprintf(stderr, "relay did not start:\n%s\n", (*p)->log().c_str());
    std::exit(1);
  }
  port = std::stoi(*got);
  return std::move(*p);
}

double proc_cpu_seconds(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string all((std::istreambuf_iterator<char>(in)), {});
  auto close = all.rfind(')');
  if (close == std::string::npos) return 0;
  std::istringstream rest(all.substr(close + 2));
  std::string f;
  long utime = 0, stime = 0;
  for (int i = 3; i <= 15 && rest >> f; ++i) {
    if (i == 14) utime = std::stol(f);
    if (i == 15) stime = std::stol(f);
  }
  return static_cast<double>(utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

long redis_info(const test::RedisServer& r, const std::string& section, const std::string& key) {
  auto text = r.command({"INFO", section});
  if (!text) return -1;
  auto at = text->find(key + ":");
  return at == std::string::npos ? -1 : std::stol(text->substr(at + key.size() + 1));
}

std::string thousands(size_t n) {
  std::string s = std::to_string(n);
  for (int at = static_cast<int>(s.size()) - 3; at > 0; at -= 3) s.insert(static_cast<size_t>(at), ",");
  return s;
}

CpuHog::CpuHog(int n, int nice) : nice_(nice) {
  for (int i = 0; i < n; ++i) {
    std::vector<std::string> argv = {"/bin/sh", "-c", "while :; do :; done"};
    if (nice != 0) argv.insert(argv.begin(), {"/usr/bin/nice", "-n", std::to_string(nice)});
    auto p = test::Process::spawn(argv, dir_.path() + "/hog.log");
    if (!p) {
      std::fprintf(stderr, "cpu hog: %s\n", p.error().message.c_str());
      std::exit(1);
    }
    loops_.push_back(std::move(*p));
  }
}

CpuHog::~CpuHog() {
  for (auto& p : loops_) {
    p->kill(SIGKILL);
    p->wait_exit(5s);
  }
}

std::string CpuHog::describe() const {
  if (loops_.empty()) return "none";
  return std::to_string(loops_.size()) + " busy loop(s) " +
         (nice_ == 0 ? std::string("at relay_bench's own priority")
                     : "at relay_bench's priority + " + std::to_string(nice_));
}

}  // namespace sealrelay::bench
