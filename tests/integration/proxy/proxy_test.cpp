// Outbound through a proxy: squid on a free loopback port, with basic
// authentication, is the only way to the relay. The relay's URL names a host
// (relay.sealrelay.test) that only squid resolves (its hosts_file), so the
// agent and the CLI cannot go round it: the direct route fails, and squid's
// access log shows each CONNECT with the user. TLS runs end to end through
// the tunnel (the relay's certificate is for that name, from
// scripts/make-certs).
#include <gtest/gtest.h>
#include <pwd.h>
#include <signal.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <regex>

#include "tests/support/support.h"

namespace sealrelay::test {
namespace {
namespace fs = std::filesystem;

const std::string kHost = "relay.sealrelay.test";
const std::string kPassword = "s3cret-pw";
const char* kSquid = "/usr/sbin/squid";
const char* kAuthHelper = "/usr/lib/squid/basic_ncsa_auth";

class ThroughAProxy : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const char* tool : {kSquid, kAuthHelper, "/usr/bin/openssl"}) {
      if (::access(tool, X_OK) != 0) GTEST_SKIP() << "skipped: " << tool << " is not installed (scripts/setup)";
    }
    // squid drops to user proxy when started as root: it must reach its files.
    fs::permissions(dir.path(), fs::perms::others_exec, fs::perm_options::add);
    ASSERT_NO_FATAL_FAILURE(start_squid());
    ASSERT_NO_FATAL_FAILURE(start_relay());
    ASSERT_NO_FATAL_FAILURE(start_agent());
  }

  // SIGTERM: squid then ends its helpers too (SIGKILL would orphan them).
  void TearDown() override {
    if (!squid) return;
    squid->kill(SIGTERM);
    squid->wait_exit(20s);
  }

  std::string path(const std::string& name) const { return dir.path() + "/" + name; }
  std::string proxy_url(const std::string& password) const {
    return "http://shop:" + password + "@127.0.0.1:" + std::to_string(squid_port);
  }

  void start_squid() {
    const std::string sq = path("squid");
    fs::create_directories(sq);
    if (struct passwd* pw = ::getpwnam("proxy"); pw && ::getuid() == 0) {
      ASSERT_EQ(::chown(sq.c_str(), pw->pw_uid, 0), 0);
    }
    auto hash = run_command({"/usr/bin/openssl", "passwd", "-apr1", kPassword});
    ASSERT_TRUE(hash && hash->exit_code == 0);
    std::ofstream(path("passwd")) << "shop:" << hash->out;
    std::ofstream(path("hosts")) << "127.0.0.1 " << kHost << "\n";
    squid_port = free_port();
    std::ofstream(path("squid.conf")) << "http_port 127.0.0.1:" << squid_port << "\n"
        << "pid_filename " << sq << "/squid.pid\naccess_log stdio:" << sq << "/access.log\n"
        << "cache_log " << sq << "/cache.log\ncache_store_log none\ncache deny all\ncoredump_dir " << sq << "\n"
        << "hosts_file " << path("hosts") << "\n"
        << "auth_param basic program " << kAuthHelper << " " << path("passwd") << "\n"
        << "acl authed proxy_auth REQUIRED\nhttp_access allow authed\nhttp_access deny all\n"
        << "visible_hostname sealrelay-test\nshutdown_lifetime 0 seconds\n"
        // No ICMP helper: it would outlive a squid the test kills.
        << "pinger_enable off\n";
    for (const char* f : {"passwd", "hosts", "squid.conf"}) fs::permissions(path(f), fs::perms::others_read, fs::perm_options::add);
    auto p = Process::spawn({kSquid, "-N", "-f", path("squid.conf")}, path("squid.out"));
    ASSERT_TRUE(p.ok()) << p.error().message;
    squid = std::move(*p);
    ASSERT_TRUE(wait_until([&] { int fd = connect_loopback(squid_port); if (fd >= 0) ::close(fd); return fd >= 0; },
                           30s, 50ms)) << squid->log() << read_file(sq + "/cache.log");
  }

  void start_relay() {
    auto certs = run_logged({SEALRELAY_SOURCE_DIR "/scripts/make-certs", "-d", path("certs"), "ca"}, path("certs.log"));
    ASSERT_EQ(certs.exit_code, 0) << certs.output;
    certs = run_logged({SEALRELAY_SOURCE_DIR "/scripts/make-certs", "-d", path("certs"), "relay", kHost}, path("certs.log"));
    ASSERT_EQ(certs.exit_code, 0) << certs.output;
    const std::string relay = binary("relay/sealrelay-relay");
    auto token = run_logged({relay, "--state-dir", path("relay"), "token", "add-requester", "cli", "--agents", "*"},
                            path("token.log"));
    ASSERT_EQ(token.exit_code, 0) << token.output;
    cli_token = token.output.substr(0, token.output.find('\n'));
    token = run_logged({relay, "--state-dir", path("relay"), "token", "add-agent", "shop-1"}, path("token.log"));
    ASSERT_EQ(token.exit_code, 0) << token.output;
    std::ofstream(path("agent.token")) << token.output.substr(0, token.output.find('\n')) << "\n";
    fs::permissions(path("agent.token"), fs::perms::owner_read | fs::perms::owner_write);
    relay_port = free_port();
    auto p = Process::spawn({relay, "--state-dir", path("relay"), "--listen", "127.0.0.1:" + std::to_string(relay_port),
                             "--tls-cert", path("certs/relay.crt"), "--tls-key", path("certs/relay.key"),
                             "--heartbeat-seconds", "1"},
                            path("relay.out"));
    ASSERT_TRUE(p.ok()) << p.error().message;
    relay_proc = std::move(*p);
    ASSERT_TRUE(relay_proc->wait_for_log("listening on", 20s)) << relay_proc->log();
    ASSERT_EQ(cli({"keygen"}, {}).exit_code, 0);
  }

  // The agent takes the proxy, credentials included, from its config file.
  void start_agent() {
    const std::string agent = binary("agent/sealrelay-agent");
    auto init = run_logged({agent, "init", "--state-dir", path("agent")}, path("init.log"));
    ASSERT_EQ(init.exit_code, 0) << init.output;
    std::smatch key;
    const std::string identity = read_file(path("cli/identity.key"));
    ASSERT_TRUE(std::regex_search(identity, key, std::regex("public=(\\S+)")));
    std::ofstream(path("agent/authorized_requesters"), std::ios::app) << key[1] << " cli\n";
    fs::create_directories(path("share"));
    std::ofstream(path("agent.conf")) << "[run]\nstate-dir = \"" << path("agent") << "\"\nrelay-url = \"" << url()
        << "\"\ntoken-file = \"" << path("agent.token") << "\"\nca-file = \"" << path("certs/ca.crt")
        << "\"\nshare = [\"demo=" << path("share") << "\"]\nproxy = \"" << proxy_url(kPassword) << "\"\n";
    auto p = Process::spawn({agent, "run", "--config", path("agent.conf")}, path("agent.out"));
    ASSERT_TRUE(p.ok()) << p.error().message;
    agent_proc = std::move(*p);
    ASSERT_TRUE(wait_until([&] {
      auto r = cli({"--json", "agents"}, {"HTTPS_PROXY=" + proxy_url(kPassword)});
      return r.output.find(R"("id":"shop-1","last_seen")") != std::string::npos &&
             r.output.find(R"("online":true)") != std::string::npos;
    }, 30s, 100ms)) << agent_proc->log();
  }

  std::string url() const { return "https://" + kHost + ":" + std::to_string(relay_port); }
  // The CLI with this relay, its CA and `env` (a proxy or none).
  LoggedRun cli(std::vector<std::string> args, std::vector<std::string> env) {
    args.insert(args.begin(), binary("requester/sealrelay"));
    // The test's own environment holds no proxy; `env` (put last) wins.
    std::vector<std::string> all{"SEALRELAY_HOME=" + path("cli"), "SEALRELAY_URL=" + url(),
                                 "SEALRELAY_TOKEN=" + cli_token, "SEALRELAY_CA_FILE=" + path("certs/ca.crt"),
                                 "HTTPS_PROXY=", "https_proxy=", "NO_PROXY=", "no_proxy="};
    all.insert(all.end(), env.begin(), env.end());
    return run_logged(args, path("cli.log"), all, 60s);
  }
  std::string access_log() const { return read_file(path("squid/access.log")); }

  TempDir dir;
  int squid_port = 0, relay_port = 0;
  std::string cli_token;
  std::unique_ptr<Process> squid, relay_proc, agent_proc;
};

