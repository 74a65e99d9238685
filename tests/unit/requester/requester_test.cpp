#include <gtest/gtest.h>
#include <unistd.h>
#include <thread>
#include <set>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include "requester/cli.h"
#include "requester/known_agents.h"
#include "requester/part_file.h"
#include "requester/transfer.h"

namespace sealrelay::requester {
namespace {

namespace fs = std::filesystem;

class TempDir : public testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/sealrelay-req-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir = tmpl;
  }
  void TearDown() override { fs::remove_all(dir); }
  fs::path dir;
};

TEST(ParseTarget, AcceptsAgentColonPathAndRefusesTheRest) {
  auto t = parse_target("shop-1:/photos/a b.jpg");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->agent, "shop-1");
  EXPECT_EQ(t->path, "/photos/a b.jpg");
  EXPECT_EQ(parse_target("shop-1:")->path, "/");
  EXPECT_EQ(parse_target("shop-1:rel/x")->path, "/rel/x");
  for (const char* bad : {"", "noseparator", ":/x", "sh op:/x", "a/b:/x"}) {
    EXPECT_FALSE(parse_target(bad).ok()) << bad;
  }
}

TEST_F(TempDir, KnownAgentsPinsPersistAndMalformedLinesAreNamed) {
  fs::path p = dir / "home" / "known_agents";
  auto k = KnownAgents::load(p);
  ASSERT_TRUE(k.ok());
  EXPECT_FALSE(k->find("shop-1"));
  PublicKey key{};
  key[3] = 9;
  ASSERT_TRUE(k->pin("shop-1", key).ok());
  auto again = KnownAgents::load(p);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->find("shop-1"), key);
  struct stat st {};
  ASSERT_EQ(stat(p.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 077, 0u);

  std::ofstream(p, std::ios::app) << "shop-2 not-a-key\n";
  auto bad = KnownAgents::load(p);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find(":3:"), std::string::npos) << bad.error().message;
}

Answer file_answer(uint64_t size, uint64_t offset) {
  Answer a;
  a.ok = true;
  a.size = size;
  a.offset = offset;
  a.chunk_size = protocol::kMinChunkBytes;
  a.frames = true;
  return a;
}

TEST_F(TempDir, PartFileGetsTheFinalNameOnlyOnCommit) {
  fs::path out = dir / "out.bin";
  auto sink = PartFile::open(out, false, false);
  ASSERT_TRUE(sink.ok());
  ASSERT_TRUE((*sink)->begin(file_answer(3, 0), [](auto) {}).ok());
  uint8_t data[] = {1, 2, 3};
  ASSERT_TRUE((*sink)->write(data).ok());
  EXPECT_FALSE(fs::exists(out));
  EXPECT_TRUE(fs::exists(dir / "out.bin.part"));
  ASSERT_TRUE((*sink)->commit().ok());
  EXPECT_TRUE(fs::exists(out));
  EXPECT_FALSE(fs::exists(dir / "out.bin.part"));
  EXPECT_EQ(fs::file_size(out), 3u);
}

TEST_F(TempDir, PartFileRefusesToClobberAndKeepsPartsForResume) {
  fs::path out = dir / "out.bin";
  std::ofstream(out) << "precious";
  auto refused = PartFile::open(out, false, false);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, "exists");
  fs::remove(out);

  auto sink = PartFile::open(out, false, false);
  ASSERT_TRUE((*sink)->begin(file_answer(10, 0), [](auto) {}).ok());
  uint8_t data[] = {1, 2, 3, 4};
  ASSERT_TRUE((*sink)->write(data).ok());
  (*sink)->abandon(make_error("network", "lost"));
  EXPECT_FALSE(fs::exists(out));
  ASSERT_TRUE(fs::exists(dir / "out.bin.part"));

  auto without_resume = PartFile::open(out, false, false);
  ASSERT_FALSE(without_resume.ok());
  EXPECT_EQ(without_resume.error().code, "part_exists");

  auto resumed = PartFile::open(out, true, false);
  ASSERT_TRUE(resumed.ok());
  EXPECT_EQ((*resumed)->resume_offset(), 4u);
  std::vector<uint8_t> prefix;
  ASSERT_TRUE((*resumed)->begin(file_answer(10, 4), [&](std::span<const uint8_t> b) {
                          prefix.insert(prefix.end(), b.begin(), b.end());
                        }).ok());
  EXPECT_EQ(prefix, (std::vector<uint8_t>{1, 2, 3, 4}));
}

TEST_F(TempDir, PartFileIsDeletedAfterAHashMismatch) {
  fs::path out = dir / "out.bin";
  auto sink = PartFile::open(out, false, false);
  ASSERT_TRUE((*sink)->begin(file_answer(10, 0), [](auto) {}).ok());
  (*sink)->abandon(make_error("trailer_mismatch", "x"));
  EXPECT_FALSE(fs::exists(dir / "out.bin.part"));
  EXPECT_FALSE(fs::exists(out));
}

TEST(TimestampSource, NeverRepeatsEvenWithinOneMillisecond) {
  TimestampSource ts;
  int64_t last = 0;
  for (int i = 0; i < 1000; ++i) {
    int64_t t = ts.next();
    ASSERT_GT(t, last);
    last = t;
  }
}

// Two CLIs with one home (one key) started in the same millisecond: their
// message 1 timestamps must differ, or the agent refuses one as a replay.
TEST(TimestampSource, SourcesSharingAFileNeverRepeatAcrossThemAndThreads) {
  auto dir = fs::temp_directory_path() / ("ts-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  TimestampSource a(dir / "request_clock"), b(dir / "request_clock");
  std::vector<int64_t> seen[4];
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 300; ++i) seen[t].push_back((t % 2 ? a : b).next());
    });
  }
  for (auto& th : threads) th.join();
  std::set<int64_t> all;
  for (auto& v : seen) all.insert(v.begin(), v.end());
  EXPECT_EQ(all.size(), 1200u);
  EXPECT_EQ(fs::status(dir / "request_clock").permissions() & fs::perms::all, fs::perms::owner_read | fs::perms::owner_write);
  fs::remove_all(dir);
}

TEST(TimestampSource, AnUnusableFileStillGivesUniqueTimestamps) {
  TimestampSource ts("/nonexistent-dir/request_clock");
  int64_t a = ts.next(), b = ts.next();
  EXPECT_GT(b, a);
}

}  // namespace
}  // namespace sealrelay::requester
