// An agent built for another platform, started under its emulator
// (qemu-aarch64, wine64) against a Deployment's relay, as
// Deployment::start_agent_online starts the native one. Shared by the cross
// tests (cross_agent.h) and the page's test against the Windows agent
// (tests/browser/browser_windows_test.cpp).
#pragma once

#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <regex>
#include <string>
#include <vector>

#include "base/result.h"
#include "tests/support/deployment.h"

namespace sealrelay::test {

struct Emulator {
  // The command line that runs the agent with these arguments.
  std::function<std::vector<std::string>(const std::vector<std::string>&)> argv;
  // A path of this machine as the agent names it (wine: "Z:" + path).
  std::function<std::string(const std::string&)> local = [](const std::string& path) { return path; };
};

// Agent `id`: a token, `init` in sys.agent_state(id), the main CLI key
// authorized, then `run` with sys.share(id) as share "demo", until the relay
// lists it online. The caller owns the process (kill it before `sys` goes).
inline Result<std::unique_ptr<Process>> start_emulated_agent(Deployment& sys, const std::string& id,
                                                             const Emulator& em) {
  std::filesystem::create_directories(sys.share(id));
  auto token = sys.token({"add-agent", id});
  if (!token) return token.error();
  const std::string token_file = sys.dir() + "/" + id + ".token";
  std::ofstream(token_file) << *token << "\n";
  std::filesystem::permissions(token_file, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
  const std::string state = sys.agent_state(id);
  auto init =
      run_logged(em.argv({"init", "--state-dir", em.local(state)}), sys.dir() + "/init-" + id + ".log", {}, 60s);
  if (init.exit_code != 0) return make_error("agent_init", "sealrelay-agent init failed: " + init.output);
  std::smatch key;
  const std::string identity = read_file(sys.cli_home() + "/identity.key");
  if (!std::regex_search(identity, key, std::regex("public=(\\S+)"))) {
    return make_error("cli_key", "no public= line in " + sys.cli_home() + "/identity.key");
  }
  std::ofstream(state + "/authorized_requesters", std::ios::app) << key[1] << " cross-cli\n";
  auto agent = Process::spawn(em.argv({"run", "--state-dir", em.local(state), "--relay-url", sys.url(), "--token-file",
                                       em.local(token_file), "--share", "demo=" + em.local(sys.share(id)),
                                       "--read-timeout", "5"}),
                              sys.dir() + "/agent-" + id + ".log");
  if (!agent) return agent.error();
  if (!sys.agent_online(id)) return make_error("agent_offline", id + " never came online:\n" + (*agent)->log());
  return agent;
}

}  // namespace sealrelay::test
