// The agent side of a folder pull (docs/protocol.md §4.5) through the real
// relay and the real agent: a small requester written here (run_request with
// op tree, and the folder stream's own decoder) pulls a tree and checks its
// records, its contents' SHA-256 and the frames' trailer. The CLI's
// `get -r` has e2e tests of its own.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>

#include "crypto/keys.h"
#include "crypto/sha256.h"
#include "crypto/tree_stream.h"
#include "requester/transfer.h"
#include "tests/support/deployment.h"

namespace sealrelay::test {
namespace {

namespace fs = std::filesystem;

// The peak resident memory of process `pid` (VmHWM), in KiB; -1 unreadable.
long peak_rss_kib(pid_t pid) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(status, line);) {
    if (line.starts_with("VmHWM:")) return std::stol(line.substr(6));
  }
  return -1;
}

// The folder stream into records: "dir P", "file P SIZE sha-ok", "skip P R".
class TreeSink : public requester::Sink, public tree::TreeVisitor {
 public:
  explicit TreeSink(tree::DecoderOptions options) : decoder_(*this, std::move(options)) {}
  Result<void> begin(const Answer& answer, const std::function<void(std::span<const uint8_t>)>&) override {
    answer_ = answer;
    return {};
  }
  Result<void> write(std::span<const uint8_t> chunk) override { return decoder_.feed(chunk); }
  Result<void> commit() override { return decoder_.finish(); }
  void abandon(const Error& why) override { abandoned = why.code; }

  Result<void> on_dir(const tree::DirRecord& r) override { return note("dir " + r.path); }
  Result<void> on_file(const tree::FileRecord& r) override {
    file_ = r;
    return {};
  }
  Result<void> on_data(std::span<const uint8_t> bytes) override {
    sha_.update(bytes);
    content_bytes += bytes.size();
    return {};
  }
  Result<void> on_file_end(const tree::FileEndRecord& r) override {
    bool verified = r.status == tree::FileStatus::kOk && sha_.finish() == r.sha256;
    return note("file " + file_.path + " " + std::to_string(file_.size) + " " +
                (verified ? "verified" : std::string(tree::file_status_name(r.status))));
  }
  Result<void> on_skip(const tree::SkipRecord& r) override {
    return note("skip " + r.path + " " + std::string(tree::skip_reason_name(r.reason)));
  }
  Result<void> on_end(const tree::EndRecord& r) override {
    end = r;
    return {};
  }

  std::vector<std::string> seen;
  tree::EndRecord end;
  uint64_t content_bytes = 0;
  std::string abandoned;
  const Answer& answer() const { return answer_; }

 private:
  Result<void> note(std::string line) {
    seen.push_back(std::move(line));
    return {};
  }
  tree::TreeDecoder decoder_;
  Answer answer_;
  tree::FileRecord file_;
  Sha256 sha_;
};

class TreeAgent : public testing::Test {
 protected:
  void SetUp() override {
    auto s = Deployment::start_one_relay(Deployment::Store::kMemory);
    ASSERT_TRUE(s.ok()) << s.error().message;
    sys = std::move(*s);
  }
  void write(const std::string& rel, const std::string& content) {
    fs::path p = sys->share("shop-1") + "/" + rel;
    fs::create_directories(p.parent_path());
    std::ofstream(p, std::ios::binary) << content;
  }
  Result<requester::Outcome> pull(const std::string& path, TreeSink& sink, uint32_t chunk = 65536,
                                  std::optional<Request::Resume> resume = {}) {
    auto me = load_identity(sys->cli_home() + "/identity.key");
    auto agent = load_identity(sys->agent_state("shop-1") + "/identity.key");
    EXPECT_TRUE(me && agent);
    RelayConfig relay;
    relay.url = sys->url();
    relay.token = sys->requester_token();
    relay.proxy = "direct";
    requester::RequestOptions options;
    options.op = Op::kTree;
    options.path = path;
    options.chunk_size = chunk;
    options.resume = std::move(resume);
    requester::TimestampSource clock;
    return requester::run_request(relay, *me, "shop-1", agent->public_key, options, clock, &sink,
                                  [](const requester::Progress&) {});
  }
  std::unique_ptr<Deployment> sys;
};

