// The Windows agent as scripts/build-cross windows made it (ctest fixture
// cross_windows_build): one .exe that needs no DLL beyond Windows' own (no
// Visual C++ runtime, no libstdc++/libgcc/winpthread beside it), that runs
// (under wine), the .zip that carries it, and the .msi that installs it and
// registers its service (its tables, read back with msitools' msiinfo).
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <map>
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
std::string msi() {
  return cross::windows_dir() + "/packages/sealrelay-agent-" SEALRELAY_VERSION "-windows-x64.msi";
}

// The rows of `table` in the .msi, each split at tabs (msiinfo export
// prints the column names, their types and the table name first).
std::vector<std::vector<std::string>> msi_rows(const std::string& table) {
  auto r = run_command({"/usr/bin/msiinfo", "export", msi(), table});
  if (!r || r->exit_code != 0) return {};
  std::vector<std::vector<std::string>> rows;
  std::istringstream lines(r->out);
  int n = 0;
  for (std::string line; std::getline(lines, line); ++n) {
    if (n < 3) continue;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    std::vector<std::string> cells;
    size_t from = 0;
    for (size_t tab; (tab = line.find('\t', from)) != std::string::npos; from = tab + 1)
      cells.push_back(line.substr(from, tab - from));
    cells.push_back(line.substr(from));
    rows.push_back(cells);
  }
  return rows;
}

class WindowsPackage : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string why;
    if (!fs::exists("/usr/bin/x86_64-w64-mingw32-objdump")) why = "x86_64-w64-mingw32-objdump is not installed";
    else if (auto absent = cross::windows_agent_absent()) why = *absent;
    else if (!fs::exists(zip())) why = "no " + zip() + " (scripts/build-cross windows makes it)";
    else if (!fs::exists("/usr/bin/msiinfo")) why = "msiinfo is not installed (scripts/setup --cross windows)";
    else if (!fs::exists(msi())) why = "no " + msi() + " (scripts/build-cross windows makes it with wixl)";
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

TEST_F(WindowsPackage, TheMsiInstallsTheExeAndTheSampleConfigUnderProgramFiles) {
  std::set<std::string> files;
  for (const auto& row : msi_rows("File")) {
    ASSERT_GE(row.size(), 4u);
    files.insert(row[2]);
    if (row[2] == "sealrelay-agent.exe") {
      EXPECT_GT(std::stoll(row[3]), 100000) << "the exe's size";
    }
  }
  EXPECT_EQ(files, (std::set<std::string>{"sealrelay-agent.exe", "sealrelay-agent.conf.example"}));
  bool program_files = false;
  for (const auto& row : msi_rows("Directory")) {
    if (row.size() >= 3 && row[0] == "INSTALLDIR") program_files = row[1] == "ProgramFiles64Folder";
  }
  EXPECT_TRUE(program_files) << "INSTALLDIR is not under ProgramFiles64Folder";
}

TEST_F(WindowsPackage, TheMsiRegistersTheServiceWithAutomaticStartAsLocalServiceAndDoesNotStartIt) {
  auto rows = msi_rows("ServiceInstall");
  ASSERT_EQ(rows.size(), 1u);
  const auto& s = rows[0];
  ASSERT_GE(s.size(), 11u);
  EXPECT_EQ(s[1], "sealrelay-agent");
  EXPECT_EQ(s[3], "16") << "SERVICE_WIN32_OWN_PROCESS";
  EXPECT_EQ(s[4], "2") << "SERVICE_AUTO_START";
  EXPECT_EQ(s[8], "NT AUTHORITY\\LocalService");
  EXPECT_EQ(s[10], "--config \"[CommonAppDataFolder]sealrelay\\agent\\sealrelay-agent.conf\" run --service");
  auto control = msi_rows("ServiceControl");
  ASSERT_EQ(control.size(), 1u);
  ASSERT_GE(control[0].size(), 3u);
  int events = std::stoi(control[0][2]);
  EXPECT_EQ(events & 0x11, 0) << "msidbServiceControlEventStart (install or uninstall): not started until configured";
  EXPECT_EQ(events & 0x02, 0x02) << "stopped before an upgrade";
  EXPECT_EQ(events & 0x80, 0x80) << "removed on uninstall";
}

TEST_F(WindowsPackage, TheMsiCreatesTheStateAndLogFoldersUnderProgramData) {
  std::map<std::string, std::pair<std::string, std::string>> dirs;  // Id -> (parent, name).
  for (const auto& row : msi_rows("Directory")) {
    if (row.size() >= 3) dirs[row[0]] = {row[1], row[2]};
  }
  std::set<std::string> created;
  for (const auto& row : msi_rows("CreateFolder")) {
    ASSERT_GE(row.size(), 1u);
    std::string path, id = row[0];
    for (int depth = 0; depth < 8 && dirs.count(id) && id != "CommonAppDataFolder"; ++depth) {
      path = dirs[id].second + (path.empty() ? "" : "\\" + path);
      id = dirs[id].first;
    }
    created.insert(id + ":" + path);
  }
  EXPECT_EQ(created, (std::set<std::string>{"CommonAppDataFolder:sealrelay\\agent", "CommonAppDataFolder:sealrelay\\logs"}));
}

}  // namespace
}  // namespace sealrelay::test
