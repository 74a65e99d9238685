// Folder pulls end to end (issue 17): `sealrelay get -r` against the real
// relay and agent on both stores. What is checked is what a user would:
// `diff -r` against the share, exactly the selected files, the exit status
// and the report of what was skipped, and that a cut pull goes on without
// fetching its finished files again.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <utime.h>

#include <filesystem>
#include <fstream>
#include <set>

#include "tests/support/deployment.h"

namespace sealrelay::test {
namespace {

namespace fs = std::filesystem;
using Store = Deployment::Store;

constexpr size_t kMiB = 1024 * 1024;

std::string name_of(const testing::TestParamInfo<Store>& info) {
  return info.param == Store::kMemory ? "EmbeddedStore" : "RedisStore";
}

void write(const fs::path& p, const std::string& text) {
  fs::create_directories(p.parent_path());
  std::ofstream(p, std::ios::binary) << text;
}

// The files (not folders) under `root`, relative.
std::set<std::string> files_under(const fs::path& root) {
  std::set<std::string> all;
  for (const auto& e : fs::recursive_directory_iterator(root)) {
    std::error_code ec;  // a .part may be renamed while a pull runs
    if (e.is_regular_file(ec)) all.insert(fs::relative(e.path(), root).string());
  }
  return all;
}

ino_t inode_of(const fs::path& p) {
  struct stat st {};
  return ::stat(p.c_str(), &st) == 0 ? st.st_ino : 0;
}

class FolderPull : public testing::TestWithParam<Store> {
 protected:
  void SetUp() override {
    auto s = Deployment::start_one_relay(GetParam());
    if (!s && s.error().code == "redis_absent") GTEST_SKIP() << "skipped: " << s.error().message;
    ASSERT_TRUE(s.ok()) << s.error().message;
    sys = std::move(*s);
  }
  // `diff -r a b`: its output, "" when the trees are the same.
  std::string diff(const fs::path& a, const fs::path& b) {
    auto r = run_logged({"/usr/bin/diff", "-r", a.string(), b.string()}, sys->dir() + "/diff.log");
    return r.exit_code == 0 ? "" : "diff -r exit " + std::to_string(r.exit_code) + ":\n" + r.output;
  }
  fs::path out() const { return fs::path(sys->dir()) / "out"; }
  std::unique_ptr<Deployment> sys;
};

TEST_P(FolderPull, ANestedTreeWithSpacesUtf8EmptyFilesAndEmptyFoldersIsBitIdentical) {
  ASSERT_TRUE(sys->start_agent_online("shop-1").ok());
  const fs::path tree = fs::path(sys->share("shop-1")) / "exports";
  write(tree / "a.csv", "date,amount\n2026-12-01,3\n");
  write(tree / "with space" / "ünïcødé 名前.txt", "utf-8 names\n");
  write(tree / "empty.bin", "");
  write(tree / "deep" / "er" / "est" / "leaf.txt", "deep\n");
  fs::create_directories(tree / "empty folder");
  fs::create_directories(tree / "deep" / "empty");
  ASSERT_TRUE(write_random_file((tree / "deep" / "big.bin").string(), 3 * kMiB + 17, 5));
  for (int i = 0; i < 200; ++i) write(tree / "many" / ("f" + std::to_string(i)), std::string(i * 37, 'x'));

  auto r = sys->cli({"get", "-r", "shop-1:/demo/exports", "-o", out().string() + "/"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(diff(tree, out() / "exports"), "");
  EXPECT_TRUE(fs::is_directory(out() / "exports" / "empty folder"));
  EXPECT_TRUE(fs::is_directory(out() / "exports" / "deep" / "empty"));
  EXPECT_FALSE(fs::exists(out() / ".sealrelay-tree.journal")) << "a finished pull leaves no journal";
  EXPECT_NE(r.output.find("205 files"), std::string::npos) << r.output;
}

TEST_P(FolderPull, IncludeExcludeNewerThanAndAGlobSelectExactly) {
  ASSERT_TRUE(sys->start_agent_online("shop-1").ok());
  const fs::path tree = fs::path(sys->share("shop-1")) / "exports";
  for (const char* f : {"a.csv", "b.log", "sub/c.csv", "sub/d.txt", "skip/e.csv", "old.csv"}) write(tree / f, f);
  struct utimbuf old_time {1000000000, 1000000000};  // 2001
  ASSERT_EQ(::utime((tree / "old.csv").c_str(), &old_time), 0);

  auto r = sys->cli({"get", "-r", "--include", "*.csv", "--exclude", "skip", "--newer-than", "7d",
                     "shop-1:/demo/exports", "-o", (out() / "sel").string()});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(files_under(out() / "sel" / "exports"), (std::set<std::string>{"a.csv", "sub/c.csv"}));

  auto dated = sys->cli({"get", "-r", "--newer-than", "2026-01-01", "--exclude", "sub/*", "--max-depth", "2",
                         "shop-1:/demo/exports", "-o", (out() / "dated").string()});
  ASSERT_EQ(dated.exit_code, 0) << dated.output;
  EXPECT_EQ(files_under(out() / "dated" / "exports"), (std::set<std::string>{"a.csv", "b.log", "skip/e.csv"}));

  auto glob = sys->cli({"get", "shop-1:/demo/exports/*.csv", "-o", (out() / "glob").string()});
  ASSERT_EQ(glob.exit_code, 0) << glob.output;
  EXPECT_EQ(files_under(out() / "glob"), (std::set<std::string>{"a.csv", "old.csv"})) << "straight into OUT, as cp";
}

TEST_P(FolderPull, ASymlinkOutOfTheShareIsSkippedAndReportedAndTheRestArrive) {
  ASSERT_TRUE(sys->start_agent_online("shop-1").ok());
  const fs::path tree = fs::path(sys->share("shop-1")) / "exports";
  write(tree / "a.txt", "inside\n");
  write(fs::path(sys->dir()) / "secret.txt", "outside the share\n");
  fs::create_symlink(fs::path(sys->dir()) / "secret.txt", tree / "link-out");
  auto r = sys->cli({"get", "-r", "shop-1:/demo/exports", "-o", out().string()});
  EXPECT_EQ(r.exit_code, 7) << r.output;
  EXPECT_NE(r.output.find("link-out: symlink_out"), std::string::npos) << r.output;
  EXPECT_FALSE(fs::exists(fs::symlink_status(out() / "exports" / "link-out")));
  EXPECT_TRUE(same_file((tree / "a.txt").string(), (out() / "exports" / "a.txt").string()));

  auto json = sys->cli({"--json", "get", "-r", "--force", "shop-1:/demo/exports", "-o", out().string()});
  EXPECT_EQ(json.exit_code, 7) << json.output;
  EXPECT_NE(json.output.find(R"("path":"link-out")"), std::string::npos) << json.output;
  EXPECT_NE(json.output.find(R"("result":"skipped")"), std::string::npos) << json.output;
  EXPECT_NE(json.output.find(R"("event":"summary")"), std::string::npos) << json.output;
}

// The agent finds the file changed while it read it: that file is skipped
// (reported, no file left), the others arrive, exit 7.
TEST_P(FolderPull, AFileChangedMidWalkIsReportedAndTheRestArrive) {
  ASSERT_TRUE(sys->start_agent_online("shop-1", {"--rate-limit", std::to_string(2 * kMiB)}).ok());
  const fs::path tree = fs::path(sys->share("shop-1")) / "logs";
  fs::create_directories(tree);
  ASSERT_TRUE(write_random_file((tree / "a-growing.log").string(), 12 * kMiB, 9));
  write(tree / "b.txt", "after\n");
  auto cli = sys->cli_background({"get", "-r", "shop-1:/demo/logs", "-o", out().string()});
  ASSERT_TRUE(cli);
  const fs::path part = out() / "logs" / "a-growing.log.part";
  ASSERT_TRUE(wait_until([&] { return fs::exists(part) && fs::file_size(part) >= kMiB; }, 60s));
  std::ofstream(tree / "a-growing.log", std::ios::app) << "one more line\n";
  auto status = cli->wait_exit(120s);
  ASSERT_TRUE(status);
  const std::string log = read_file(cli->log_path());
  EXPECT_EQ(WEXITSTATUS(*status), 7) << log;
  EXPECT_NE(log.find("a-growing.log: changed"), std::string::npos) << log;
  EXPECT_FALSE(fs::exists(out() / "logs" / "a-growing.log"));
  EXPECT_FALSE(fs::exists(part));
  EXPECT_TRUE(same_file((tree / "b.txt").string(), (out() / "logs" / "b.txt").string()));
}

// The CLI is stopped mid-folder: --resume continues from its journal, and
// the files finished before are not fetched again (same inode, untouched).
TEST_P(FolderPull, AResumeDoesNotFetchFinishedFilesAgain) {
  ASSERT_TRUE(sys->start_agent_online("shop-1", {"--rate-limit", std::to_string(4 * kMiB)}).ok());
  const fs::path tree = fs::path(sys->share("shop-1")) / "photos";
  fs::create_directories(tree);
  for (int i = 0; i < 6; ++i) {
    ASSERT_TRUE(write_random_file((tree / ("p" + std::to_string(i) + ".jpg")).string(), 3 * kMiB, 20 + i));
  }
  auto cli = sys->cli_background({"get", "-r", "shop-1:/demo/photos", "-o", out().string()});
  ASSERT_TRUE(cli);
  const fs::path first = out() / "photos" / "p0.jpg";
  ASSERT_TRUE(wait_until([&] { return fs::exists(first) && fs::exists(out() / "photos" / "p1.jpg.part"); }, 60s));
  cli->kill(SIGINT);
  ASSERT_TRUE(cli->wait_exit(30s));
  ASSERT_TRUE(fs::exists(out() / ".sealrelay-tree.journal")) << read_file(cli->log_path());
  EXPECT_EQ(fs::status(out() / ".sealrelay-tree.journal").permissions() & fs::perms::all,
            fs::perms::owner_read | fs::perms::owner_write);
  const ino_t before = inode_of(first);

  auto again = sys->cli({"get", "-r", "shop-1:/demo/photos", "-o", out().string()});
  EXPECT_EQ(again.exit_code, 2) << "an interrupted pull is not started over by accident: " << again.output;
  EXPECT_NE(again.output.find("--resume"), std::string::npos) << again.output;

  auto resumed = sys->cli({"--json", "get", "-r", "--resume", "shop-1:/demo/photos", "-o", out().string()});
  ASSERT_EQ(resumed.exit_code, 0) << resumed.output;
  EXPECT_EQ(diff(tree, out() / "photos"), "");
  EXPECT_EQ(inode_of(first), before);
  EXPECT_EQ(resumed.output.find(R"("path":"p0.jpg")"), std::string::npos) << "p0.jpg came again: " << resumed.output;
  EXPECT_FALSE(fs::exists(out() / ".sealrelay-tree.journal"));
}

TEST_P(FolderPull, AllAgentsPullsTheSameFolderFromEachIntoItsOwnFolder) {
  for (const char* id : {"shop-1", "shop-2"}) {
    ASSERT_TRUE(sys->start_agent_online(id).ok());
    write(fs::path(sys->share(id)) / "exports" / "day" / "sales.csv", std::string("from ") + id + "\n");
  }
  fs::create_directories(fs::path(sys->dir()) / "not-out");
  auto r = sys->cli({"get", "-r", "--all-agents", "/demo/exports", "-o", out().string()});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  for (const char* id : {"shop-1", "shop-2"}) {
    EXPECT_EQ(diff(fs::path(sys->share(id)) / "exports", out() / id / "exports"), "") << id;
  }
  // A symbolic link planted at an agent's folder is not followed.
  fs::remove_all(out() / "shop-2");
  fs::create_directory_symlink(fs::path(sys->dir()) / "not-out", out() / "shop-2");
  auto planted = sys->cli({"get", "-r", "--all-agents", "/demo/exports", "-o", out().string(), "--force"});
  EXPECT_NE(planted.exit_code, 0) << planted.output;
  EXPECT_TRUE(fs::is_empty(fs::path(sys->dir()) / "not-out"));
}

INSTANTIATE_TEST_SUITE_P(Stores, FolderPull, testing::Values(Store::kMemory, Store::kRedis), name_of);

// With Redis the relay's state outlives it: the pull reconnects and
// finishes by itself, and the files finished before the kill stay as they
// were (nothing is fetched twice).
TEST(FolderPullFaults, ARelayKilledMidFolderWithRedisFinishesWithoutFetchingFinishedFilesAgain) {
  auto s = Deployment::start_one_relay(Store::kRedis);
  if (!s && s.error().code == "redis_absent") GTEST_SKIP() << "skipped: " << s.error().message;
  ASSERT_TRUE(s.ok()) << s.error().message;
  auto& sys = **s;
  ASSERT_TRUE(sys.start_agent_online("shop-1", {"--rate-limit", std::to_string(4 * kMiB)}).ok());
  const fs::path tree = fs::path(sys.share("shop-1")) / "photos";
  fs::create_directories(tree);
  for (int i = 0; i < 6; ++i) {
    ASSERT_TRUE(write_random_file((tree / ("p" + std::to_string(i) + ".jpg")).string(), 3 * kMiB, 40 + i));
  }
  const fs::path out = fs::path(sys.dir()) / "out";
  auto cli = sys.cli_background({"--json", "get", "-r", "shop-1:/demo/photos", "-o", out.string()});
  ASSERT_TRUE(cli);
  const fs::path first = out / "photos" / "p0.jpg";
  ASSERT_TRUE(wait_until([&] { return fs::exists(first) && fs::exists(out / "photos" / "p1.jpg.part"); }, 60s));
  const ino_t before = inode_of(first);
  sys.stop_relay(SIGKILL);
  ASSERT_TRUE(sys.restart_relay().ok());
  auto status = cli->wait_exit(180s);
  ASSERT_TRUE(status);
  const std::string log = read_file(cli->log_path());
  ASSERT_EQ(WEXITSTATUS(*status), 0) << log;
  auto r = run_logged({"/usr/bin/diff", "-r", tree.string(), (out / "photos").string()}, sys.dir() + "/diff.log");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(inode_of(first), before);
  size_t lines = 0;
  for (size_t at = log.find(R"("path":"p0.jpg")"); at != std::string::npos; at = log.find(R"("path":"p0.jpg")", at + 1)) {
    ++lines;
  }
  EXPECT_EQ(lines, 1u) << log;
}

// Ended mid-folder — by ctrl-C (exit 130, the journal synced) or killed
// outright — the CLI leaves no final name on a file that was not verified
// whole; after ctrl-C, --resume completes the tree. (Not after a kill: the
// journal is written once per stream chunk, so it may name a .part that was
// since renamed, and a later file's .part is then in the way — an open
// gap, docs/performance.md "Folders".)
TEST(FolderPullFaults, ACliEndedMidFolderLeavesNoUnverifiedFinalNameAndResumesAfterCtrlC) {
  auto s = Deployment::start_one_relay(Store::kMemory);
  ASSERT_TRUE(s.ok()) << s.error().message;
  auto& sys = **s;
  ASSERT_TRUE(sys.start_agent_online("shop-1", {"--rate-limit", std::to_string(2 * kMiB)}).ok());
  const fs::path tree = fs::path(sys.share("shop-1")) / "many";
  for (int i = 0; i < 600; ++i) {
    const fs::path p = tree / ("d" + std::to_string(i % 4)) / ("f" + std::to_string(i) + ".bin");
    fs::create_directories(p.parent_path());
    ASSERT_TRUE(write_random_file(p.string(), 16 * 1024 + static_cast<size_t>(i), 100 + i));
  }
  for (int sig : {SIGINT, SIGKILL}) {
    SCOPED_TRACE(sig == SIGINT ? "SIGINT" : "SIGKILL");
    const fs::path out = fs::path(sys.dir()) / ("out-" + std::to_string(sig));
    auto cli = sys.cli_background({"get", "-r", "shop-1:/demo/many", "-o", out.string()});
    ASSERT_TRUE(cli);
    ASSERT_TRUE(wait_until([&] { return fs::exists(out / "many" / "d0") && files_under(out / "many").size() > 100; }, 60s));
    cli->kill(sig);
    auto status = cli->wait_exit(60s);
    ASSERT_TRUE(status);
    if (sig == SIGINT) {
      EXPECT_EQ(WIFEXITED(*status) ? WEXITSTATUS(*status) : -1, 130) << read_file(cli->log_path());
    }
    size_t landed = 0;
    for (const auto& name : files_under(out / "many")) {
      if (name.ends_with(".part")) continue;
      EXPECT_EQ(read_file((out / "many" / name).string()), read_file((tree / name).string())) << name;
      ++landed;
    }
    EXPECT_GT(landed, 0u);
    EXPECT_LT(landed, 600u);  // it was ended mid-folder
    if (sig == SIGKILL) continue;
    auto r = sys.cli({"get", "-r", "--resume", "shop-1:/demo/many", "-o", out.string()});
    ASSERT_EQ(r.exit_code, 0) << r.output;
    auto d = run_logged({"/usr/bin/diff", "-r", tree.string(), (out / "many").string()}, sys.dir() + "/diff.log");
    EXPECT_EQ(d.exit_code, 0) << d.output;
  }
}

}  // namespace
}  // namespace sealrelay::test