TEST_F(TreeAgent, AFolderArrivesAsVerifiedRecordsInStreamOrder) {
  write("exports/a b.csv", std::string(300'000, 'a'));  // more than a chunk and several DATA records
  write("exports/ü/empty", "");
  write("exports/ü/x.txt", "x");
  fs::create_directories(sys->share("shop-1") + "/exports/nothing");
  fs::create_symlink("/etc/passwd", sys->share("shop-1") + "/exports/out");
  { auto up = sys->start_agent_online("shop-1"); ASSERT_TRUE(up.ok()) << up.error().message; }

  TreeSink sink({});
  auto r = pull("/demo/exports", sink);
  ASSERT_TRUE(r) << r.error().code << ": " << r.error().message;
  EXPECT_EQ(sink.seen, (std::vector<std::string>{"file a b.csv 300000 verified", "dir nothing", "skip out symlink_out",
                                                 "dir ü", "file ü/empty 0 verified", "file ü/x.txt 1 verified"}));
  EXPECT_EQ(sink.answer().type, EntryType::kDirectory);
  EXPECT_EQ(sink.answer().name, "exports");
  EXPECT_EQ(sink.answer().files, 3u);
  EXPECT_EQ(sink.answer().size, 300'001u);
  EXPECT_EQ(sink.end.files, 3u);
  EXPECT_EQ(sink.end.skipped, 1u);
}

TEST_F(TreeAgent, ManySmallFilesGoThroughInOneTransfer) {
  const int kFiles = std::getenv("SEALRELAY_TREE_FILES") ? std::atoi(std::getenv("SEALRELAY_TREE_FILES")) : 10'000;
  const size_t kBytes = std::getenv("SEALRELAY_TREE_FILE_BYTES") ? std::atoi(std::getenv("SEALRELAY_TREE_FILE_BYTES")) : 4096;
  for (int i = 0; i < kFiles; ++i) write("many/d" + std::to_string(i % 10) + "/f" + std::to_string(i), std::string(kBytes, 'x'));
  { auto up = sys->start_agent_online("shop-1"); ASSERT_TRUE(up.ok()) << up.error().message; }
  TreeSink sink({});
  auto t0 = std::chrono::steady_clock::now();
  auto r = pull("/demo/many", sink, protocol::kDefaultChunkBytes);
  auto seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  ASSERT_TRUE(r) << r.error().code << ": " << r.error().message;
  EXPECT_EQ(sink.end.files, static_cast<uint64_t>(kFiles));
  EXPECT_EQ(sink.content_bytes, uint64_t(kFiles) * kBytes);
  EXPECT_EQ(std::count_if(sink.seen.begin(), sink.seen.end(), [](auto& l) { return l.ends_with(" verified"); }),
            kFiles);
  // Figures for the report, not thresholds (SEALRELAY_TREE_FILES and
  // SEALRELAY_TREE_FILE_BYTES change the tree, e.g. 100000 and 0).
  std::printf("[ figure ] %d files x %zu B through relay and agent: %.2f s (%.0f files/s), agent peak RSS %ld KiB\n",
              kFiles, kBytes, seconds, kFiles / seconds, peak_rss_kib(sys->agent("shop-1").pid()));
}

TEST_F(TreeAgent, AResumedPullStartsAtTheFileAndHashesItsPrefix) {
  write("d/a", "first");
  write("d/b/c", "0123456789");
  write("d/b/d", "fourth");
  write("d/e", "fifth");
  { auto up = sys->start_agent_online("shop-1"); ASSERT_TRUE(up.ok()) << up.error().message; }
  // The requester holds the first 4 bytes of b/c: the agent sends the rest,
  // and FILE_END's SHA-256 covers the whole file.
  struct Resumed : TreeSink {
    using TreeSink::TreeSink;
    Result<void> on_file(const tree::FileRecord& r) override {
      if (r.path == "b/c") {
        EXPECT_EQ(r.offset, 4u);
        (void)on_data(std::span(reinterpret_cast<const uint8_t*>("0123"), 4));
      }
      return TreeSink::on_file(r);
    }
  } sink(tree::DecoderOptions{true, "b/c", tree::kDefaultMaxEntries});
  auto r = pull("/demo/d", sink, 65536, Request::Resume{"b/c", 4});
  ASSERT_TRUE(r) << r.error().code << ": " << r.error().message;
  EXPECT_EQ(sink.seen, (std::vector<std::string>{"file b/c 10 verified", "file b/d 6 verified", "file e 5 verified"}));
  EXPECT_EQ(sink.answer().files, 3u);
  EXPECT_EQ(sink.answer().size, 6u + 6u + 5u) << "the content still to come";
}

TEST_F(TreeAgent, AFileIsNotAFolder) {
  write("f", "x");
  { auto up = sys->start_agent_online("shop-1"); ASSERT_TRUE(up.ok()) << up.error().message; }
  TreeSink sink({});
  auto r = pull("/demo/f", sink);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, "bad_request");
}

}  // namespace
}  // namespace sealrelay::test
