// The Windows agent as a service, under wine's Service Control Manager
// (services.exe): `service install`, `status`, `start`, `stop`,
// `uninstall` with the real exe, the service's log file under the prefix's
// ProgramData, and the SCM's stop reaching the daemon's stop seam. Wine
// runs the service as the calling user and enforces no ACL: the account,
// the recovery actions and the access lists are tested as data
// (tests/unit/agent/service_*_test.cpp), not here. The .msi goes in and
// out through wine's msiexec.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "tests/cross/cross.h"
#include "tests/support/support.h"

namespace sealrelay::test {
namespace {
namespace fs = std::filesystem;

std::string read_all(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

class WindowsService : public ::testing::Test {
 protected:
  void SetUp() override {
    if (auto absent = cross::windows_agent_absent()) {
      if (cross::required("windows")) FAIL() << *absent;
      GTEST_SKIP() << "skipped: " << *absent;
    }
    wine({"msiexec", "/x", msi(), "/qn"});  // What an interrupted run left.
    agent({"service", "uninstall"});
    fs::remove_all(log_dir());
  }
  void TearDown() override {
    if (!IsSkipped()) agent({"service", "uninstall"});
  }

  // A program of the prefix (msiexec, reg) under wine.
  RunResult wine(const std::vector<std::string>& args) {
    std::vector<std::string> argv{"/usr/bin/env", "WINEDEBUG=-all", "WINEPREFIX=" + prefix().string(), cross::wine()};
    argv.insert(argv.end(), args.begin(), args.end());
    auto r = run_command(argv, 180s);
    return r ? *r : RunResult{};
  }
  fs::path prefix() const { return fs::path(cross::windows_dir()) / "wineprefix"; }
  std::string msi() const {
    return "Z:" + cross::windows_dir() + "/packages/sealrelay-agent-" SEALRELAY_VERSION "-windows-x64.msi";
  }
  RunResult agent(const std::vector<std::string>& args) {
    auto r = run_command(cross::windows_agent_argv(args), 180s);
    return r ? *r : RunResult{};
  }
  fs::path log_dir() const { return fs::path(cross::windows_dir()) / "wineprefix/drive_c/ProgramData/sealrelay/logs"; }
  bool log_has(const std::string& text) const {
    return read_all(log_dir() / "sealrelay-agent.log").find(text) != std::string::npos;
  }
};

TEST_F(WindowsService, InstallStartStatusStopUninstallThroughTheServiceControlManager) {
  TempDir tmp;
  fs::create_directories(tmp.path() + "/share");
  std::ofstream(tmp.path() + "/share/a.txt") << "a";
  auto init = agent({"init", "--state-dir", "Z:" + tmp.path() + "/state"});
  ASSERT_EQ(init.exit_code, 0) << init.out << init.err;
  // A relay that is not there: the daemon keeps retrying, so the service
  // stays up until it is stopped.
  std::ofstream(tmp.path() + "/agent.conf") << "[run]\nstate-dir = \"Z:" << tmp.path() << "/state\"\n"
                                            << "relay-url = \"http://127.0.0.1:9\"\ntoken = \"t\"\n"
                                            << "share = [\"docs=Z:" << tmp.path() << "/share\"]\n";

  auto status = agent({"service", "status"});
  EXPECT_EQ(status.exit_code, 3) << status.out << status.err;
  EXPECT_NE(status.out.find("not installed"), std::string::npos) << status.out;

  auto install = agent({"service", "install", "--config", "Z:" + tmp.path() + "/agent.conf"});
  ASSERT_EQ(install.exit_code, 0) << install.out << install.err;
  EXPECT_NE(install.out.find("automatic start as NT AUTHORITY\\LocalService"), std::string::npos) << install.out;
  EXPECT_NE(install.out.find("run --service"), std::string::npos) << install.out;
  // Installed, not started by install; wine's services.exe starts the
  // automatic services when it starts itself (at "boot"), so a new
  // wineserver may have started it already.
  status = agent({"service", "status"});
  EXPECT_EQ(status.exit_code, 0) << status.err;
  EXPECT_TRUE(status.out.find("sealrelay-agent: stopped") != std::string::npos ||
              status.out.find("sealrelay-agent: running") != std::string::npos)
      << status.out;

  auto start = agent({"service", "start"});
  ASSERT_EQ(start.exit_code, 0) << start.out << start.err;
  EXPECT_NE(start.out.find("sealrelay-agent: running (process "), std::string::npos) << start.out;
  // The service's own log: the run's configuration went through.
  EXPECT_TRUE(wait_until([&] { return log_has("sharing Z:"); }, 60s))
      << read_all(log_dir() / "sealrelay-agent.log");

  auto stop = agent({"service", "stop"});
  ASSERT_EQ(stop.exit_code, 0) << stop.out << stop.err;
  EXPECT_NE(stop.out.find("sealrelay-agent: stopped"), std::string::npos) << stop.out;
  // SERVICE_CONTROL_STOP reached the daemon's stop seam: it ended its run
  // itself (and reported exit code 0, or status would name the code).
  EXPECT_TRUE(log_has("stopping")) << read_all(log_dir() / "sealrelay-agent.log");
  EXPECT_EQ(stop.out.find("last exit code"), std::string::npos) << stop.out;

  auto uninstall = agent({"service", "uninstall"});
  ASSERT_EQ(uninstall.exit_code, 0) << uninstall.out << uninstall.err;
  status = agent({"service", "status"});
  EXPECT_EQ(status.exit_code, 3) << status.out << status.err;
}

TEST_F(WindowsService, StartingWithABadConfigurationFailsAndSaysWhereTheReasonIs) {
  TempDir tmp;
  auto init = agent({"init", "--state-dir", "Z:" + tmp.path() + "/state"});
  ASSERT_EQ(init.exit_code, 0) << init.out << init.err;
  std::ofstream(tmp.path() + "/agent.conf") << "[run]\nstate-dir = \"Z:" << tmp.path() << "/state\"\n"
                                            << "relay-url = \"http://127.0.0.1:9\"\ntoken = \"t\"\n";  // No share.
  auto install = agent({"service", "install", "--config", "Z:" + tmp.path() + "/agent.conf"});
  ASSERT_EQ(install.exit_code, 0) << install.out << install.err;
  agent({"service", "stop"});  // Should wine's services.exe have started it already.
  // The service reports RUNNING only once its configuration passed, so
  // `start` sees it stop with the run's exit code (2: configuration).
  auto start = agent({"service", "start"});
  EXPECT_EQ(start.exit_code, 1) << start.out << start.err;
  EXPECT_NE(start.out.find("sealrelay-agent: stopped (last exit code 2: see the log)"), std::string::npos)
      << start.out;
  EXPECT_TRUE(log_has("error no shares: pass --share")) << read_all(log_dir() / "sealrelay-agent.log");
}

TEST_F(WindowsService, TheMsiInstallsTheExeAndAStoppedServiceAndServiceInstallQuotesItsPath) {
  if (!fs::exists(msi().substr(2))) GTEST_SKIP() << "skipped: no " << msi().substr(2);
  auto in = wine({"msiexec", "/i", msi(), "/qn"});
  ASSERT_EQ(in.exit_code, 0) << in.out << in.err;
  EXPECT_TRUE(fs::exists(prefix() / "drive_c/Program Files/sealrelay/sealrelay-agent.exe"));
  EXPECT_TRUE(fs::exists(prefix() / "drive_c/Program Files/sealrelay/sealrelay-agent.conf.example"));
  EXPECT_TRUE(fs::is_directory(prefix() / "drive_c/ProgramData/sealrelay/agent"));
  EXPECT_TRUE(fs::is_directory(prefix() / "drive_c/ProgramData/sealrelay/logs"));
  auto status = agent({"service", "status"});
  EXPECT_EQ(status.exit_code, 0) << status.out << status.err;
  EXPECT_NE(status.out.find("sealrelay-agent: stopped"), std::string::npos) << status.out;
  const std::string key = "HKLM\\System\\CurrentControlSet\\Services\\sealrelay-agent";
  auto reg = wine({"reg", "query", key});
  EXPECT_NE(reg.out.find("NT AUTHORITY\\LocalService"), std::string::npos) << reg.out;
  EXPECT_NE(reg.out.find("Start    REG_DWORD    0x2"), std::string::npos) << reg.out;
  // Wine's msiexec writes the image path unquoted; `service install`, the
  // README's next step, writes it quoted.
  auto install = wine({"C:\\Program Files\\sealrelay\\sealrelay-agent.exe", "service", "install"});
  ASSERT_EQ(install.exit_code, 0) << install.out << install.err;
  reg = wine({"reg", "query", key, "/v", "ImagePath"});
  EXPECT_NE(reg.out.find("\"C:\\Program Files\\sealrelay\\sealrelay-agent.exe\" --config "
                         "\"C:\\ProgramData\\sealrelay\\agent\\sealrelay-agent.conf\" run --service"),
            std::string::npos)
      << reg.out;

  auto out = wine({"msiexec", "/x", msi(), "/qn"});
  ASSERT_EQ(out.exit_code, 0) << out.out << out.err;
  EXPECT_FALSE(fs::exists(prefix() / "drive_c/Program Files/sealrelay/sealrelay-agent.exe"));
  status = agent({"service", "status"});
  EXPECT_EQ(status.exit_code, 3) << status.out << status.err;
}

TEST_F(WindowsService, TheServiceEntryRefusesToRunOutsideTheServiceControlManager) {
  auto r = agent({"run", "--service"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("in a console use `run`"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace sealrelay::test
