// A deployment on loopback for the deployment tests: certificates made by
// scripts/make-certs, relay nodes, agents and the CLI as real processes,
// optionally nginx in front — all in one temp dir, all stopped by PID.
//
//   Site site;
//   ASSERT_TRUE(site.make_certs({"ca"}));
//   auto relay = site.start_relay("a", {"--tls-cert", site.certs() + "/relay.crt", ...});
//   ASSERT_TRUE(site.add_agent("shop-1"));
//   auto agent = site.run_agent("shop-1", "https://127.0.0.1:" + port, {...});
//   auto r = site.cli({"get", "shop-1:/demo/f", "-o", out}, url, {"--ca-file", ...});
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "tests/support/support.h"

namespace sealrelay::test {

// Path of a file in the source tree, e.g. source("packaging/nginx/sealrelay.conf").
std::string source(const std::string& relative);

// A program run to completion (tests/support run_logged).
using Ran = LoggedRun;

// The first executable of `candidates`, or "".
std::string find_program(const std::vector<std::string>& candidates);

// Replaces every `from` in `text` with `to`; fails the test when there is none.
std::string replace_all(std::string text, const std::string& from, const std::string& to);

class Site {
 public:
  struct Relay {
    std::unique_ptr<Process> process;
    int port = 0;
  };

  Site();
  const std::string& dir() const { return dir_.path(); }
  std::string certs() const { return dir() + "/certs"; }

  // scripts/make-certs -d DIR/certs ARGS... (or -d `cert_dir`).
  Result<void> make_certs(const std::vector<std::string>& args, const std::string& cert_dir = "");

  // sealrelay-relay --state-dir DIR/relay token ARGS...: the first line of stdout.
  Result<std::string> token(const std::vector<std::string>& args);

  // Starts sealrelay-relay --listen 127.0.0.1:0 with the shared state dir,
  // `extra` flags appended; waits for "listening on" and reads the port.
  Result<Relay> start_relay(const std::string& name, const std::vector<std::string>& extra = {});

  // Creates agent `id`: identity (sealrelay-agent init), a share folder
  // share(id) served as /demo, and the CLI's key in its authorized_requesters.
  Result<void> add_agent(const std::string& id);
  std::string share(const std::string& id) const { return dir() + "/share-" + id; }
  std::string agent_state(const std::string& id) const { return dir() + "/agent-" + id; }
  // sealrelay-agent run for `id` against `url` with `extra` flags (credential, CA).
  Result<std::unique_ptr<Process>> run_agent(const std::string& id, const std::string& url,
                                             const std::vector<std::string>& extra,
                                             const std::string& log_name = "");

  // The CLI with its own home and a requester token for every agent
  // (created on first use); `extra` goes before the subcommand.
  Ran cli(std::vector<std::string> args, const std::string& url,
          const std::vector<std::string>& extra = {}, std::chrono::milliseconds timeout = 60s);
  // Polls `sealrelay --json agents` until `id` is listed online.
  bool agent_online(const std::string& id, const std::string& url,
                    const std::vector<std::string>& extra = {},
                    std::chrono::milliseconds timeout = 20s);

 private:
  Result<void> ensure_cli();
  TempDir dir_;
  std::string requester_token_, requester_key_;
  int runs_ = 0;
};

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
