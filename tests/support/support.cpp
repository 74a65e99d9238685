#include "tests/support/support.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <hiredis.h>
#include <httplib.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/evp.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <thread>

#ifndef SEALRELAY_BINARY_DIR
#error "SEALRELAY_BINARY_DIR must be defined (sealrelay_add_test does it)"
#endif

namespace sealrelay::test {
namespace {

// Tests write to sockets their peer may already have closed (a relay cutting
// an upload, a killed process): that must be an error, not a dead test.
const bool kIgnoreSigpipe = [] {
  ::signal(SIGPIPE, SIG_IGN);
  return true;
}();

}  // namespace

std::string binary(const std::string& relative) {
  return std::string(SEALRELAY_BINARY_DIR) + "/" + relative;
}

TempDir::TempDir() {
  const char* base = std::getenv("TMPDIR");
  std::string tmpl = std::string(base && *base ? base : "/tmp") + "/sr.XXXXXX";
  if (!mkdtemp(tmpl.data())) std::abort();
  path_ = tmpl;
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

int free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  int port = -1;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0) {
    socklen_t len = sizeof a;
    if (::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0) port = ntohs(a.sin_port);
  }
  ::close(fd);
  return port;
}

bool wait_until(const std::function<bool()>& pred, std::chrono::milliseconds timeout,
                std::chrono::milliseconds interval) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (pred()) return true;
    std::this_thread::sleep_for(interval);
  }
  return pred();
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

bool write_random_file(const std::string& path, uint64_t bytes, uint64_t seed,
                       const std::function<void()>& each_mib) {
  unsigned char key[16] = {}, iv[16] = {};
  std::memcpy(key, &seed, sizeof seed);
  std::unique_ptr<EVP_CIPHER_CTX, decltype(&EVP_CIPHER_CTX_free)> ctx(EVP_CIPHER_CTX_new(), EVP_CIPHER_CTX_free);
  if (!ctx || EVP_EncryptInit_ex(ctx.get(), EVP_aes_128_ctr(), nullptr, key, iv) != 1) return false;
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  std::vector<unsigned char> zero(1 << 20), block(1 << 20);
  for (uint64_t done = 0; done < bytes && out;) {
    int n = static_cast<int>(std::min<uint64_t>(bytes - done, zero.size()));
    int got = 0;
    EVP_EncryptUpdate(ctx.get(), block.data(), &got, zero.data(), n);
    out.write(reinterpret_cast<const char*>(block.data()), got);
    done += static_cast<uint64_t>(n);
    if (each_mib) each_mib();
  }
  out.close();
  return static_cast<bool>(out);
}

bool same_file(const std::string& a, const std::string& b) {
  std::error_code ec;
  if (!std::filesystem::exists(a, ec) || !std::filesystem::exists(b, ec) ||
      std::filesystem::file_size(a) != std::filesystem::file_size(b)) {
    return false;
  }
  return read_file(a) == read_file(b);
}

std::string first_line(const std::string& s) { return s.substr(0, s.find('\n')); }

int http_status(int port, const std::string& path, const std::string& token, std::string* body) {
  httplib::Client c("127.0.0.1", port);
  c.set_connection_timeout(2);
  c.set_read_timeout(5);
  httplib::Headers h;
  if (!token.empty()) h.emplace("Authorization", "Bearer " + token);
  auto r = c.Get(path.c_str(), h);
  if (!r) return 0;
  if (body) *body = r->body;
  return r->status;
}

Result<std::unique_ptr<Process>> Process::spawn(const std::vector<std::string>& argv,
                                                const std::string& log_path, Options opts) {
  if (argv.empty() || ::access(argv[0].c_str(), X_OK) != 0) {
    return make_error("spawn_failed", "not an executable: " + (argv.empty() ? "" : argv[0]));
  }
  int log = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (log < 0) return make_error("spawn_failed", "cannot open log " + log_path);
  std::vector<char*> args;
  for (auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = ::fork();
  if (pid < 0) {
    ::close(log);
    return make_error("spawn_failed", std::string("fork: ") + std::strerror(errno));
  }
  if (pid == 0) {
    // Dies with the test: a test killed mid-run leaves no relay behind.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    ::dup2(log, 1);
    ::dup2(log, 2);
    int devnull = ::open("/dev/null", O_RDONLY);
    if (devnull >= 0) ::dup2(devnull, 0);
    for (auto& e : opts.env) ::putenv(const_cast<char*>(e.c_str()));
    if (!opts.cwd.empty() && ::chdir(opts.cwd.c_str()) != 0) ::_exit(126);
    ::execv(args[0], args.data());
    ::_exit(127);
  }
  ::close(log);
  return std::unique_ptr<Process>(new Process(pid, log_path));
}

Process::~Process() {
  if (!reaped_) {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, &status_, 0);
  }
}

void Process::kill(int sig) {
  if (!reaped_) ::kill(pid_, sig);
}

bool Process::running() {
  if (reaped_) return false;
  pid_t r = ::waitpid(pid_, &status_, WNOHANG);
  if (r == pid_) reaped_ = true;
  return !reaped_;
}

std::optional<int> Process::wait_exit(std::chrono::milliseconds timeout) {
  if (wait_until([&] { return !running(); }, timeout)) return status_;
  return std::nullopt;
}

std::optional<std::string> Process::wait_for_log(const std::string& regex,
                                                 std::chrono::milliseconds timeout) {
  std::regex re(regex);
  std::optional<std::string> found;
  wait_until(
      [&] {
        std::string text = log();
        std::smatch m;
        if (std::regex_search(text, m, re)) {
          found = m.size() > 1 ? m[1].str() : m[0].str();
          return true;
        }
        return !running();
      },
      timeout);
  return found;
}

