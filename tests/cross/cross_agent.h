// One fixture for an agent built for another platform and run here under
// its emulator (qemu-aarch64, wine64) against this build's relay and CLI,
// and the checks both platforms share: a 64 MiB pull, a listing, and a
// traversal table whose rows are the platform's. A platform's test file
// says how its agent is run and which refusals it expects.
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tests/cross/cross.h"
#include "tests/cross/emulated_agent.h"
#include "tests/support/deployment.h"

namespace sealrelay::test {

namespace cross_agent_detail {
constexpr size_t kMiB = 1024 * 1024;
}  // namespace cross_agent_detail

class CrossAgentTest : public ::testing::Test {
 protected:
  // The platform: its agent id, whether it can run here, how it is run.
  virtual std::string id() const = 0;
  virtual std::string_view target() const = 0;  // for cross::required
  virtual std::optional<std::string> absent() const = 0;
  virtual std::vector<std::string> argv(const std::vector<std::string>& args) const = 0;
  // A path of this machine as the agent names it (wine: "Z:" + path).
  virtual std::string local(const std::string& path) const { return path; }
  virtual void check_binary() const {}

  void SetUp() override {
    if (auto why = absent()) {
      if (cross::required(target())) FAIL() << *why;
      GTEST_SKIP() << "skipped: " << *why;
    }
    ASSERT_NO_FATAL_FAILURE(check_binary());
    auto s = Deployment::start_one_relay(Deployment::Store::kMemory);
    ASSERT_TRUE(s.ok()) << s.error().message;
    sys = std::move(*s);
    ASSERT_NO_FATAL_FAILURE(start_agent());
  }

  void start_agent() {
    auto p = start_emulated_agent(*sys, id(), Emulator{[this](const auto& args) { return argv(args); },
                                                       [this](const std::string& path) { return local(path); }});
    ASSERT_TRUE(p.ok()) << p.error().message;
    agent = std::move(*p);
  }

  std::string share() const { return sys->share(id()); }
  std::string out(const std::string& name) const { return sys->dir() + "/out/" + name; }

  void pull_a_64_mib_file() {
    write_random_file(share() + "/big.bin", 64 * cross_agent_detail::kMiB, 19);
    std::filesystem::create_directories(sys->dir() + "/out");
    auto r = sys->cli({"get", id() + ":/demo/big.bin", "-o", out("big.bin")}, 600s);
    ASSERT_EQ(r.exit_code, 0) << r.output << "\n" << agent->log();
    EXPECT_TRUE(same_file(share() + "/big.bin", out("big.bin")));
  }

  void list_a_folder() {
    std::filesystem::create_directories(share() + "/sub dir");
    std::ofstream(share() + "/sub dir/note.txt") << "bonjour\n";
    write_random_file(share() + "/five.bin", 5, 2);
    auto ls = sys->cli({"--json", "ls", id() + ":/demo"});
    ASSERT_EQ(ls.exit_code, 0) << ls.output;
    EXPECT_NE(ls.output.find(R"("name":"sub dir","size":0,"type":"dir")"), std::string::npos) << ls.output;
    EXPECT_NE(ls.output.find(R"("name":"five.bin","size":5,"type":"file")"), std::string::npos) << ls.output;
    auto sub = sys->cli({"ls", id() + ":/demo/sub dir"});
    ASSERT_EQ(sub.exit_code, 0) << sub.output;
    EXPECT_NE(sub.output.find("note.txt"), std::string::npos) << sub.output;
  }

  struct Refusal {
    std::string path;
    const char* says;  // in the CLI's message
  };
  // Links out of the share and `refusals` (with note.txt and links planted).
  void refuse_paths_that_leave_the_share(const std::vector<Refusal>& cases) {
    // A secret beside the share, and links to it from inside.
    const std::string secret = sys->dir() + "/secret.txt";
    std::ofstream(secret) << "not for requesters\n";
    std::filesystem::create_directories(sys->dir() + "/outside");
    std::ofstream(sys->dir() + "/outside/also-secret.txt") << "not for requesters either\n";
    std::filesystem::create_symlink(secret, share() + "/absolute-link");
    std::filesystem::create_symlink("../secret.txt", share() + "/relative-link");
    std::filesystem::create_symlink(sys->dir() + "/outside", share() + "/dir-link");
    std::filesystem::create_directories(sys->dir() + "/out");
    std::ofstream(share() + "/note.txt") << "in the share\n";
    int n = 0;
    for (const auto& c : cases) {
      const std::string to = out("refused-" + std::to_string(n++));
      auto r = sys->cli({"get", id() + ":" + c.path, "-o", to});
      EXPECT_EQ(r.exit_code, 4) << c.path << "\n" << r.output;
      EXPECT_NE(r.output.find(c.says), std::string::npos) << c.path << "\n" << r.output;
      EXPECT_EQ(r.output.find("not for requesters"), std::string::npos) << c.path;
      EXPECT_FALSE(std::filesystem::exists(to)) << c.path;
    }
    auto ls = sys->cli({"ls", id() + ":/demo/dir-link"});
    EXPECT_EQ(ls.exit_code, 4) << ls.output;
    EXPECT_EQ(ls.output.find("also-secret"), std::string::npos) << ls.output;
  }

  std::unique_ptr<Deployment> sys;
  std::unique_ptr<Process> agent;
};

}  // namespace sealrelay::test
