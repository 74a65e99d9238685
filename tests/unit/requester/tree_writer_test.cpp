// The folder writer against a lying agent (issue 17, "Untrusted names"):
// whatever names and content the stream carries, nothing is written outside
// the output folder, no planted symbolic link is followed, and no file gets
// its final name before its SHA-256 verified. Records go through the real
// decoder where its rules apply, straight to the writer where the test is
// about the writer's own checks.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "crypto/sha256.h"
#include "requester/tree_writer.h"

namespace sealrelay::requester {
namespace {

namespace fs = std::filesystem;

std::span<const uint8_t> bytes_of(std::string_view s) { return {reinterpret_cast<const uint8_t*>(s.data()), s.size()}; }

// A FILE record as a lying agent writes it (the encoder wants good names).
std::vector<uint8_t> raw_file_record(const std::string& path, uint64_t size) {
  std::vector<uint8_t> body;
  auto be = [&](uint64_t v, int n) {
    for (int i = n - 1; i >= 0; --i) body.push_back(static_cast<uint8_t>(v >> (8 * i)));
  };
  be(size, 8);
  be(0, 8);
  be(0644, 4);
  be(0, 8);
  body.insert(body.end(), path.begin(), path.end());
  std::vector<uint8_t> record{static_cast<uint8_t>(tree::RecordType::kFile)};
  for (int i = 3; i >= 0; --i) record.push_back(static_cast<uint8_t>(body.size() >> (8 * i)));
  record.insert(record.end(), body.begin(), body.end());
  return record;
}

class Collect : public TreeReporter {
 public:
  void entry(const EntryResult& r) override { results.push_back(r); }
  std::vector<EntryResult> results;
  const EntryResult* find(const std::string& path) const {
    for (const auto& r : results) {
      if (r.path == path) return &r;
    }
    return nullptr;
  }
};

class TreeWriterTest : public testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/sealrelay-tree-writer-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir = tmpl;
    out = dir / "out";
    outside = dir / "outside";
    fs::create_directories(out);
    fs::create_directories(outside);
  }
  void TearDown() override {
    std::error_code ec;
    fs::permissions(dir, fs::perms::owner_all, fs::perm_options::add, ec);
    fs::remove_all(dir);
  }
  std::unique_ptr<TreeWriter> writer(TreeWriterOptions options = {}) {
    auto w = TreeWriter::open(out, "pulled", options, report);
    EXPECT_TRUE(w.ok()) << (w.ok() ? "" : w.error().message);
    return w.ok() ? std::move(*w) : nullptr;
  }
  // FILE, its content in one DATA, FILE_END with its true SHA-256 (or `sha`).
  Result<void> send_file(TreeWriter& w, const std::string& path, const std::string& content, uint32_t mode = 0644,
                         std::optional<Sha256Digest> sha = std::nullopt) {
    if (auto r = w.on_file(tree::FileRecord{path, content.size(), 1700000000, mode, 0}); !r) return r;
    if (!content.empty()) {
      if (auto r = w.on_data(bytes_of(content)); !r) return r;
    }
    return w.on_file_end(tree::FileEndRecord{tree::FileStatus::kOk, sha.value_or(Sha256::of(bytes_of(content)))});
  }
  std::string read(const fs::path& p) {
    std::ifstream in(p);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }
  // Every path under `root`, so a test can see that nothing appeared.
  std::vector<std::string> listing(const fs::path& root) {
    std::vector<std::string> all;
    for (const auto& e : fs::recursive_directory_iterator(root)) all.push_back(fs::relative(e.path(), root).string());
    std::sort(all.begin(), all.end());
    return all;
  }

  fs::path dir, out, outside;
  Collect report;
};

TEST_F(TreeWriterTest, HostileNamesFromTheDecoderNeverReachTheDisk) {
  for (const std::string name : {"../x", "/etc/x", "a/../../x", "a/./x", "", "a//x", "a\\..\\x", "x\n"}) {
    auto w = writer();
    tree::TreeDecoder decoder(*w, tree::DecoderOptions{});
    std::vector<uint8_t> stream = raw_file_record(name, 1);
    tree::append_data_header(stream, 1);
    stream.push_back('!');
    auto fed = decoder.feed(stream);
    ASSERT_FALSE(fed.ok()) << "accepted the name \"" << name << "\"";
    EXPECT_EQ(fed.error().code, "bad_tree");
  }
  EXPECT_TRUE(report.results.empty());
  EXPECT_EQ(listing(dir), (std::vector<std::string>{"out", "out/pulled", "outside"}));
}

// Defence in depth: the writer holds the name rule itself, should a record
// ever reach it some other way.
TEST_F(TreeWriterTest, HostileNamesHandedStraightToTheWriterAreRefused) {
  auto w = writer();
  for (const std::string name : {"../x", "/etc/x", "a/../../x", "..", "."}) {
    EXPECT_FALSE(w->on_dir(tree::DirRecord{name, 0, 0755}).ok()) << name;
    EXPECT_FALSE(w->on_file(tree::FileRecord{name, 0, 0, 0644, 0}).ok()) << name;
  }
  EXPECT_EQ(listing(dir), (std::vector<std::string>{"out", "out/pulled", "outside"}));
}

