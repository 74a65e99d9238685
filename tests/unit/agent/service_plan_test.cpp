// The Windows service's settings (agent/service_plan.h): pure functions,
// run here on Linux and, in the Windows build, under wine.
#include "agent/service_plan.h"

#include <gtest/gtest.h>

namespace sealrelay::agent::service {
namespace {

using namespace std::chrono_literals;

TEST(ServicePlan, TheFiveActionsParseAndNothingElseDoes) {
  EXPECT_EQ(parse_action("install"), Action::install);
  EXPECT_EQ(parse_action("uninstall"), Action::uninstall);
  EXPECT_EQ(parse_action("start"), Action::start);
  EXPECT_EQ(parse_action("stop"), Action::stop);
  EXPECT_EQ(parse_action("status"), Action::status);
  for (const char* other : {"", "Install", "remove", "restart", "run", "install "})
    EXPECT_EQ(parse_action(other), std::nullopt) << other;
}

TEST(ServicePlan, TheServiceRunsAsLocalServiceNotSystem) {
  Account a = account();
  EXPECT_EQ(a.name, "NT AUTHORITY\\LocalService");
  EXPECT_EQ(a.sid, "S-1-5-19");
  EXPECT_EQ(a.sddl_alias, "LS");
  EXPECT_NE(a.sid, "S-1-5-18");  // LocalSystem.
}

TEST(ServicePlan, FailuresRestartTheServiceLaterEachTimeAndTheCountResetsAfterADay) {
  FailurePolicy p = failure_policy();
  EXPECT_EQ(p.reset_after, 24h);
  ASSERT_EQ(p.restart_delays.size(), 3u);
  EXPECT_EQ(p.restart_delays[0], 10s);
  EXPECT_EQ(p.restart_delays[1], 60s);
  EXPECT_EQ(p.restart_delays[2], 5min);
}

TEST(ServicePlan, TheCommandLineQuotesPathsWithSpaces) {
  auto line = command_line("C:\\Program Files\\sealrelay\\sealrelay-agent.exe",
                           "C:\\ProgramData\\sealrelay\\agent\\sealrelay-agent.conf");
  ASSERT_TRUE(line.ok());
  EXPECT_EQ(*line, "\"C:\\Program Files\\sealrelay\\sealrelay-agent.exe\" --config "
                   "\"C:\\ProgramData\\sealrelay\\agent\\sealrelay-agent.conf\" run --service");
}

TEST(ServicePlan, PathsThatCannotBeQuotedAreRefused) {
  for (const char* exe : {"", "C:\\a\"b\\x.exe", "C:\\a\nb.exe", "C:\\folder\\"}) {
    auto line = command_line(exe, "C:\\x.conf");
    ASSERT_FALSE(line.ok()) << exe;
    EXPECT_EQ(line.error().code, "bad_config");
  }
  EXPECT_FALSE(command_line("C:\\x.exe", "C:\\my \"config\".conf").ok());
}

TEST(ServicePlan, FoldersLiveUnderProgramData) {
  Paths p = paths("C:/ProgramData");
  EXPECT_EQ(p.state_dir, std::filesystem::path("C:/ProgramData") / "sealrelay" / "agent");
  EXPECT_EQ(p.config, p.state_dir / "sealrelay-agent.conf");
  EXPECT_EQ(p.logs_dir, std::filesystem::path("C:/ProgramData") / "sealrelay" / "logs");
  EXPECT_EQ(p.log_file, p.logs_dir / "sealrelay-agent.log");
}

TEST(ServicePlan, OnlySystemAdministratorsAndTheServiceAccountAreInTheAccessLists) {
  EXPECT_EQ(folder_sddl(), "D:P(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)(A;OICI;0x1301bf;;;LS)");
  EXPECT_EQ(key_sddl(), "D:P(A;;FA;;;SY)(A;;FA;;;BA)(A;;FR;;;LS)");
  for (const std::string& sddl : {folder_sddl(), key_sddl()}) {
    EXPECT_EQ(sddl.rfind("D:P", 0), 0u) << "protected: nothing inherited from ProgramData";
    for (const char* never : {";BU)", ";WD)", ";AU)", ";IU)"}) EXPECT_EQ(sddl.find(never), std::string::npos);
  }
}

TEST(ServicePlan, TheLogIsBoundedToFiftyMebibytes) {
  EXPECT_EQ(kLogFileBytes * kLogFiles, size_t{50} * 1024 * 1024);
}

}  // namespace
}  // namespace sealrelay::agent::service