TEST_F(ThroughAProxy, TheAgentAndTheCliReachTheRelayOnlyThroughTheProxy) {
  std::ofstream(path("share/f.bin")) << std::string(1 << 20, 'x') << "end";
  // The CLI's proxy from the environment, the agent's from its config file.
  auto got = cli({"get", "shop-1:/demo/f.bin", "-o", path("f.bin")}, {"HTTPS_PROXY=" + proxy_url(kPassword)});
  ASSERT_EQ(got.exit_code, 0) << got.output;
  EXPECT_EQ(read_file(path("f.bin")), read_file(path("share/f.bin")));
  // Both went through squid's tunnel as user shop; TLS ran inside it.
  EXPECT_TRUE(wait_until([&] {
    return std::regex_search(access_log(), std::regex("TCP_TUNNEL/200 .*CONNECT " + kHost + ":" + std::to_string(relay_port) + " shop"));
  }, 10s)) << access_log();

  auto direct = cli({"agents"}, {});
  EXPECT_NE(direct.exit_code, 0) << direct.output;
  EXPECT_NE(direct.output.find("cannot connect"), std::string::npos) << direct.output;
  auto exempt = cli({"agents"}, {"HTTPS_PROXY=" + proxy_url(kPassword), "NO_PROXY=.sealrelay.test"});
  EXPECT_NE(exempt.exit_code, 0) << exempt.output;
  auto wrong = cli({"--proxy", proxy_url("wrong"), "agents"}, {});
  EXPECT_NE(wrong.exit_code, 0) << wrong.output;
  EXPECT_NE(wrong.output.find("407"), std::string::npos) << wrong.output;
  EXPECT_EQ(wrong.output.find("wrong"), std::string::npos) << wrong.output;

  // The password is in no log of ours.
  EXPECT_NE(agent_proc->log().find("through the proxy http://127.0.0.1:"), std::string::npos) << agent_proc->log();
  for (const std::string& log : {agent_proc->log(), read_file(path("cli.log")), relay_proc->log()}) {
    EXPECT_EQ(log.find(kPassword), std::string::npos) << log;
  }
}

}  // namespace
}  // namespace sealrelay::test