TEST_F(TreeWriterTest, ASymlinkPlantedAtAFilesNameIsNeitherFollowedNorReplaced) {
  std::ofstream(outside / "target") << "precious";
  fs::create_directories(out / "pulled");
  fs::create_symlink(outside / "target", out / "pulled" / "a.txt");
  for (bool force : {false, true}) {
    auto w = writer(TreeWriterOptions{.overwrite = force});
    ASSERT_TRUE(send_file(*w, "a.txt", "hostile").ok());
    ASSERT_TRUE(send_file(*w, "b.txt", "fine").ok());
    ASSERT_TRUE(w->on_end(tree::EndRecord{}).ok());
  }
  EXPECT_EQ(read(outside / "target"), "precious");
  EXPECT_TRUE(fs::is_symlink(out / "pulled" / "a.txt"));
  ASSERT_NE(report.find("a.txt"), nullptr);
  EXPECT_EQ(report.find("a.txt")->outcome, EntryOutcome::kFailed);
  EXPECT_NE(report.find("a.txt")->reason.find("symbolic link"), std::string::npos);
  EXPECT_EQ(read(out / "pulled" / "b.txt"), "fine");  // the rest goes on
  EXPECT_FALSE(fs::exists(fs::symlink_status(out / "pulled" / "a.txt.part")));
}

TEST_F(TreeWriterTest, ASymlinkPlantedAtAFoldersNameIsNotFollowed) {
  fs::create_directories(out / "pulled");
  fs::create_directory_symlink(outside, out / "pulled" / "sub");
  auto w = writer(TreeWriterOptions{.overwrite = true});
  ASSERT_TRUE(w->on_dir(tree::DirRecord{"sub", 0, 0755}).ok());
  ASSERT_TRUE(w->on_dir(tree::DirRecord{"sub/deeper", 0, 0755}).ok());
  ASSERT_TRUE(send_file(*w, "sub/deeper/x", "hostile").ok());
  ASSERT_TRUE(send_file(*w, "sub/y", "hostile").ok());
  ASSERT_TRUE(send_file(*w, "z", "fine").ok());
  ASSERT_TRUE(w->on_end(tree::EndRecord{}).ok());
  EXPECT_TRUE(fs::is_empty(outside));
  for (const char* p : {"sub", "sub/deeper", "sub/deeper/x", "sub/y"}) {
    ASSERT_NE(report.find(p), nullptr) << p;
    EXPECT_EQ(report.find(p)->outcome, EntryOutcome::kFailed) << p;
  }
  EXPECT_NE(report.find("sub")->reason.find("symbolic link"), std::string::npos);
  EXPECT_EQ(read(out / "pulled" / "z"), "fine");
}

TEST_F(TreeWriterTest, AFileWhereAFolderGoesFailsThatFolderOnly) {
  fs::create_directories(out / "pulled");
  std::ofstream(out / "pulled" / "sub") << "mine";
  auto w = writer();
  ASSERT_TRUE(w->on_dir(tree::DirRecord{"sub", 0, 0755}).ok());
  ASSERT_TRUE(send_file(*w, "sub/x", "data").ok());
  ASSERT_TRUE(send_file(*w, "t", "fine").ok());
  EXPECT_EQ(report.find("sub")->outcome, EntryOutcome::kFailed);
  EXPECT_EQ(report.find("sub/x")->outcome, EntryOutcome::kFailed);
  EXPECT_EQ(read(out / "pulled" / "sub"), "mine");
  EXPECT_EQ(read(out / "pulled" / "t"), "fine");
}

TEST_F(TreeWriterTest, AFileWhoseContentDoesNotMatchItsHashNeverGetsItsFinalName) {
  auto w = writer();
  Sha256Digest wrong{};
  wrong[0] = 1;
  auto r = send_file(*w, "a.txt", "tampered", 0644, wrong);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, "bad_tree");
  EXPECT_FALSE(fs::exists(out / "pulled" / "a.txt"));
  EXPECT_FALSE(fs::exists(out / "pulled" / "a.txt.part"));
}

TEST_F(TreeWriterTest, AFileCutBeforeItsEndKeepsOnlyItsPart) {
  {
    auto w = writer();
    ASSERT_TRUE(w->on_file(tree::FileRecord{"a.txt", 10, 0, 0644, 0}).ok());
    ASSERT_TRUE(w->on_data(bytes_of("12345")).ok());
    auto point = w->resume_point();
    ASSERT_TRUE(point.has_value());
    EXPECT_EQ(point->path, "a.txt");
    EXPECT_FALSE(point->done);
    EXPECT_EQ(point->offset, 5u);
  }  // the stream was cut
  EXPECT_FALSE(fs::exists(out / "pulled" / "a.txt"));
  EXPECT_EQ(read(out / "pulled" / "a.txt.part"), "12345");
  EXPECT_EQ(fs::status(out / "pulled" / "a.txt.part").permissions() & fs::perms::all,
            fs::perms::owner_read | fs::perms::owner_write);
}

