// The browser page (web/) in real headless Chromium, against a real
// redis-server, relay (serving web/ with --web-root) and agent: each test
// starts that system with tests/support's Deployment, runs one scenario of
// page_driver.mjs (node + playwright-core + Debian's chromium), does the
// harness's part of it (tampering with Redis, re-keying the agent) when the
// driver asks, and checks the driver's result file against the source files.
//
// Screenshots of every main screen land in build/tests/browser/screenshots/.
// Without chromium, node, web/node_modules or web/vendor the tests say
// "skipped" with the reason.
#include <gtest/gtest.h>
#include <signal.h>

#include <filesystem>
#include <fstream>

#include "tests/browser/browser_fixture.h"
#include "tests/e2e/tamper.h"

namespace sealrelay::test {
namespace {

TEST_F(BrowserPage, SignInBrowseAndDownloadA32MiBFileToDiskBitIdentical) {
  json r = run_driver("download");
  expect_clean(r);
  if (HasFatalFailure()) return;
  expect_browsed_and_downloaded(r, "32.0 MiB");
}

TEST_F(BrowserPage, WithoutFileSystemAccessTheDownloadIsHeldInMemoryAndSaysItsLimit) {
  json r = run_driver("memory");
  expect_clean(r);
  if (HasFatalFailure()) return;
  EXPECT_TRUE(contains(r, "saveMode", "cannot stream downloads to disk")) << r.value("saveMode", "");
  EXPECT_TRUE(contains(r, "saveMode", "1.0 GiB")) << r.value("saveMode", "");
  EXPECT_EQ(r["download"].value("state", ""), "done") << r["download"].dump(2);
  EXPECT_TRUE(same_file(src, r.value("memoryPath", "")));
}

TEST_F(BrowserPage, CancellingADownloadSavesNothingAndCancelsTheTransfer) {
  json r = run_driver("cancel");
  expect_clean(r);
  if (HasFatalFailure()) return;
  EXPECT_TRUE(contains(r, "busyStatus", "One transfer at a time")) << r.value("busyStatus", "");
  EXPECT_EQ(r["download"].value("state", ""), "cancelled") << r["download"].dump(2);
  EXPECT_EQ(r["download"].value("result", ""), "Download cancelled. Nothing was saved.");
  EXPECT_TRUE(r["disk"].is_null() || r["disk"].value("size", -1) == 0) << r["disk"].dump();
  EXPECT_NE(r["relayStates"].dump().find("cancelled"), std::string::npos) << r["relayStates"].dump();
}

TEST_F(BrowserPage, AnUnauthorizedBrowserSeesTheAgentsRefusal) {
  json r = run_driver("refused");
  expect_clean(r);
  if (HasFatalFailure()) return;
  EXPECT_TRUE(contains(r, "alert", "Agent \"shop-1\" refused this browser (unauthorized)")) << r.value("alert", "");
  EXPECT_TRUE(contains(r, "alert", "authorized_requesters")) << r.value("alert", "");
  EXPECT_EQ(r.value("fingerprintAfterReload", ""), r.value("fingerprint", "?")) << "the key survives a reload";
  EXPECT_TRUE(r["tokenAfterSignOut"].is_null()) << r["tokenAfterSignOut"].dump();
  EXPECT_FALSE(r.value("agentsVisibleAfterSignOut", true));
}

// As tests/e2e's AFrameTamperedInTheStoreEndsInAnIntegrityError, with the
// page as the requester: its reading is held (the driver's gate) so frames
// queue in Redis; the relay is killed so the rest comes from the store; the
// last queued frame gets a changed byte; the relay restarts; the page
// reconnects with Last-Event-ID and must refuse the changed frame.
//
// Chromium keeps reading an event stream well beyond what the page consumed
// (about 65 MiB of content here, kernel socket buffers included), so the file
// is 256 MiB for the relay's window to fill at all; and when the connection
// breaks, what Chromium had buffered is dropped (a stream that errors loses
// its queue), so the page asks again from far behind what the relay counted
// as delivered. The relay's default history (8 frames) then answers `gone`;
// this relay keeps 512 so the page gets the rest, changed frame included,
// from the store.
class BrowserPageLongHistory : public BrowserPage {
 protected:
  BrowserPageLongHistory() { extra_relay_args_ = {"--history-frames", "512"}; }
};

TEST_F(BrowserPageLongHistory, AFrameTamperedInRedisIsReportedAsAnIntegrityError) {
  write_random_file(sys->share("shop-1") + "/ledger.bin", 256 * kMiB, 62);
  auto driver = start_driver("tamper");
  ASSERT_TRUE(driver);
  ASSERT_TRUE(wait_signal("frozen")) << driver->log();
  std::string key;
  ASSERT_TRUE(wait_for_full_window(key));
  sys->stop_relay(SIGKILL);
  auto tampered = tamper_last_frame(sys->redis()->socket_path(), key);
  ASSERT_TRUE(tampered.ok()) << tampered.error().message;
  ASSERT_TRUE(sys->restart_relay().ok());
  signal("tampered");
  json r = finish_driver(*driver);
  expect_clean(r);
  if (HasFatalFailure()) return;
  EXPECT_EQ(r["download"].value("state", ""), "failed") << r["download"].dump(2);
  EXPECT_EQ(r["download"].value("errorKind", ""), "integrity") << r["download"].dump(2);
  EXPECT_EQ(r["download"].value("errorCode", ""), "tampered") << r["download"].dump(2);
  EXPECT_TRUE(contains(r["download"], "result", "Integrity check failed (tampered)")) << r["download"].dump(2);
  EXPECT_TRUE(contains(r, "alert", "Nothing was saved")) << r.value("alert", "");
  EXPECT_TRUE(r["disk"].is_null() || r["disk"].value("size", -1) == 0) << r["disk"].dump();
}

// The relay dies mid-download: what Chromium had read ahead is lost with
// the connection (how much varies from run to run), the relay no longer
// holds it and answers `gone`; the page goes on with a new transfer from the
// bytes it verified, and the file is whole. This relay keeps no history
// beyond what it wrote, so that any loss at all needs the resume (with the
// default history a small loss is served by Last-Event-ID alone). 256 MiB,
// as in the tamper test: with less, Chromium may read the whole stream
// ahead before the relay dies, and nothing is lost.
class BrowserPageNoHistory : public BrowserPage {
 protected:
  BrowserPageNoHistory() { extra_relay_args_ = {"--history-frames", "0"}; }
};

TEST_F(BrowserPageNoHistory, ARelayRestartMidDownloadIsResumedAndTheFileIsBitIdentical) {
  std::string video = sys->share("shop-1") + "/video.bin";
  write_random_file(video, 256 * kMiB, 63);
  auto driver = start_driver("restart");
  ASSERT_TRUE(driver);
  ASSERT_TRUE(wait_signal("frozen")) << driver->log();
  // Kill only once Chromium has read ahead all it will: the page's Worker
  // holds several MiB of its own (batches, windows), and a relay killed
  // before the read-ahead built up may lose nothing at all.
  std::string key;
  ASSERT_TRUE(wait_for_full_window(key));
  sys->stop_relay(SIGKILL);
  ASSERT_TRUE(sys->restart_relay().ok());
  signal("restarted");
  json r = finish_driver(*driver);
  expect_clean(r);
  if (HasFatalFailure()) return;
  EXPECT_TRUE(contains(r, "resumedText", "resumed at")) << r.value("resumedText", "");
  EXPECT_EQ(r["download"].value("state", ""), "done") << r["download"].dump(2);
  EXPECT_EQ(r.value("resumes", 0), 1);
  EXPECT_TRUE(contains(r["download"], "result", "Verified (resumed once)")) << r["download"].dump(2);
  ASSERT_TRUE(r["disk"].is_object()) << r.dump(2);
  EXPECT_EQ(r["disk"].value("size", 0), 256 * kMiB);
  EXPECT_EQ(r["disk"].value("sha256", ""), sha256_of_file(video));
}

// The page decodes frames with the engine's base64 (Chromium has
// Uint8Array.fromBase64 and setFromBase64): it must refuse exactly what the
// JS table refuses, which web/test/encoding.test.mjs checks only under node.
TEST_F(BrowserPage, TheEnginesBase64IsAsStrictAsTheJsTable) {
  json r = run_driver("codecs");
  ASSERT_TRUE(r.value("ok", false)) << r.value("error", "") << "\n" << r.value("driver_log", "");
  EXPECT_TRUE(r["pageErrors"].empty()) << r["pageErrors"].dump(2);
  const json& c = r["codecs"];
  EXPECT_TRUE(c.value("native", false)) << "Chromium 156 has Uint8Array.fromBase64: " << c.dump();
  EXPECT_EQ(c["decoders"], json::array({"js", "native", "jsInto", "nativeInto"})) << c.dump();
  EXPECT_TRUE(c["accepted"].empty()) << c["accepted"].dump(2);
  EXPECT_TRUE(c["disagreements"].empty()) << c["disagreements"].dump(2);
}

TEST_F(BrowserPage, AChangedAgentKeyIsRefusedLoudlyUntilRepinned) {
  std::string old_fp = agent_fingerprint(sys->agent_state("shop-1"));
  auto driver = start_driver("rekey");
  ASSERT_TRUE(driver);
  ASSERT_TRUE(wait_signal("pinned")) << driver->log();
  // The agent is re-created with a new key (its authorized_requesters stays).
  sys->stop_agent("shop-1", SIGTERM);
  fs::remove(sys->agent_state("shop-1") + "/identity.key");
  auto init = run_command({binary("agent/sealrelay-agent"), "init", "--state-dir", sys->agent_state("shop-1")});
  ASSERT_TRUE(init.ok() && init->exit_code == 0) << (init.ok() ? init->err : init.error().message);
  ASSERT_TRUE(sys->restart_agent("shop-1").ok());
  ASSERT_TRUE(sys->agent_online("shop-1")) << sys->agent("shop-1").log();
  std::string new_fp = agent_fingerprint(sys->agent_state("shop-1"));
  ASSERT_NE(old_fp, new_fp);
  signal("rekeyed");
  json r = finish_driver(*driver);
  expect_clean(r);
  if (HasFatalFailure()) return;
  EXPECT_EQ(r.value("pinnedFingerprint", ""), old_fp);
  EXPECT_TRUE(contains(r, "agentRowChanged", "KEY CHANGED")) << r.value("agentRowChanged", "");
  EXPECT_TRUE(contains(r["pinChanged"], "title", "The key of agent \"shop-1\" has changed")) << r["pinChanged"].dump();
  EXPECT_EQ(r["pinChanged"].value("old", ""), old_fp);
  EXPECT_EQ(r["pinChanged"].value("new", ""), new_fp);
  EXPECT_EQ(r["pinChanged"].value("focused", ""), "pin-changed");
  EXPECT_TRUE(contains(r, "agentRowRepinned", new_fp)) << r.value("agentRowRepinned", "");
  EXPECT_FALSE(contains(r, "agentRowRepinned", "KEY CHANGED")) << r.value("agentRowRepinned", "");
}

}  // namespace
}  // namespace sealrelay::test
