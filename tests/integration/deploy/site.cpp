#include "tests/integration/deploy/site.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

namespace sealrelay::test {
namespace fs = std::filesystem;

std::string source(const std::string& relative) { return std::string(SEALRELAY_SOURCE_DIR) + "/" + relative; }

std::string find_program(const std::vector<std::string>& candidates) {
  for (const auto& c : candidates) {
    if (::access(c.c_str(), X_OK) == 0) return c;
  }
  return "";
}

std::string replace_all(std::string text, const std::string& from, const std::string& to) {
  size_t at = text.find(from);
  EXPECT_NE(at, std::string::npos) << "\"" << from << "\" is not in the text any more";
  while (at != std::string::npos) {
    text.replace(at, from.size(), to);
    at = text.find(from, at + to.size());
  }
  return text;
}

namespace {

bool port_accepts(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(static_cast<uint16_t>(port));
  bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  ::close(fd);
  return ok;
}

}  // namespace

Site::Site() { fs::create_directories(dir() + "/relay"); }

Result<void> Site::make_certs(const std::vector<std::string>& args, const std::string& cert_dir) {
  std::vector<std::string> argv{source("scripts/make-certs"), "-d", cert_dir.empty() ? certs() : cert_dir};
  argv.insert(argv.end(), args.begin(), args.end());
  auto r = run_logged(argv, dir() + "/make-certs.log");
  if (r.exit_code != 0) return make_error("setup", "make-certs failed: " + r.output);
  return {};
}

Result<std::string> Site::token(const std::vector<std::string>& args) {
  std::vector<std::string> argv{binary("relay/sealrelay-relay"), "--state-dir", dir() + "/relay", "token"};
  argv.insert(argv.end(), args.begin(), args.end());
  auto r = run_command(argv);
  if (!r) return r.error();
  if (r->exit_code != 0) return make_error("setup", "token command failed: " + r->err);
  return first_line(r->out);
}

Result<Site::Relay> Site::start_relay(const std::string& name, const std::vector<std::string>& extra) {
  std::vector<std::string> argv{binary("relay/sealrelay-relay"), "--state-dir", dir() + "/relay", "--listen",
                                "127.0.0.1:0", "--heartbeat-seconds", "1"};
  argv.insert(argv.end(), extra.begin(), extra.end());
  auto p = Process::spawn(argv, dir() + "/relay-" + name + ".log");
  if (!p) return p.error();
  Relay r;
  r.process = std::move(*p);
  auto port = r.process->wait_for_log(R"(listening on 127\.0\.0\.1:(\d+))", 20s);
  if (!port) return make_error("setup", "relay " + name + " did not start:\n" + r.process->log());
  r.port = std::stoi(*port);
  return r;
}

Result<void> Site::ensure_cli() {
  if (!requester_key_.empty()) return {};
  auto t = token({"add-requester", "deploy-test", "--agents", "*"});
  if (!t) return t.error();
  requester_token_ = *t;
  auto keygen = run_logged({binary("requester/sealrelay"), "keygen"}, dir() + "/keygen.log",
                           {"SEALRELAY_HOME=" + dir() + "/cli"});
  if (keygen.exit_code != 0) return make_error("setup", "keygen failed: " + keygen.output);
  std::smatch m;
  std::string text = read_file(dir() + "/cli/identity.key");
  if (!std::regex_search(text, m, std::regex("public=(\\S+)"))) return make_error("setup", "no public key");
  requester_key_ = m[1];
  return {};
}

Result<void> Site::add_agent(const std::string& id) {
  if (auto r = ensure_cli(); !r) return r;
  fs::create_directories(share(id));
  auto init = run_logged({binary("agent/sealrelay-agent"), "init", "--state-dir", agent_state(id)},
                         dir() + "/init-" + id + ".log");
  if (init.exit_code != 0) return make_error("setup", "agent init failed: " + init.output);
  std::ofstream(agent_state(id) + "/authorized_requesters", std::ios::app) << requester_key_ << " deploy-test\n";
  return {};
}

Result<std::unique_ptr<Process>> Site::run_agent(const std::string& id, const std::string& url,
                                                 const std::vector<std::string>& extra, const std::string& log_name) {
  std::vector<std::string> argv{binary("agent/sealrelay-agent"), "run", "--state-dir", agent_state(id),
                                "--relay-url", url, "--share", "demo=" + share(id), "--read-timeout", "5"};
  argv.insert(argv.end(), extra.begin(), extra.end());
  return Process::spawn(argv, dir() + "/" + (log_name.empty() ? "agent-" + id : log_name) + ".log");
}

Ran Site::cli(std::vector<std::string> args, const std::string& url, const std::vector<std::string>& extra,
              std::chrono::milliseconds timeout) {
  if (auto r = ensure_cli(); !r) return Ran{-1, r.error().message};
  args.insert(args.begin(), extra.begin(), extra.end());
  args.insert(args.begin(), binary("requester/sealrelay"));
  return run_logged(args, dir() + "/cli-" + std::to_string(++runs_) + ".log",
                    {"SEALRELAY_HOME=" + dir() + "/cli", "SEALRELAY_URL=" + url,
                     "SEALRELAY_TOKEN=" + requester_token_},
                    timeout);
}

bool Site::agent_online(const std::string& id, const std::string& url, const std::vector<std::string>& extra,
                        std::chrono::milliseconds timeout) {
  std::regex online("\"id\":\"" + id + "\"[^}]*\"online\":true");
  return wait_until(
      [&] {
        auto r = cli({"--json", "agents"}, url, extra, 10s);
        return r.exit_code == 0 && std::regex_search(r.output, online);
      },
      timeout, 50ms);
}

// ---- nginx -----------------------------------------------------------------

std::string Nginx::binary() { return find_program({"/usr/sbin/nginx", "/usr/local/sbin/nginx", "/usr/bin/nginx"}); }

Result<std::unique_ptr<Nginx>> Nginx::start(const std::string& dir, const std::string& http_body) {
  std::string bin = binary();
  if (bin.empty()) return make_error("nginx_absent", "nginx is not installed (scripts/setup installs it)");
  fs::create_directories(dir + "/tmp");
  for (int attempt = 0; attempt < 5; ++attempt) {
    auto n = std::unique_ptr<Nginx>(new Nginx());
    n->dir_ = dir;
    n->port_ = free_port();
    std::string body = http_body;
    for (size_t at = body.find("@PORT@"); at != std::string::npos; at = body.find("@PORT@", at)) {
      body.replace(at, 6, std::to_string(n->port_));
    }
    std::ofstream conf(dir + "/nginx.conf", std::ios::trunc);
    conf << (::geteuid() == 0 ? "user root root;\n" : "") << "worker_processes 1;\n"
         << "pid " << dir << "/nginx.pid;\n"
         << "error_log " << dir << "/error.log info;\n"
         << "events { worker_connections 512; }\n"
         << "http {\n"
         << "  access_log " << dir << "/access.log;\n"
         << "  client_body_temp_path " << dir << "/tmp/body;\n"
         << "  proxy_temp_path " << dir << "/tmp/proxy;\n"
         << "  fastcgi_temp_path " << dir << "/tmp/fastcgi;\n"
         << "  uwsgi_temp_path " << dir << "/tmp/uwsgi;\n"
         << "  scgi_temp_path " << dir << "/tmp/scgi;\n"
         << body << "\n}\n";
    conf.close();
    auto p = Process::spawn({bin, "-e", dir + "/error.log", "-p", dir, "-c", dir + "/nginx.conf", "-g", "daemon off;"},
                            dir + "/nginx.out");
    if (!p) return p.error();
    n->proc_ = std::move(*p);
    bool up = wait_until([&] { return !n->proc_->running() || port_accepts(n->port_); }, 10s);
    if (up && n->proc_->running()) return n;
    std::string log = n->log();
    if (log.find("Address already in use") == std::string::npos) {
      return make_error("nginx_failed", "nginx did not start:\n" + log);
    }
  }
  return make_error("nginx_failed", "nginx found no free port");
}

Nginx::~Nginx() {
  if (!proc_) return;
  // SIGTERM: fast shutdown, the master ends its workers. Should it hang,
  // its workers (our grandchildren, by PID) go down with it.
  proc_->kill(SIGTERM);
  if (!proc_->wait_exit(10s)) {
    std::string pid = std::to_string(proc_->pid());
    std::istringstream children(read_file("/proc/" + pid + "/task/" + pid + "/children"));
    for (pid_t c; children >> c;) ::kill(c, SIGKILL);
    proc_->kill(SIGKILL);
    proc_->wait_exit(10s);
  }
}

std::string Nginx::log() const { return read_file(dir_ + "/error.log") + read_file(dir_ + "/nginx.out"); }

}  // namespace sealrelay::test
