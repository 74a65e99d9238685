// The arm64 Debian package of the agent, as scripts/build-cross arm64 made it
// with cpack (ctest fixture cross_arm64_build): its control data says arm64
// and names the arm64 runtime libraries, and the program in it is an aarch64
// ELF that runs (under qemu).
#include <elf.h>
#include <gtest/gtest.h>

#include <filesystem>

#include "tests/cross/cross.h"
#include "tests/support/support.h"

namespace sealrelay::test {
namespace {
namespace fs = std::filesystem;

std::string deb() {
  return cross::arm64_dir() + "/packages/sealrelay-agent_" SEALRELAY_VERSION "_arm64.deb";
}

RunResult dpkg_deb(const std::vector<std::string>& args) {
  std::vector<std::string> argv{"/usr/bin/dpkg-deb"};
  argv.insert(argv.end(), args.begin(), args.end());
  auto r = run_command(argv);
  EXPECT_TRUE(r && r->exit_code == 0) << (r ? r->err : r.error().message);
  return r ? *r : RunResult{};
}

class Arm64Package : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string why;
    if (!fs::exists("/usr/bin/dpkg-deb")) why = "dpkg-deb is not installed";
    else if (!fs::exists(deb())) why = "no " + deb() + " (scripts/build-cross arm64 makes it)";
    if (why.empty()) return;
    if (cross::required("arm64")) FAIL() << why;
    GTEST_SKIP() << "skipped: " << why;
  }
};

TEST_F(Arm64Package, SaysArm64AndNamesTheAgentsRuntimeLibraries) {
  EXPECT_EQ(dpkg_deb({"-f", deb(), "Package"}).out, "sealrelay-agent\n");
  EXPECT_EQ(dpkg_deb({"-f", deb(), "Architecture"}).out, "arm64\n");
  // From dpkg-shlibdeps on the aarch64 binary: the arm64 packages' names.
  const std::string depends = dpkg_deb({"-f", deb(), "Depends"}).out;
  for (const char* lib : {"libc6", "libsodium23", "libcpp-httplib0.11", "libssl3", "libstdc++6"}) {
    EXPECT_NE(depends.find(lib), std::string::npos) << "Depends lacks " << lib << ": " << depends;
  }
  const std::string contents = dpkg_deb({"--contents", deb()}).out;
  for (const char* f : {"./usr/bin/sealrelay-agent", "./usr/lib/systemd/system/sealrelay-agent.service",
                        "./etc/sealrelay/agent.conf"}) {
    EXPECT_NE(contents.find(f), std::string::npos) << f << " missing from\n" << contents;
  }
  EXPECT_EQ(contents.find("sealrelay-relay"), std::string::npos) << contents;
}

TEST_F(Arm64Package, ItsProgramIsAnAarch64ElfThatRunsUnderQemu) {
  TempDir dir;
  dpkg_deb({"-x", deb(), dir.path()});
  const std::string program = dir.path() + "/usr/bin/sealrelay-agent";
  ASSERT_EQ(cross::elf_machine(program), EM_AARCH64);
  if (auto why = cross::agent_absent()) {
    if (cross::required("arm64")) FAIL() << *why;
    GTEST_SKIP() << "skipped: " << *why;
  }
  auto argv = cross::agent_argv({"--help"});
  argv[1] = program;  // The packaged program instead of the build's.
  auto r = run_command(argv);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->exit_code, 0) << r->err;
  EXPECT_NE(r->out.find("run"), std::string::npos) << r->out;
}

}  // namespace
}  // namespace sealrelay::test
