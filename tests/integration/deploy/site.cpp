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
#include <sstream>
#include <stdexcept>

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

std::unique_ptr<Deployment> start_site() {
  auto made = Deployment::start({});
  if (!made) throw std::runtime_error("the deployment did not start: " + made.error().message);
  return std::move(*made);
}

std::string certs_dir(const Deployment& site) { return site.dir() + "/certs"; }

Result<void> make_certs(const Deployment& site, const std::vector<std::string>& args, const std::string& cert_dir) {
  std::vector<std::string> argv{source("scripts/make-certs"), "-d", cert_dir.empty() ? certs_dir(site) : cert_dir};
  argv.insert(argv.end(), args.begin(), args.end());
  auto r = run_logged(argv, site.dir() + "/make-certs.log");
  if (r.exit_code != 0) return make_error("setup", "make-certs failed: " + r.output);
  return {};
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
