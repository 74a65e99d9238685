// The folder walker over a real temporary tree: every case of
// docs/protocol.md §4.5's walk, the order, select and resume.
#include "agent/tree_walk.h"

#include <gtest/gtest.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "tests/unit/agent/test_support.h"

namespace sealrelay::agent {
namespace {

using testing::TempDir;

struct Trace : TreeWalkSink {
  std::vector<std::string> seen;
  Result<void> on_dir(std::string_view path, const struct stat&) override { return note("dir " + std::string(path)); }
  Result<void> on_file(std::string_view path, const WalkedFile& file) override {
    auto fd = open_walked_file(file);
    EXPECT_TRUE(fd) << path;
    return note("file " + std::string(path));
  }
  Result<void> on_skip(std::string_view path, tree::SkipReason reason) override {
    return note("skip " + std::string(path) + " " + std::string(tree::skip_reason_name(reason)));
  }
  Result<void> note(std::string s) {
    seen.push_back(std::move(s));
    return {};
  }
};

class TreeWalk : public ::testing::Test {
 protected:
  void SetUp() override {
    dir.write("share/pulled/a.txt", "A");
    dir.write("share/pulled/b dir/ü.csv", "csv");
    dir.write("share/pulled/b dir/deep/x/y", "y");
    std::filesystem::create_directories(dir / "share/pulled/empty");
    dir.write("share/pulled/excluded.key", "secret");
    dir.write("share/pulled/hard1", "h");
    ASSERT_EQ(::link((dir / "share/pulled/hard1").c_str(), (dir / "share/hard2").c_str()), 0);
    dir.write("share/pulled/big.bin", std::string(100, 'b'));
    dir.write("share/pulled/bad\x01name", "x");
    ASSERT_EQ(::symlink("a.txt", (dir / "share/pulled/link_in").c_str()), 0);
    ASSERT_EQ(::symlink("/etc/passwd", (dir / "share/pulled/link_out").c_str()), 0);
    ASSERT_EQ(::symlink(".", (dir / "share/pulled/loop").c_str()), 0);
    ASSERT_EQ(::mkfifo((dir / "share/pulled/fifo").c_str(), 0600), 0);
    for (int i = 10; i <= 31; ++i) dir.write("share/pulled/many/f" + std::to_string(i), "");  // cap 20
    ShareConfig c;
    c.name = "s";
    c.root = dir / "share";
    c.exclude = {"*.key"};
    c.max_file_size = 50;
    auto s = Shares::create({c});
    ASSERT_TRUE(s);
    shares.emplace(std::move(*s));
  }

  std::vector<std::string> walk(Request request = {}, size_t cap = 20) {
    auto root = shares->open_tree("/s/pulled", scope);
    EXPECT_TRUE(root) << root.error().message;
    auto options = TreeWalkOptions::of(request);
    EXPECT_TRUE(options);
    options->max_dir_entries = cap;
    Trace trace;
    auto walker = TreeWalker::start(*root, *options, trace);
    EXPECT_TRUE(walker);
    for (;;) {
      auto more = (*walker)->step();
      EXPECT_TRUE(more) << more.error().message;
      if (!more || !*more) break;
    }
    return trace.seen;
  }

