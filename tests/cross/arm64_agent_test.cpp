// The arm64 agent under qemu-aarch64 against this build's x86-64 relay and
// CLI: what tests/e2e checks of the x86-64 agent, on the binary shipped for
// ARM boxes. The arm64 build comes from the ctest fixture cross_arm64_build;
// without it (or without qemu) these tests report skipped, and fail when
// SEALRELAY_REQUIRE_CROSS names arm64 or is 1 (CI). The checks are
// tests/cross/cross_agent.h's, shared with the Windows agent.
#include <elf.h>

#include "tests/cross/cross_agent.h"

namespace sealrelay::test {
namespace {

class Arm64Agent : public CrossAgentTest {
 protected:
  std::string id() const override { return "arm-1"; }
  std::string_view target() const override { return "arm64"; }
  std::optional<std::string> absent() const override { return cross::agent_absent(); }
  std::vector<std::string> argv(const std::vector<std::string>& args) const override {
    return cross::agent_argv(args);
  }
  void check_binary() const override {
    ASSERT_EQ(cross::elf_machine(cross::arm64_dir() + "/agent/sealrelay-agent"), EM_AARCH64);
  }
};

TEST_F(Arm64Agent, ASixtyFourMiBRandomFileArrivesBitIdentical) { pull_a_64_mib_file(); }

TEST_F(Arm64Agent, ListsAFolder) { list_a_folder(); }

TEST_F(Arm64Agent, RefusesPathsThatLeaveTheShare) {
  refuse_paths_that_leave_the_share({
      {"/demo/../etc/passwd", "'..'"},
      {"/etc/passwd", "no share"},
      {"/demo/a/../../x", "'..'"},
      {"/demo/absolute-link", "share"},
      {"/demo/relative-link", "share"},
      {"/demo/dir-link/also-secret.txt", "share"},
  });
}

}  // namespace
}  // namespace sealrelay::test
