// The arm64 agent under qemu-aarch64 against this build's x86-64 relay and
// CLI: what tests/e2e checks of the x86-64 agent, on the binary shipped for
// ARM boxes. The arm64 build comes from the ctest fixture cross_arm64_build;
// without it (or without qemu) these tests report skipped, and fail under
// SEALRELAY_REQUIRE_CROSS=1 (CI).
#include <elf.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <regex>

#include "tests/cross/cross.h"
#include "tests/support/deployment.h"

namespace sealrelay::test {
namespace {

namespace fs = std::filesystem;
constexpr size_t kMiB = 1024 * 1024;
const std::string kId = "arm-1";

class Arm64Agent : public ::testing::Test {
 protected:
  void SetUp() override {
    if (auto why = cross::agent_absent()) {
      if (cross::required("arm64")) FAIL() << *why;
      GTEST_SKIP() << "skipped: " << *why;
    }
    ASSERT_EQ(cross::elf_machine(cross::arm64_dir() + "/agent/sealrelay-agent"), EM_AARCH64);
    auto s = Deployment::start_one_relay(Deployment::Store::kMemory);
    ASSERT_TRUE(s.ok()) << s.error().message;
    sys = std::move(*s);
    ASSERT_NO_FATAL_FAILURE(start_agent());
  }

  // As Deployment::start_agent_online, with the arm64 binary under qemu.
  void start_agent() {
    fs::create_directories(share());
    auto token = run_logged({binary("relay/sealrelay-relay"), "--state-dir", sys->relay_state(), "token", "add-agent", kId},
                            sys->dir() + "/token.log", {}, 30s);
    ASSERT_EQ(token.exit_code, 0) << token.output;
    const std::string token_file = sys->dir() + "/agent.token";
    std::ofstream(token_file) << token.output.substr(0, token.output.find('\n')) << "\n";
    fs::permissions(token_file, fs::perms::owner_read | fs::perms::owner_write);
    const std::string state = sys->agent_state(kId);
    auto init = run_logged(cross::agent_argv({"init", "--state-dir", state}), sys->dir() + "/init.log", {}, 60s);
    ASSERT_EQ(init.exit_code, 0) << init.output;
    std::smatch key;
    const std::string identity = read_file(sys->cli_home() + "/identity.key");
    ASSERT_TRUE(std::regex_search(identity, key, std::regex("public=(\\S+)")));
    std::ofstream(state + "/authorized_requesters", std::ios::app) << key[1] << " cross-cli\n";
    auto p = Process::spawn(cross::agent_argv({"run", "--state-dir", state, "--relay-url", sys->url(), "--token-file",
                                               token_file, "--share", "demo=" + share(), "--read-timeout", "5"}),
                            sys->dir() + "/agent.log");
    ASSERT_TRUE(p.ok()) << p.error().message;
    agent = std::move(*p);
    ASSERT_TRUE(sys->agent_online(kId)) << agent->log();
  }

  std::string share() const { return sys->share(kId); }
  std::string out(const std::string& name) const { return sys->dir() + "/out/" + name; }

  std::unique_ptr<Deployment> sys;
  std::unique_ptr<Process> agent;
};

TEST_F(Arm64Agent, ASixtyFourMiBRandomFileArrivesBitIdentical) {
  write_random_file(share() + "/big.bin", 64 * kMiB, 19);
  fs::create_directories(sys->dir() + "/out");
  auto r = sys->cli({"get", kId + ":/demo/big.bin", "-o", out("big.bin")}, 600s);
  ASSERT_EQ(r.exit_code, 0) << r.output << "\n" << agent->log();
  EXPECT_TRUE(same_file(share() + "/big.bin", out("big.bin")));
}

TEST_F(Arm64Agent, ListsAFolder) {
  fs::create_directories(share() + "/sub dir");
  std::ofstream(share() + "/sub dir/note.txt") << "bonjour\n";
  write_random_file(share() + "/five.bin", 5, 2);
  auto ls = sys->cli({"--json", "ls", kId + ":/demo"});
  ASSERT_EQ(ls.exit_code, 0) << ls.output;
  EXPECT_NE(ls.output.find(R"("name":"sub dir","size":0,"type":"dir")"), std::string::npos) << ls.output;
  EXPECT_NE(ls.output.find(R"("name":"five.bin","size":5,"type":"file")"), std::string::npos) << ls.output;
  auto sub = sys->cli({"ls", kId + ":/demo/sub dir"});
  ASSERT_EQ(sub.exit_code, 0) << sub.output;
  EXPECT_NE(sub.output.find("note.txt"), std::string::npos) << sub.output;
}

TEST_F(Arm64Agent, RefusesPathsThatLeaveTheShare) {
  // A secret beside the share, and links to it from inside.
  const std::string secret = sys->dir() + "/secret.txt";
  std::ofstream(secret) << "not for requesters\n";
  fs::create_directories(sys->dir() + "/outside");
  std::ofstream(sys->dir() + "/outside/also-secret.txt") << "not for requesters either\n";
  fs::create_symlink(secret, share() + "/absolute-link");
  fs::create_symlink("../secret.txt", share() + "/relative-link");
  fs::create_symlink(sys->dir() + "/outside", share() + "/dir-link");
  fs::create_directories(sys->dir() + "/out");
  struct Case {
    std::string path;
    const char* says;
  } cases[] = {
      {"/demo/../etc/passwd", "'..'"},
      {"/etc/passwd", "no share"},
      {"/demo/a/../../x", "'..'"},
      {"/demo/absolute-link", "share"},
      {"/demo/relative-link", "share"},
      {"/demo/dir-link/also-secret.txt", "share"},
  };
  int n = 0;
  for (const auto& c : cases) {
    const std::string to = out("refused-" + std::to_string(n++));
    auto r = sys->cli({"get", kId + ":" + c.path, "-o", to});
    EXPECT_EQ(r.exit_code, 4) << c.path << "\n" << r.output;
    EXPECT_NE(r.output.find(c.says), std::string::npos) << c.path << "\n" << r.output;
    EXPECT_EQ(r.output.find("not for requesters"), std::string::npos) << c.path;
    EXPECT_FALSE(fs::exists(to)) << c.path;
  }
  auto ls = sys->cli({"ls", kId + ":/demo/dir-link"});
  EXPECT_EQ(ls.exit_code, 4) << ls.output;
  EXPECT_EQ(ls.output.find("also-secret"), std::string::npos) << ls.output;
}

}  // namespace
}  // namespace sealrelay::test
