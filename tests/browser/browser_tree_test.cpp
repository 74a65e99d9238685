// Folder downloads through the page (issue 17, docs/protocol.md §4.5,
// web/js/folder_download.js): a tree on a real agent, pulled by the page in
// real headless Chromium through a real relay, into a picked folder and as
// one zip, each compared here file by file with the source. The tree holds
// what the page must refuse or report: a symlink leading out of the share,
// names with a control character and with bytes that are not UTF-8 (the
// agent reports them, the page writes nothing under them).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>

#include "tests/browser/browser_fixture.h"

namespace sealrelay::test {
namespace {

// path (relative, '/'-joined) → the SHA-256 of its content, or "/" for a folder.
std::map<std::string, std::string> tree_of(const fs::path& root) {
  std::map<std::string, std::string> out;
  for (const auto& e : fs::recursive_directory_iterator(root)) {
    std::string rel = fs::relative(e.path(), root).generic_string();
    if (e.is_symlink()) continue;
    out[rel] = e.is_directory() ? "/" : sha256_of_file(e.path().string());
  }
  return out;
}

class BrowserTree : public BrowserPage {
 protected:
  void SetUp() override {
    BrowserPage::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    tree = sys->share("shop-1") + "/tree";
    fs::create_directories(tree + "/a/empty");
    fs::create_directories(tree + "/b");
    std::ofstream(tree + "/a/one.txt") << "one\n";
    std::ofstream(tree + "/a/zero");
    std::ofstream(tree + "/top — été.txt") << "top\n";
    ASSERT_TRUE(write_random_file(tree + "/b/big.bin", 3 * kMiB + 17, 71));
    expected = tree_of(tree);
    // Entries the agent reports and sends nothing of.
    fs::create_symlink("/etc", tree + "/out");
    std::ofstream(tree + "/ctl\x07.txt") << "bell\n";
    std::ofstream(tree + "/bad\xff.txt") << "latin-1\n";
  }

  // The page's summary lists each reported entry with its reason.
  void expect_reported(const json& r) {
    std::string problems = r["problems"].dump();
    EXPECT_NE(problems.find("out: skipped, symlink_out"), std::string::npos) << problems;
    EXPECT_NE(problems.find("bad_name"), std::string::npos) << problems;
    EXPECT_EQ(r["download"].value("state", ""), "partial") << r["download"].dump(2);
  }

  std::string tree;
  std::map<std::string, std::string> expected;
};

TEST_F(BrowserTree, AFolderLandsInThePickedFolderVerifiedWithEmptyFoldersAndTheRefusedEntriesReported) {
  json r = run_driver("folder");
  expect_clean(r);
  if (HasFatalFailure()) return;
  EXPECT_TRUE(contains(r, "saveMode", "Folders download into a folder you pick")) << r.value("saveMode", "");
  expect_reported(r);
  ASSERT_TRUE(fs::is_directory(out_dir() + "/picked/tree")) << r.dump(2);
  EXPECT_EQ(tree_of(out_dir() + "/picked/tree"), expected) << "the tree, no temporary file, nothing refused";
  EXPECT_EQ(tree_of(out_dir() + "/picked").size(), expected.size() + 1) << "nothing beside tree/ in the picked folder";
}

TEST_F(BrowserTree, WithoutAFolderPickerTheFolderIsOneZipOfVerifiedFiles) {
  if (access("/usr/bin/unzip", X_OK) != 0) GTEST_SKIP() << "skipped: unzip is not installed (it reads the zip back)";
  json r = run_driver("folderzip");
  expect_clean(r);
  if (HasFatalFailure()) return;
  EXPECT_TRUE(contains(r, "saveMode", "one .zip streamed to disk")) << r.value("saveMode", "");
  expect_reported(r);
  const std::string zip = out_dir() + "/tree.zip";
  ASSERT_TRUE(fs::exists(zip)) << r.dump(2);
  const std::string unpacked = out_dir() + "/unzipped";
  auto unzip = Process::spawn({"/usr/bin/unzip", "-q", zip, "-d", unpacked}, sys->dir() + "/unzip.log");
  ASSERT_TRUE(unzip.ok()) << unzip.error().message;
  auto status = (*unzip)->wait_exit(std::chrono::seconds(60));
  ASSERT_TRUE(status && *status == 0) << (*unzip)->log();
  EXPECT_EQ(tree_of(unpacked + "/tree"), expected);
  EXPECT_EQ(r["staging"], json::array({"tree.zip"})) << "the staging folder is removed: " << r["staging"].dump();
}

}  // namespace
}  // namespace sealrelay::test
