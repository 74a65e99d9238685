// The systemd units in packaging/systemd/ pass `systemd-analyze verify`
// without a warning (an unknown key is only a warning to systemd: the
// option would silently not apply) and keep the hardening `systemd-analyze
// security` rates "OK"; the sample relay configuration starts a relay.
#include <gtest/gtest.h>
#include <signal.h>

#include <filesystem>
#include <fstream>
#include <regex>

#include "tests/integration/deploy/site.h"

namespace sealrelay::test {
namespace {
namespace fs = std::filesystem;

struct Unit {
  const char* file;
  const char* instance;  // the name to verify it under (templates need an instance)
  const char* program;   // build-tree binary replacing /usr/local/bin/<name>
};
const Unit kUnits[] = {
    {"sealrelay-agent.service", "sealrelay-agent.service", "agent/sealrelay-agent"},
    {"sealrelay-relay.service", "sealrelay-relay.service", "relay/sealrelay-relay"},
    {"sealrelay-relay@.service", "sealrelay-relay@8081.service", "relay/sealrelay-relay"},
};

void PrintTo(const Unit& u, std::ostream* os) { *os << u.instance; }

class SystemdUnits : public ::testing::TestWithParam<Unit> {
 protected:
  void SetUp() override {
    tool = find_program({"/usr/bin/systemd-analyze", "/bin/systemd-analyze"});
    if (tool.empty()) GTEST_SKIP() << "systemd-analyze is not installed";
    // The unit as installed, but starting the binary of this build.
    std::string text = read_file(source(std::string("packaging/systemd/") + GetParam().file));
    ASSERT_FALSE(text.empty());
    std::string name = fs::path(GetParam().program).filename();
    text = replace_all(text, "/usr/local/bin/" + name, binary(GetParam().program));
    unit = dir.path() + "/" + GetParam().instance;
    std::ofstream(unit) << text;
  }
  std::string tool, unit;
  TempDir dir;
};

TEST_P(SystemdUnits, VerifyFindsNothingToComplainAbout) {
  auto r = run_logged({tool, "verify", unit}, dir.path() + "/verify.log", {"SYSTEMD_LOG_COLOR=0"});
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(r.output, "") << "systemd ignores what it warns about";
}

TEST_P(SystemdUnits, RunsUnprivilegedHardenedAndRestartsOnFailure) {
  std::string text = read_file(unit);
  EXPECT_NE(text.find("\nUser=sealrelay\n"), std::string::npos);
  EXPECT_NE(text.find("\nRestart=on-failure\n"), std::string::npos);
  EXPECT_NE(text.find("\nNoNewPrivileges=yes\n"), std::string::npos);
  EXPECT_NE(text.find("\nProtectSystem=strict\n"), std::string::npos);
  auto r = run_logged({tool, "security", "--offline=true", unit}, dir.path() + "/security.log",
                      {"SYSTEMD_LOG_COLOR=0", "SYSTEMD_COLORS=0"});
  std::smatch m;
  ASSERT_TRUE(std::regex_search(r.output, m, std::regex(R"(Overall exposure level for \S+: ([0-9.]+))"))) << r.output;
  EXPECT_LE(std::stod(m[1]), 2.0) << r.output;
}

INSTANTIATE_TEST_SUITE_P(Packaging, SystemdUnits, ::testing::ValuesIn(kUnits),
                         [](const ::testing::TestParamInfo<Unit>& p) {
                           std::string n = p.param.instance;
                           return std::regex_replace(n.substr(0, n.find('.')), std::regex("[^A-Za-z0-9]"), "_");
                         });

TEST(SampleConfig, TheRelayStartsFromRelayConfExample) {
  std::unique_ptr<Deployment> made = start_site();
  Deployment& site = *made;
  // Flags beat the file: a temp state dir and a free port instead of the examples'.
  auto relay = site.start_relay("sample", {"--config", source("packaging/relay.conf.example")});
  ASSERT_TRUE(relay) << relay.error().message;
  site.relay("sample").kill(SIGTERM);
  auto status = site.relay("sample").wait_exit(20s);
  ASSERT_TRUE(status);
}

}  // namespace
}  // namespace sealrelay::test
