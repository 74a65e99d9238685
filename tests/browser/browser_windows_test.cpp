// The page against the Windows agent (issue 19): sealrelay-agent.exe run
// under wine64 (tests/cross/emulated_agent.h) behind this build's relay,
// browsed and pulled from in real headless Chromium by browser_test.cpp's
// "download" scenario: the listing (a UTF-8 name among them) and a file of
// random bytes saved bit-identical, verified by the page. Screenshots land in
// build/tests/browser/screenshots/windows/.
//
// The Windows build comes from the ctest fixture cross_windows_build.
// Without wine or that build the test reports skipped, and fails when
// SEALRELAY_REQUIRE_CROSS is 1 or names windows (as tests/cross does);
// without chromium it reports skipped, as every browser test does.
#include <gtest/gtest.h>

#include "tests/browser/browser_fixture.h"
#include "tests/cross/cross.h"
#include "tests/cross/emulated_agent.h"

namespace sealrelay::test {
namespace {

class BrowserWindowsAgent : public BrowserPage {
 protected:
  BrowserWindowsAgent() {
    agent_id_ = "win-1";
    big_bytes_ = 5 * kMiB;
    screenshots_ = SEALRELAY_SCREENSHOT_DIR "/windows";
  }

  void SetUp() override {
    if (auto why = cross::windows_agent_absent()) {
      if (cross::required("windows")) FAIL() << *why;
      GTEST_SKIP() << "skipped: " << *why;
    }
    BrowserPage::SetUp();
  }

  void start_agent() override {
    auto p = start_emulated_agent(*sys, agent_id_, Emulator{cross::windows_agent_argv, cross::windows_local});
    ASSERT_TRUE(p.ok()) << p.error().message;
    agent = std::move(*p);
  }

  std::unique_ptr<Process> agent;  // goes before the base's Deployment
};

TEST_F(BrowserWindowsAgent, ThePageListsAndPullsAFileFromTheWindowsAgentBitIdentical) {
  json r = run_driver("download");
  expect_clean(r);
  if (HasFatalFailure()) return;
  expect_browsed_and_downloaded(r, "5.0 MiB");
}

// Until the Windows agent walks folders (issue 17), the page says why a
// folder download from it fails and what to do instead.
TEST_F(BrowserWindowsAgent, AFolderDownloadIsRefusedWithTheAgentsReasonAndTheWayRound) {
  json r = run_driver("folderrefused");
  expect_clean(r);
  if (HasFatalFailure()) return;
  EXPECT_EQ(r["download"].value("state", ""), "failed") << r["download"].dump(2);
  const std::string said = r["download"].value("result", "") + " " + r.value("alert", "");
  EXPECT_NE(said.find("does not serve folder pulls yet"), std::string::npos) << said;
  EXPECT_NE(said.find("one by one"), std::string::npos) << said;
}

}  // namespace
}  // namespace sealrelay::test
