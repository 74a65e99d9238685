// The folder stream an agent produces (agent/tree_source.h) over a real
// temporary tree, read back through the requester's decoder: files whose
// content changes, shrinks or vanishes while they are sent end with that
// status and the rest arrives; contents:false; the answer's count.
#include "agent/tree_source.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "crypto/sha256.h"
#include "crypto/tree_stream.h"
#include "tests/unit/agent/test_support.h"

namespace sealrelay::agent {
namespace {

struct Lines : tree::TreeVisitor {
  std::vector<std::string> seen;
  Sha256 sha;
  uint64_t size = 0;
  Result<void> on_dir(const tree::DirRecord& r) override { return note("dir " + r.path); }
  Result<void> on_file(const tree::FileRecord& r) override {
    size = r.size;
    return note("file " + r.path + " " + std::to_string(r.size));
  }
  Result<void> on_data(std::span<const uint8_t> b) override {
    sha.update(b);
    return {};
  }
  Result<void> on_file_end(const tree::FileEndRecord& r) override {
    auto digest = sha.finish();
    bool ok = r.status == tree::FileStatus::kOk;
    return note(ok ? (digest == r.sha256 ? "end verified" : "end BAD HASH") : "end " + std::string(file_status_name(r.status)));
  }
  Result<void> on_skip(const tree::SkipRecord& r) override { return note("skip " + r.path); }
  Result<void> on_end(const tree::EndRecord& r) override {
    return note("END files=" + std::to_string(r.files) + " skipped=" + std::to_string(r.skipped));
  }
  Result<void> note(std::string s) {
    seen.push_back(std::move(s));
    return {};
  }
};

class TreeSourceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir.write("share/d/a", std::string(200'000, 'a'));
    dir.write("share/d/b", "bee");
    dir.write("share/d/c", std::string(100'000, 'c'));
    ShareConfig c;
    c.name = "s";
    c.root = dir / "share";
    auto s = Shares::create({c});
    ASSERT_TRUE(s);
    shares.emplace(std::move(*s));
    auto r = shares->open_tree("/s/d", scope);
    ASSERT_TRUE(r);
    root.emplace(std::move(*r));
  }

  // Reads the stream in `piece`-byte steps into the decoder; `between` runs
  // after each step.
  std::vector<std::string> stream(const Request& request, size_t piece, const std::function<void(size_t)>& between) {
    auto options = TreeWalkOptions::of(request);
    EXPECT_TRUE(options);
    Lines lines;
    tree::TreeDecoder decoder(lines, {request.contents, {}, tree::kDefaultMaxEntries});
    auto source = TreeSource::start(*root, *options, request);
    EXPECT_TRUE(source);
    std::vector<uint8_t> buf(piece);
    for (size_t step = 0;; ++step) {
      auto n = (*source)->next(buf);
      EXPECT_TRUE(n);
      if (!n || *n == 0) break;
      auto fed = decoder.feed(std::span(buf).first(*n));
      EXPECT_TRUE(fed) << fed.error().message;
      between(step);
    }
    auto done = decoder.finish();
    EXPECT_TRUE(done) << done.error().message;
    return lines.seen;
  }

  testing::TempDir dir;
  PathScope scope = PathScope::everything();
  std::optional<Shares> shares;
  std::optional<TreeRoot> root;
};

TEST_F(TreeSourceTest, EveryFileArrivesVerified) {
  auto seen = stream(Request{}, 65536, [](size_t) {});
  EXPECT_EQ(seen, (std::vector<std::string>{"file a 200000", "end verified", "file b 3", "end verified",
                                            "file c 100000", "end verified", "END files=3 skipped=0"}));
}

TEST_F(TreeSourceTest, AFileWrittenToWhileSentEndsChangedAndTheRestArrives) {
  auto seen = stream(Request{}, 4096, [&](size_t step) {
    if (step == 1) std::ofstream(dir / "share/d/a", std::ios::app) << "more";
  });
  EXPECT_EQ(seen, (std::vector<std::string>{"file a 200000", "end changed", "file b 3", "end verified",
                                            "file c 100000", "end verified", "END files=2 skipped=1"}));
}

TEST_F(TreeSourceTest, AFileThatShrinksEndsChangedAndOneGoneBeforeItsTurnIsLeftOut) {
  auto seen = stream(Request{}, 4096, [&](size_t step) {
    if (step == 1) {
      ASSERT_EQ(::truncate((dir / "share/d/a").c_str(), 1000), 0);
    }
    if (step == 2) std::filesystem::remove(dir / "share/d/c");
  });
  EXPECT_EQ(seen, (std::vector<std::string>{"file a 200000", "end changed", "file b 3", "end verified",
                                            "END files=1 skipped=1"}));
}

TEST_F(TreeSourceTest, AFileDeletedWhileSentEndsChanged) {
  auto seen = stream(Request{}, 4096, [&](size_t step) {
    if (step == 1) std::filesystem::remove(dir / "share/d/a");
  });
  EXPECT_EQ(seen[1], "end changed") << "read to its end from the open file, then found unlinked";
  EXPECT_EQ(seen.back(), "END files=2 skipped=1");
}

TEST_F(TreeSourceTest, WithoutContentsFilesStandAloneAndTheCountMatches) {
  Request r;
  r.contents = false;
  auto seen = stream(r, 4096, [](size_t) {});
  EXPECT_EQ(seen, (std::vector<std::string>{"file a 200000", "file b 3", "file c 100000", "END files=3 skipped=0"}));
  auto options = TreeWalkOptions::of(r);
  auto count = count_tree(*root, *options, r);
  ASSERT_TRUE(count);
  EXPECT_EQ(count->files, 3u);
  EXPECT_EQ(count->bytes, 300'003u);
}

}  // namespace
}  // namespace sealrelay::agent
