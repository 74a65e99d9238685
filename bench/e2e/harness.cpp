#include "bench/e2e/harness.h"

#include <fcntl.h>
#include <hiredis.h>
#include <openssl/evp.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <sstream>
#include <thread>

namespace sealrelay::bench {
namespace fs = std::filesystem;

// ---- interruption -----------------------------------------------------------

namespace {

volatile sig_atomic_t g_signals = 0;  // written by the signal handler only

extern "C" void on_signal(int) {
  g_signals = g_signals + 1;
  if (g_signals >= 2) ::_exit(130);  // second Ctrl-C: children die by PR_SET_PDEATHSIG
}

}  // namespace

void install_interrupt_handler() {
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  for (int sig : {SIGINT, SIGTERM, SIGHUP}) ::sigaction(sig, &sa, nullptr);
}

bool interrupted() { return g_signals > 0; }

void throw_if_interrupted() {
  if (interrupted()) throw Interrupted{};
}

// ---- /proc and files --------------------------------------------------------

double cpu_seconds(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string all((std::istreambuf_iterator<char>(in)), {});
  auto close = all.rfind(')');
  if (close == std::string::npos || close + 2 > all.size()) return -1;
  // Fields after "(comm) ": 3 state ... 14 utime 15 stime.
  std::istringstream rest(all.substr(close + 2));
  std::string f;
  long utime = -1, stime = -1;
  for (int i = 3; i <= 15 && rest >> f; ++i) {
    if (i == 14) utime = std::stol(f);
    if (i == 15) stime = std::stol(f);
  }
  if (utime < 0 || stime < 0) return -1;
  return static_cast<double>(utime + stime) / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

std::string sha256_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return "";
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr);
  std::vector<char> buf(1 << 20);
  while (in) {
    in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
    if (in.gcount() > 0) EVP_DigestUpdate(ctx.get(), buf.data(), static_cast<size_t>(in.gcount()));
    throw_if_interrupted();
  }
  unsigned char md[32];
  unsigned int len = 0;
  EVP_DigestFinal_ex(ctx.get(), md, &len);
  std::string hex;
  char two[3];
  for (unsigned i = 0; i < len; ++i) {
    std::snprintf(two, sizeof two, "%02x", md[i]);
    hex += two;
  }
  return hex;
}

// ---- the CLI, measured ------------------------------------------------------