int connect_loopback(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ::close(fd);
    return -1;
  }
  int yes = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &yes, sizeof yes);
  return fd;
}

long proc_status(pid_t pid, std::string_view field) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.starts_with(field)) return std::strtol(line.c_str() + field.size(), nullptr, 10);
  }
  return -1;
}

size_t rss_of(pid_t pid) { return static_cast<size_t>(std::max(0L, proc_status(pid, "VmRSS:"))) * 1024; }
int threads_of(pid_t pid) { return static_cast<int>(std::max(0L, proc_status(pid, "Threads:"))); }

LoggedRun run_logged(const std::vector<std::string>& argv, const std::string& log,
                     const std::vector<std::string>& env, std::chrono::milliseconds timeout) {
  LoggedRun r;
  std::filesystem::remove(log);
  auto p = Process::spawn(argv, log, Process::Options{env, ""});
  if (!p) {
    r.output = p.error().message;
    return r;
  }
  auto status = (*p)->wait_exit(timeout);
  r.output = read_file(log);
  if (status && WIFEXITED(*status)) r.exit_code = WEXITSTATUS(*status);
  return r;
}

Result<RunResult> run_command(const std::vector<std::string>& argv,
                              std::chrono::milliseconds timeout) {
  TempDir dir;
  std::string out = dir.path() + "/out", err = dir.path() + "/err";
  if (argv.empty() || ::access(argv[0].c_str(), X_OK) != 0) {
    return make_error("spawn_failed", "not an executable: " + (argv.empty() ? "" : argv[0]));
  }
  int fo = ::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  int fe = ::open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  std::vector<char*> args;
  for (auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(fo, 1);
    ::dup2(fe, 2);
    ::execv(args[0], args.data());
    ::_exit(127);
  }
  ::close(fo);
  ::close(fe);
  if (pid < 0) return make_error("spawn_failed", "fork failed");
  int status = 0;
  bool exited = wait_until([&] { return ::waitpid(pid, &status, WNOHANG) == pid; }, timeout, 2ms);
  if (!exited) {
    ::kill(pid, SIGKILL);
    ::waitpid(pid, &status, 0);
  }
  RunResult r;
  r.exit_code = exited && WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.out = read_file(out);
  r.err = read_file(err);
  return r;
}

namespace {

std::string redis_server_binary() {
  for (const char* p : {"/usr/bin/redis-server", "/usr/local/bin/redis-server"}) {
    if (::access(p, X_OK) == 0) return p;
  }
  return "";
}

void flatten(const redisReply* r, std::string& out) {
  switch (r->type) {
    case REDIS_REPLY_STRING:
    case REDIS_REPLY_STATUS:
    case REDIS_REPLY_ERROR:
      out.append(r->str, r->len);
      break;
    case REDIS_REPLY_INTEGER:
      out += std::to_string(r->integer);
      break;
    case REDIS_REPLY_NIL:
      out += "(nil)";
      break;
    case REDIS_REPLY_ARRAY:
      for (size_t i = 0; i < r->elements; ++i) {
        if (i) out += "\n";
        flatten(r->element[i], out);
      }
      break;
    default:
      break;
  }
}

}  // namespace

Result<std::unique_ptr<RedisServer>> RedisServer::start(const std::string& dir,
                                                        std::vector<std::string> extra_args) {
  std::string bin = redis_server_binary();
  if (bin.empty()) {
    return make_error("redis_absent", "redis-server is not installed (scripts/setup installs it)");
  }
  auto server = std::unique_ptr<RedisServer>(new RedisServer());
  server->socket_ = dir + "/redis.sock";
  std::vector<std::string> argv = {bin,        "--port",      "0",  "--unixsocket", server->socket_,
                                   "--unixsocketperm", "700", "--save",       "",
                                   "--appendonly", "no",      "--dir", dir};
  argv.insert(argv.end(), extra_args.begin(), extra_args.end());
  auto proc = Process::spawn(argv, dir + "/redis.log");
  if (!proc) return proc.error();
  server->proc_ = std::move(*proc);
  bool up = wait_until(
      [&] {
        if (!server->proc_->running()) return true;
        auto pong = server->command({"PING"});
        return pong.ok() && *pong == "PONG";
      },
      10s);
  if (!up || !server->proc_->running()) {
    return make_error("redis_failed", "redis-server did not start: " + server->proc_->log());
  }
  return server;
}

RedisReplyPtr redis_call(redisContext* c, const std::vector<std::string>& args) {
  std::vector<const char*> argv;
  std::vector<size_t> lens;
  for (auto& a : args) {
    argv.push_back(a.data());
    lens.push_back(a.size());
  }
  return RedisReplyPtr(
      static_cast<redisReply*>(redisCommandArgv(c, static_cast<int>(args.size()), argv.data(), lens.data())));
}

Result<std::string> RedisServer::command(const std::vector<std::string>& args) const {
  timeval tv{2, 0};
  redisContext* c = redisConnectUnixWithTimeout(socket_.c_str(), tv);
  if (!c || c->err) {
    std::string why = c ? c->errstr : "out of memory";
    if (c) redisFree(c);
    return make_error("redis_io", why);
  }
  auto r = redis_call(c, args);
  if (!r) {
    std::string why = c->errstr;
    redisFree(c);
    return make_error("redis_io", why);
  }
  std::string out;
  flatten(r.get(), out);
  bool is_error = r->type == REDIS_REPLY_ERROR;
  r.reset();
  redisFree(c);
  if (is_error) return make_error("redis_error", out);
  return out;
}

}  // namespace sealrelay::test