  TempDir dir;
  PathScope scope = PathScope::everything();
  std::optional<Shares> shares;
};

std::vector<std::string> whole() {
  std::vector<std::string> out = {
    "file a.txt",
    "dir b dir",
    "dir b dir/deep",
    "dir b dir/deep/x",
    "file b dir/deep/x/y",
    "file b dir/ü.csv",
    "skip bad\xEF\xBF\xBDname bad_name",
    "skip big.bin too_large",
    "dir empty",
    "skip hard1 hard_link",
    "file link_in",
    "skip link_out symlink_out",
    "skip loop loop",
    "dir many",
  };
  for (int i = 10; i < 30; ++i) out.push_back("file many/f" + std::to_string(i));
  out.push_back("skip many/f30 too_many");  // and f31 is not named
  return out;
}
const std::vector<std::string> kWhole = whole();

TEST_F(TreeWalk, EveryKindOfEntryInStreamOrder) {
  auto seen = walk();
  EXPECT_EQ(seen, kWhole);
  for (size_t i = 1; i < seen.size(); ++i) {
    auto path = [](const std::string& line) {
      std::string rest = line.substr(line.find(' ') + 1);
      return line.starts_with("skip ") ? rest.substr(0, rest.rfind(' ')) : rest;
    };
    EXPECT_LT(tree::compare_paths(path(seen[i - 1]), path(seen[i])), 0) << seen[i];
  }
}

TEST_F(TreeWalk, ResumeStartsAtTheEntryWithoutItsFolders) {
  Request r;
  r.resume = Request::Resume{"b dir/ü.csv", 1};
  std::vector<std::string> expected(kWhole.begin() + 5, kWhole.end());
  EXPECT_EQ(walk(r), expected);
  r.resume->path = "b dir/deep/x/gone";  // the entry is gone: what follows it
  EXPECT_EQ(walk(r), std::vector<std::string>(kWhole.begin() + 4, kWhole.end()));
}

TEST_F(TreeWalk, SelectExcludeAndIncludeAreAnchoredAtThePulledFolder) {
  Request r;
  r.select.exclude = {"deep", "many/", "*.txt"};
  auto seen = walk(r);
  EXPECT_EQ(std::count(seen.begin(), seen.end(), "dir b dir/deep"), 0);
  EXPECT_EQ(std::count(seen.begin(), seen.end(), "dir many"), 0);
  EXPECT_EQ(std::count(seen.begin(), seen.end(), "file a.txt"), 0);
  EXPECT_EQ(std::count(seen.begin(), seen.end(), "file b dir/ü.csv"), 1);

  Request only;
  only.select.include = {"b dir/*.csv"};
  seen = walk(only);
  EXPECT_EQ(std::count_if(seen.begin(), seen.end(), [](auto& l) { return l.starts_with("file "); }), 1);
  EXPECT_EQ(std::count(seen.begin(), seen.end(), "file b dir/ü.csv"), 1);
  EXPECT_EQ(std::count(seen.begin(), seen.end(), "dir empty"), 1) << "folders are always sent";
}

TEST_F(TreeWalk, MaxDepthSendsTheFoldersAtItButNothingBelow) {
  Request r;
  r.select.max_depth = 2;
  auto seen = walk(r);
  EXPECT_EQ(std::count(seen.begin(), seen.end(), "dir b dir/deep"), 1);
  EXPECT_EQ(std::count(seen.begin(), seen.end(), "dir b dir/deep/x"), 0);
  EXPECT_EQ(std::count(seen.begin(), seen.end(), "file b dir/deep/x/y"), 0);
}

TEST_F(TreeWalk, NewerThanLeavesOlderFilesOut) {
  struct timespec old[2] = {{1000, 0}, {1000, 0}};
  ASSERT_EQ(::utimensat(AT_FDCWD, (dir / "share/pulled/a.txt").c_str(), old, 0), 0);
  Request r;
  r.select.newer_than = 2000;
  auto seen = walk(r);
  EXPECT_EQ(std::count(seen.begin(), seen.end(), "file a.txt"), 0);
  EXPECT_EQ(std::count(seen.begin(), seen.end(), "file b dir/ü.csv"), 1);
}

TEST_F(TreeWalk, AScopedRequesterSeesOnlyItsScope) {
  auto s = PathScope::of(std::vector<std::string>{"/s/pulled/b dir"});
  ASSERT_TRUE(s);
  scope = std::move(*s);
  auto seen = walk();
  EXPECT_EQ(seen, (std::vector<std::string>{"dir b dir", "dir b dir/deep", "dir b dir/deep/x", "file b dir/deep/x/y",
                                            "file b dir/ü.csv"}));
}

TEST_F(TreeWalk, AFolderTheAgentCannotReadIsSkippedAndTheWalkGoesOn) {
  if (::geteuid() == 0) GTEST_SKIP() << "root reads everything";
  ASSERT_EQ(::chmod((dir / "share/pulled/empty").c_str(), 0), 0);
  auto seen = walk();
  EXPECT_EQ(std::count(seen.begin(), seen.end(), "skip empty unreadable"), 1);
  EXPECT_EQ(std::count(seen.begin(), seen.end(), "dir empty"), 0);
  EXPECT_EQ(seen.back(), kWhole.back());
}

}  // namespace
}  // namespace sealrelay::agent
