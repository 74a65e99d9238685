// What the deployment tests add to tests/support's Deployment: files of
// the source tree, certificates made by scripts/make-certs, and nginx in
// front of relay nodes — all in the Deployment's temp dir, stopped by PID.
//
//   std::unique_ptr<Deployment> made = start_site();  // a fixture's members
//   Deployment& site = *made;
//   ASSERT_TRUE(make_certs(site, {"ca"}));
//   auto port = site.start_relay("a", {"--tls-cert", certs_dir(site) + "/relay.crt", ...});
//   ASSERT_TRUE(site.add_agent("shop-1", {.token = false}));   // a client certificate instead
//   auto agent = site.spawn_agent("shop-1", "https://127.0.0.1:" + std::to_string(*port), {...});
//   auto r = site.cli(url, {"get", "shop-1:/demo/f", "-o", out}, 60s, {"--ca-file", ...});
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "tests/support/deployment.h"
#include "tests/support/support.h"

namespace sealrelay::test {

// Path of a file in the source tree, e.g. source("packaging/nginx/sealrelay.conf").
std::string source(const std::string& relative);

// The first executable of `candidates`, or "".
std::string find_program(const std::vector<std::string>& candidates);

// Replaces every `from` in `text` with `to`; fails the test when there is none.
std::string replace_all(std::string text, const std::string& from, const std::string& to);

// A Deployment (no Redis; tests/support's defaults) for a test or a
// fixture's member: gtest reports what it throws, when the relay's token
// command or the CLI's keygen fails, as the test's failure.
std::unique_ptr<Deployment> start_site();

// Where make_certs() writes by default: `site`.dir()/certs.
std::string certs_dir(const Deployment& site);
// scripts/make-certs -d certs_dir(site) ARGS... (or -d `cert_dir`).
Result<void> make_certs(const Deployment& site, const std::vector<std::string>& args,
                        const std::string& cert_dir = "");

// nginx started by a test: its own prefix, pid file, logs and temp paths in
// `dir`, on a port picked here; stopped (SIGQUIT, then SIGKILL) by PID.
class Nginx {
 public:
  // "" when no nginx binary is installed.
  static std::string binary();
  // Writes `dir`/nginx.conf: a main context (pid, error log, temp paths,
  // events) around `http_body` (the inside of http { }), where every
  // "@PORT@" is replaced by the port. Retries another port when the one
  // picked was taken meanwhile.
  static Result<std::unique_ptr<Nginx>> start(const std::string& dir, const std::string& http_body);
  ~Nginx();
  int port() const { return port_; }
  std::string log() const;

 private:
  std::unique_ptr<Process> proc_;
  std::string dir_;
  int port_ = 0;
};

}  // namespace sealrelay::test