Result<std::unique_ptr<CliRun>> CliRun::start(const std::vector<std::string>& argv, const std::vector<std::string>& env,
                                              const std::string& log_path) {
  if (argv.empty() || ::access(argv[0].c_str(), X_OK) != 0) {
    return make_error("spawn_failed", "not an executable: " + (argv.empty() ? "" : argv[0]));
  }
  int log = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (log < 0) return make_error("spawn_failed", "cannot open log " + log_path);
  int out[2];
  if (::pipe2(out, O_CLOEXEC) != 0) {
    ::close(log);
    return make_error("spawn_failed", std::string("pipe: ") + std::strerror(errno));
  }
  std::vector<char*> args;
  for (auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  std::unique_ptr<CliRun> run(new CliRun());
  run->log_path_ = log_path;
  const pid_t parent = ::getpid();
  run->started_ = Clock::now();
  pid_t pid = ::fork();
  if (pid == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(126);  // the bench died before prctl
    ::dup2(out[1], 1);
    ::dup2(log, 2);
    int devnull = ::open("/dev/null", O_RDONLY);
    if (devnull >= 0) ::dup2(devnull, 0);
    for (auto& e : env) ::putenv(const_cast<char*>(e.c_str()));
    ::execv(args[0], args.data());
    ::_exit(127);
  }
  ::close(out[1]);
  ::close(log);
  if (pid < 0) {
    ::close(out[0]);
    return make_error("spawn_failed", std::string("fork: ") + std::strerror(errno));
  }
  ::fcntl(out[0], F_SETFL, ::fcntl(out[0], F_GETFL) | O_NONBLOCK);
  run->pid_ = pid;
  run->out_fd_ = out[0];
  return run;
}

CliRun::~CliRun() {
  if (!reaped_ && pid_ > 0) {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
  }
  if (out_fd_ >= 0) ::close(out_fd_);
}

void CliRun::read_available(Clock::time_point now) {
  char buf[65536];
  while (out_fd_ >= 0) {
    ssize_t n = ::read(out_fd_, buf, sizeof buf);
    if (n > 0) {
      partial_.append(buf, static_cast<size_t>(n));
      for (size_t nl; (nl = partial_.find('\n')) != std::string::npos;) {
        lines_.emplace_back(now, partial_.substr(0, nl));
        partial_.erase(0, nl + 1);
      }
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
    if (!partial_.empty()) lines_.emplace_back(now, std::move(partial_));
    partial_.clear();
    ::close(out_fd_);  // EOF (or error): the child is exiting
    out_fd_ = -1;
  }
}

bool CliRun::try_reap() {
  if (reaped_) return true;
  int status = 0;
  rusage ru{};
  pid_t r = ::wait4(pid_, &status, WNOHANG, &ru);
  if (r != pid_) return false;
  ended_ = Clock::now();
  reaped_ = true;
  exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  auto secs = [](const timeval& tv) { return static_cast<double>(tv.tv_sec) + static_cast<double>(tv.tv_usec) / 1e6; };
  cpu_seconds_ = secs(ru.ru_utime) + secs(ru.ru_stime);
  max_rss_kb_ = ru.ru_maxrss;
  return true;
}

bool CliRun::wait_all(const std::vector<CliRun*>& runs, std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  std::vector<pollfd> fds;
  std::vector<CliRun*> open;
  while (true) {
    throw_if_interrupted();
    fds.clear();
    open.clear();
    bool all_done = true;
    for (CliRun* r : runs) {
      if (r->out_fd_ >= 0) {
        fds.push_back(pollfd{r->out_fd_, POLLIN, 0});
        open.push_back(r);
      } else if (!r->try_reap()) {
        all_done = false;  // stdout closed: it is exiting, reap it soon
      }
    }
    if (fds.empty() && all_done) return true;
    auto now = Clock::now();
    if (now >= deadline) break;
    if (fds.empty()) {
      std::this_thread::sleep_for(100us);  // exiting: reap promptly, the end time counts
      continue;
    }
    ::poll(fds.data(), fds.size(), 10);
    now = Clock::now();
    for (size_t i = 0; i < fds.size(); ++i) {
      if (fds[i].revents) open[i]->read_available(now);
    }
  }
  for (CliRun* r : runs) {
    if (!r->reaped_) {
      ::kill(r->pid_, SIGKILL);
      while (!r->try_reap()) std::this_thread::sleep_for(1ms);
    }
  }
  return false;
}

std::optional<Clock::time_point> CliRun::first_line_with(const std::string& needle) const {
  for (const auto& [t, line] : lines_) {
    if (line.find(needle) != std::string::npos) return t;
  }
  return std::nullopt;
}

// ---- a whole sealrelay on loopback ------------------------------------------

const char* store_name(Store s) { return s == Store::kRedis ? "Redis" : "embedded"; }

Result<std::unique_ptr<test::Deployment>> start_deployment(Store store, const std::vector<std::string>& relay_args) {
  test::DeploymentOptions options;
  options.redis = store == Store::kRedis;
  options.relay_args = {"--rate-per-token", "0", "--rate-per-ip", "0"};
  options.relay_args.insert(options.relay_args.end(), relay_args.begin(), relay_args.end());
  options.agent_args = {};
  options.requester = "bench";
  auto d = test::Deployment::start(std::move(options));
  if (!d) return d.error();
  if (auto port = (*d)->start_relay("relay"); !port) return port.error();
  return d;
}

Result<void> start_agent(test::Deployment& d, const std::string& id, const std::string& share_dir,
                         const std::vector<std::string>& extra_args) {
  throw_if_interrupted();
  if (auto r = d.add_agent(id, {.share_dir = share_dir}); !r) return r;
  if (auto r = d.start_agent(id, d.url(), extra_args); !r) return r;
  if (!d.agent_online(d.url(), id)) return make_error("setup", "agent " + id + " did not come online: " + d.agent(id).log());
  return {};
}

Result<void> pin(test::Deployment& d, const std::string& id) {
  throw_if_interrupted();
  auto r = d.cli({"ls", id + ":/demo"}, 60s);
  if (r.exit_code != 0) return make_error("setup", "sealrelay ls " + id + ":/demo failed: " + r.output);
  return {};
}

pid_t redis_pid(test::Deployment& d) { return d.redis() ? d.redis()->process().pid() : -1; }

long redis_used_memory(const test::Deployment& d) {
  if (!d.redis()) return -1;
  return redis_used_memory(std::vector<const test::RedisServer*>{d.redis()});
}

long redis_used_memory(const std::vector<const test::RedisServer*>& servers) {
  if (servers.empty()) return -1;
  long sum = 0;
  for (const test::RedisServer* server : servers) {
    auto text = server->command({"INFO", "memory"});
    if (!text) return -1;
    auto at = text->find("used_memory:");
    if (at == std::string::npos) return -1;
    sum += std::stol(text->substr(at + 12));
  }
  return sum;
}

Result<std::unique_ptr<CliRun>> measured_cli(const test::Deployment& d, const std::vector<std::string>& args,
                                             const std::string& log_name, int requester) {
  return CliRun::start(d.cli_argv(args), d.cli_env(d.url(), requester), d.dir() + "/" + log_name);
}

// ---- sampling during a transfer ---------------------------------------------

struct PeakSampler::Impl {
  std::mutex mu;
  std::map<std::string, pid_t> pids;  // Guarded by mu
  std::map<std::string, long> peaks;  // Guarded by mu
  std::atomic<bool> stop{false};
  std::atomic<long> peak_redis{-1};
  std::vector<redisContext*> redis;  // Owned by the sampling thread once it runs
  std::thread thread;                // last: starts once the rest is built

  // The sum over every server (a cluster's masters hold a share each).
  long redis_used_memory() {
    if (redis.empty()) return -1;
    long sum = 0;
    for (redisContext* c : redis) {
      auto* r = static_cast<redisReply*>(redisCommand(c, "INFO memory"));
      if (!r) return -1;
      long v = -1;
      if (r->type == REDIS_REPLY_STRING) {
        std::string_view text(r->str, r->len);
        auto at = text.find("used_memory:");
        if (at != std::string_view::npos) v = std::strtol(text.data() + at + 12, nullptr, 10);
      }
      freeReplyObject(r);
      if (v < 0) return -1;
      sum += v;
    }
    return sum;
  }

  void run() {
    while (!stop) {
      {
        std::lock_guard lk(mu);
        for (const auto& [name, pid] : pids) peaks[name] = std::max(peaks[name], test::proc_status(pid, "VmRSS:"));
      }
      peak_redis = std::max(peak_redis.load(), redis_used_memory());
      std::this_thread::sleep_for(20ms);
    }
  }
};

PeakSampler::PeakSampler(const test::RedisServer* redis)
    : PeakSampler(redis ? std::vector<const test::RedisServer*>{redis} : std::vector<const test::RedisServer*>{}) {}

PeakSampler::PeakSampler(const std::vector<const test::RedisServer*>& redis) : impl_(new Impl()) {
  for (const test::RedisServer* server : redis) {
    timeval tv{2, 0};
    redisContext* c = redisConnectUnixWithTimeout(server->socket_path().c_str(), tv);
    if (!c || c->err) {  // one unreadable server: no Redis figure rather than a partial sum
      if (c) redisFree(c);
      for (redisContext* open : impl_->redis) redisFree(open);
      impl_->redis.clear();
      break;
    }
    impl_->redis.push_back(c);
  }
  impl_->thread = std::thread([this] { impl_->run(); });
}

PeakSampler::~PeakSampler() {
  stop();
  for (redisContext* c : impl_->redis) redisFree(c);
}

void PeakSampler::watch(const std::string& name, pid_t pid) {
  std::lock_guard lk(impl_->mu);
  impl_->pids[name] = pid;
  impl_->peaks.try_emplace(name, -1);
}

void PeakSampler::stop() {
  if (impl_->thread.joinable()) {
    impl_->stop = true;
    impl_->thread.join();
  }
  peak_redis_ = impl_->peak_redis.load();
}

long PeakSampler::peak_rss_kb(const std::string& name) const {
  std::lock_guard lk(impl_->mu);
  auto it = impl_->peaks.find(name);
  return it == impl_->peaks.end() ? -1 : it->second;
}

}  // namespace sealrelay::bench