TEST_F(TreeWriterTest, AResumedFileIsVerifiedWithTheBytesItAlreadyHeld) {
  fs::create_directories(out / "pulled");
  std::ofstream(out / "pulled" / "a.txt.part") << "12345stale";
  auto w = writer(TreeWriterOptions{.resume_path = "a.txt"});
  ASSERT_TRUE(w->on_file(tree::FileRecord{"a.txt", 10, 0, 0644, 5}).ok());
  ASSERT_TRUE(w->on_data(bytes_of("67890")).ok());
  ASSERT_TRUE(w->on_file_end(tree::FileEndRecord{tree::FileStatus::kOk, Sha256::of(bytes_of("1234567890"))}).ok());
  EXPECT_EQ(read(out / "pulled" / "a.txt"), "1234567890");
  EXPECT_EQ(report.find("a.txt")->outcome, EntryOutcome::kOk);
}

TEST_F(TreeWriterTest, SetuidSetgidAndStickyBitsAreDropped) {
  auto w = writer();
  ASSERT_TRUE(w->on_dir(tree::DirRecord{"d", 0, 07777}).ok());
  ASSERT_TRUE(send_file(*w, "d/run", "#!/bin/sh\n", 06755).ok());
  ASSERT_TRUE(w->on_end(tree::EndRecord{}).ok());
  struct stat st {};
  ASSERT_EQ(::stat((out / "pulled" / "d" / "run").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07000, 0u);
  EXPECT_EQ(st.st_mode & 0100, 0100u);  // the rest of the mode is kept
  EXPECT_EQ(st.st_mtime, 1700000000);
  ASSERT_EQ(::stat((out / "pulled" / "d").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07000, 0u);
}

TEST_F(TreeWriterTest, AnExistingFileFailsItsEntryUnlessForced) {
  fs::create_directories(out / "pulled");
  std::ofstream(out / "pulled" / "a.txt") << "mine";
  {
    auto w = writer();
    ASSERT_TRUE(send_file(*w, "a.txt", "theirs").ok());
  }
  EXPECT_EQ(read(out / "pulled" / "a.txt"), "mine");
  EXPECT_EQ(report.find("a.txt")->outcome, EntryOutcome::kFailed);
  EXPECT_NE(report.find("a.txt")->reason.find("--force"), std::string::npos);
  auto w = writer(TreeWriterOptions{.overwrite = true});
  ASSERT_TRUE(send_file(*w, "a.txt", "theirs").ok());
  EXPECT_EQ(read(out / "pulled" / "a.txt"), "theirs");
}

TEST_F(TreeWriterTest, AFileTheAgentSkipsIsReportedAndLeavesNothing) {
  auto w = writer();
  ASSERT_TRUE(w->on_file(tree::FileRecord{"moving.log", 10, 0, 0644, 0}).ok());
  ASSERT_TRUE(w->on_data(bytes_of("12")).ok());
  ASSERT_TRUE(w->on_file_end(tree::FileEndRecord{tree::FileStatus::kChanged, {}}).ok());
  ASSERT_TRUE(w->on_skip(tree::SkipRecord{"outlink", tree::SkipReason::kSymlinkOut}).ok());
  ASSERT_TRUE(send_file(*w, "z", "fine").ok());
  EXPECT_EQ(report.find("moving.log")->outcome, EntryOutcome::kSkipped);
  EXPECT_EQ(report.find("moving.log")->reason, "changed");
  EXPECT_EQ(report.find("outlink")->reason, "symlink_out");
  EXPECT_FALSE(fs::exists(out / "pulled" / "moving.log"));
  EXPECT_FALSE(fs::exists(out / "pulled" / "moving.log.part"));
  EXPECT_EQ(read(out / "pulled" / "z"), "fine");
}

TEST_F(TreeWriterTest, StrictStopsAtTheFirstSkippedEntry) {
  auto w = writer(TreeWriterOptions{.strict = true});
  auto r = w->on_skip(tree::SkipRecord{"outlink", tree::SkipReason::kSymlinkOut});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, "partial");
}

// The longest name the protocol allows lands as it is, not shortened (its
// .part would not fit a 255-byte name: it is written under a fixed one).
TEST_F(TreeWriterTest, TheLongestNameLandsUnmangled) {
  const std::string name(255, 'n');
  auto w = writer();
  ASSERT_TRUE(send_file(*w, name, "long").ok());
  EXPECT_EQ(read(out / "pulled" / name), "long");
  EXPECT_EQ(listing(out / "pulled"), std::vector<std::string>{name});
}

TEST_F(TreeWriterTest, ALandingFolderThatIsASymlinkIsRefused) {
  fs::create_directory_symlink(outside, out / "pulled");
  auto w = TreeWriter::open(out, "pulled", {}, report);
  ASSERT_FALSE(w.ok());
  EXPECT_EQ(w.error().code, "unsafe_path");
}

}  // namespace
}  // namespace sealrelay::requester
