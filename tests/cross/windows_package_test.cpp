// The Windows agent as scripts/build-cross windows made it (ctest fixture
// cross_windows_build): one .exe that needs no DLL beyond Windows' own (no
// Visual C++ runtime, no libstdc++/libgcc/winpthread beside it), that runs
// (under wine), and the .zip that carries it.
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <set>
#include <sstream>

#include "tests/cross/cross.h"
#include "tests/support/support.h"

namespace sealrelay::test {
namespace {
namespace fs = std::filesystem;

std::string exe() { return cross::windows_dir() + "/agent/sealrelay-agent.exe"; }
std::string zip() {
  return cross::windows_dir() + "/packages/sealrelay-agent-" SEALRELAY_VERSION "-windows-x64.zip";
}

class WindowsPackage : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string why;
    if (!fs::exists("/usr/bin/x86_64-w64-mingw32-objdump")) why = "x86_64-w64-mingw32-objdump is not installed";
    else if (auto absent = cross::windows_agent_absent()) why = *absent;
    else if (!fs::exists(zip())) why = "no " + zip() + " (scripts/build-cross windows makes it)";
    if (why.empty()) return;
    if (cross::required("windows")) FAIL() << why;
    GTEST_SKIP() << "skipped: " << why;
  }
};

TEST_F(WindowsPackage, TheExeImportsOnlyDllsThatShipWithWindows) {
  auto r = run_command({"/usr/bin/x86_64-w64-mingw32-objdump", "-p", exe()});
  ASSERT_TRUE(r && r->exit_code == 0);
  std::set<std::string> dlls;
  std::istringstream lines(r->out);
  for (std::string line; std::getline(lines, line);) {
    auto at = line.find("DLL Name: ");
    if (at == std::string::npos) continue;
    std::string name = line.substr(at + 10);
    std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::tolower(c); });
    dlls.insert(name);
  }
  const std::set<std::string> windows{"kernel32.dll", "msvcrt.dll", "advapi32.dll", "ws2_32.dll", "crypt32.dll",
                                      "bcrypt.dll",   "user32.dll", "gdi32.dll",    "shell32.dll", "ole32.dll",
                                      "oleaut32.dll", "rpcrt4.dll"};
  ASSERT_FALSE(dlls.empty()) << r->out;
  for (const auto& dll : dlls) EXPECT_TRUE(windows.count(dll)) << dll << " is not part of Windows";
}

TEST_F(WindowsPackage, TheExeRunsAndSaysItsVersion) {
  auto r = run_command(cross::windows_agent_argv({"--version"}), 120s);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->exit_code, 0) << r->err;
  EXPECT_NE(r->out.find("sealrelay-agent/"), std::string::npos) << r->out << r->err;
}

TEST_F(WindowsPackage, TheZipHoldsTheExeAndTheSampleConfig) {
  auto r = run_command({"/usr/bin/unzip", "-l", zip()});
  ASSERT_TRUE(r && r->exit_code == 0);
  EXPECT_NE(r->out.find("sealrelay-agent.exe"), std::string::npos) << r->out;
  EXPECT_NE(r->out.find("sealrelay-agent.conf.example"), std::string::npos) << r->out;
}

}  // namespace
}  // namespace sealrelay::test
