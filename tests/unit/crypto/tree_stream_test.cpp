#include "crypto/tree_stream.h"

#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <vector>

namespace sealrelay::tree {
namespace {

using Bytes = std::vector<uint8_t>;

// Writes down everything the decoder let through, one line per call.
struct Recorder : TreeVisitor {
  std::vector<std::string> seen;
  std::string content;
  Result<void> on_dir(const DirRecord& r) override { return note("dir " + r.path); }
  Result<void> on_file(const FileRecord& r) override {
    return note("file " + r.path + " " + std::to_string(r.size) + "@" + std::to_string(r.offset));
  }
  Result<void> on_data(std::span<const uint8_t> b) override {
    content.append(b.begin(), b.end());
    return {};
  }
  Result<void> on_file_end(const FileEndRecord& r) override {
    auto ok = note("end " + std::string(file_status_name(r.status)) + " " + content);
    content.clear();
    return ok;
  }
  Result<void> on_skip(const SkipRecord& r) override {
    return note("skip " + r.path + " " + std::string(skip_reason_name(r.reason)));
  }
  Result<void> on_end(const EndRecord& r) override { return note("END " + std::to_string(r.files)); }
  Result<void> note(std::string s) {
    seen.push_back(std::move(s));
    return {};
  }
};

void dir(Bytes& b, std::string path) { append_dir(b, DirRecord{std::move(path), 100, 0755}); }
void file(Bytes& b, std::string path, std::string_view content, uint64_t offset = 0) {
  append_file(b, FileRecord{std::move(path), offset + content.size(), 100, 0644, offset});
  if (!content.empty()) {
    append_data_header(b, content.size());
    b.insert(b.end(), content.begin(), content.end());
  }
  append_file_end(b, FileEndRecord{FileStatus::kOk, {}});
}
void end(Bytes& b, uint64_t files, uint64_t dirs, uint64_t bytes, uint64_t skipped = 0) {
  append_end(b, EndRecord{files, dirs, bytes, skipped});
}

Result<void> decode(const Bytes& b, Recorder& r, DecoderOptions options = {}, size_t piece = SIZE_MAX) {
  TreeDecoder d(r, std::move(options));
  for (size_t at = 0; at < b.size(); at += piece) {
    auto ok = d.feed(std::span(b).subspan(at, std::min(piece, b.size() - at)));
    if (!ok) return ok;
  }
  return d.finish();
}

Bytes honest() {
  Bytes b;
  dir(b, "a");
  file(b, "a/x y.txt", "hello");
  dir(b, "a/ü");
  file(b, "a/ü/empty", "");
  file(b, "a!", "second");
  append_skip(b, SkipRecord{"b", SkipReason::kSymlinkOut});
  end(b, 3, 2, 11, 1);
  return b;
}

TEST(TreeStream, AnHonestStreamRoundTripsInStreamOrder) {
  Recorder r;
  auto ok = decode(honest(), r);
  ASSERT_TRUE(ok) << ok.error().message;
  EXPECT_EQ(r.seen, (std::vector<std::string>{"dir a", "file a/x y.txt 5@0", "end ok hello", "dir a/ü",
                                              "file a/ü/empty 0@0", "end ok ", "file a! 6@0", "end ok second",
                                              "skip b symlink_out", "END 3"}));
}

TEST(TreeStream, EverySplitOfTheStreamDecodesTheSame) {
  Recorder whole;
  ASSERT_TRUE(decode(honest(), whole));
  const Bytes b = honest();
  for (size_t cut = 1; cut < b.size(); ++cut) {
    Recorder r;
    TreeDecoder d(r, {});
    ASSERT_TRUE(d.feed(std::span(b).first(cut))) << cut;
    ASSERT_TRUE(d.feed(std::span(b).subspan(cut))) << cut;
    ASSERT_TRUE(d.finish()) << cut;
    EXPECT_EQ(r.seen, whole.seen) << "cut at " << cut;
  }
  Recorder bytewise;
  ASSERT_TRUE(decode(b, bytewise, {}, 1));
  EXPECT_EQ(bytewise.seen, whole.seen);
}

TEST(TreeStream, DataIsPassedOnAsItArrivesWithoutWaitingForTheRecord) {
  Bytes b;
  append_file(b, FileRecord{"f", 10, 0, 0644, 0});
  append_data_header(b, 10);
  b.insert(b.end(), 4, 'x');
  Recorder r;
  TreeDecoder d(r, {});
  ASSERT_TRUE(d.feed(b));
  EXPECT_EQ(r.content, "xxxx");
}

// Each rule of §4.5 broken once: (what, the stream, options).
struct Broken {
  std::string name;
  std::function<void(Bytes&)> write;
  DecoderOptions options = {};
  bool only_at_finish = false;  // the stream's bytes are fine so far; its end is not
};

void PrintTo(const Broken& broken, std::ostream* os) { *os << broken.name; }

void header(Bytes& b, uint8_t type, uint32_t length) {
  b.push_back(type);
  for (int s = 24; s >= 0; s -= 8) b.push_back(static_cast<uint8_t>(length >> s));
}

std::vector<Broken> broken_streams() {
  std::vector<Broken> v = {
      {"UnknownType", [](Bytes& b) { header(b, 7, 32), b.resize(b.size() + 32); }},
      {"TypeZero", [](Bytes& b) { header(b, 0, 1), b.push_back(0); }},
      {"DirTooShort", [](Bytes& b) { header(b, 1, 12), b.resize(b.size() + 12); }},
      {"DirTooLong", [](Bytes& b) { header(b, 1, 12 + 4097); }},
      {"EndOfWrongLength", [](Bytes& b) { header(b, 6, 33), b.resize(b.size() + 33); }},
      {"FileEndOfWrongLength", [](Bytes& b) { header(b, 4, 32); }},
      {"DataTooLong", [](Bytes& b) { append_file(b, {"f", 70000, 0, 0644, 0}), header(b, 3, 65537); }},
      {"EmptyData", [](Bytes& b) { append_file(b, {"f", 1, 0, 0644, 0}), header(b, 3, 0); }},
      {"ModeAbove0777", [](Bytes& b) { append_dir(b, {"d", 0, 01777}); }},
      {"FileModeAbove0777", [](Bytes& b) { append_file(b, {"f", 0, 0, 04644, 0}); }},
      {"OffsetAboveSize", [](Bytes& b) { append_file(b, {"f", 1, 0, 0644, 2}); }},
      {"DataOutsideAFile", [](Bytes& b) { append_data_header(b, 1), b.push_back('x'); }},
      {"DataBeyondTheSize", [](Bytes& b) { append_file(b, {"f", 1, 0, 0644, 0}), append_data_header(b, 2); }},
      {"FileEndOutsideAFile", [](Bytes& b) { append_file_end(b, {}); }},
      {"FileEndOkBeforeAllContent",
       [](Bytes& b) {
         append_file(b, {"f", 2, 0, 0644, 0}), append_data_header(b, 1), b.push_back('x'), append_file_end(b, {});
       }},
      {"SkippedFileWithAHash",
       [](Bytes& b) {
         FileEndRecord e{FileStatus::kChanged, {}};
         e.sha256[3] = 1;
         append_file(b, {"f", 2, 0, 0644, 0}), append_file_end(b, e);
       }},
      {"UnknownFileStatus",
       [](Bytes& b) { append_file(b, {"f", 0, 0, 0644, 0}), header(b, 4, 33), b.push_back(4), b.resize(b.size() + 32); }},
      {"DirInsideAFile", [](Bytes& b) { append_file(b, {"f", 1, 0, 0644, 0}), dir(b, "g"); }},
      {"FileInsideAFile", [](Bytes& b) { append_file(b, {"f", 1, 0, 0644, 0}), append_file(b, {"g", 0, 0, 0, 0}); }},
      {"SkipInsideAFile", [](Bytes& b) { append_file(b, {"f", 1, 0, 0644, 0}), append_skip(b, {"g", SkipReason::kLoop}); }},
      {"EndInsideAFile", [](Bytes& b) { append_file(b, {"f", 1, 0, 0644, 0}), end(b, 0, 0, 0); }},
      {"AnythingAfterEnd", [](Bytes& b) { end(b, 0, 0, 0), dir(b, "a"); }},
      {"AByteAfterEnd", [](Bytes& b) { end(b, 0, 0, 0), b.push_back(6); }},
      {"NoEnd", [](Bytes& b) { dir(b, "a"); }, {}, true},
      {"EndHalfWritten", [](Bytes& b) { end(b, 0, 0, 0), b.pop_back(); }, {}, true},
      {"FileNeverEnded", [](Bytes& b) { append_file(b, {"f", 1, 0, 0644, 0}); }, {}, true},
      {"EndCountsThatLie", [](Bytes& b) { file(b, "f", "x"), end(b, 2, 0, 1); }},
      {"EndBytesThatLie", [](Bytes& b) { file(b, "f", "x"), end(b, 1, 0, 9); }},
      {"UnknownSkipReason", [](Bytes& b) { header(b, 5, 2), b.push_back(9), b.push_back('a'); }},
      {"EmptyPath", [](Bytes& b) { append_dir(b, {"", 0, 0}); }},
      {"EmptyComponent", [](Bytes& b) { dir(b, "a"), dir(b, "a//b"); }},
      {"TrailingSlash", [](Bytes& b) { dir(b, "a/"); }},
      {"LeadingSlash", [](Bytes& b) { dir(b, "/etc"); }},
      {"DotComponent", [](Bytes& b) { dir(b, "."); }},
      {"DotDot", [](Bytes& b) { dir(b, "a"), file(b, "a/..", ""); }},
      {"DotDotInASkip", [](Bytes& b) { append_skip(b, {"..", SkipReason::kLoop}); }},
      {"Backslash", [](Bytes& b) { file(b, "a\\b", ""); }},
      {"Nul", [](Bytes& b) { file(b, std::string("a\0b", 3), ""); }},
      {"ControlCharacter", [](Bytes& b) { file(b, "a\nb", ""); }},
      {"Delete", [](Bytes& b) { file(b, "a\x7f", ""); }},
      {"InvalidUtf8", [](Bytes& b) { file(b, "a\xff", ""); }},
      {"OverlongUtf8", [](Bytes& b) { file(b, "\xc0\xaf", ""); }},
      {"Surrogate", [](Bytes& b) { file(b, "\xed\xa0\x80", ""); }},
      {"TruncatedUtf8", [](Bytes& b) { file(b, "a\xe2\x82", ""); }},
      {"ComponentOf256Bytes", [](Bytes& b) { file(b, std::string(256, 'n'), ""); }},
      {"PathOf4097Bytes",
       [](Bytes& b) {
         std::string p = std::string(255, 'n');
         for (int i = 1; i < 16; ++i) p += "/" + std::string(255, 'n');
         append_skip(b, {p + "/n", SkipReason::kTooDeep});  // 4097 bytes
       }},
      {"Depth129",
       [](Bytes& b) {
         std::string p = "d";
         for (int i = 0; i < 128; ++i) dir(b, p), p += "/d";
         file(b, p, "");
       }},
      {"SamePathTwice", [](Bytes& b) { file(b, "a", ""), file(b, "a", ""); }},
      {"OutOfOrder", [](Bytes& b) { file(b, "b", ""), file(b, "a", ""); }},
      {"ComponentOrderNotByteOrder", [](Bytes& b) { file(b, "a b", ""), dir(b, "a"); }},
      {"ParentNeverSent", [](Bytes& b) { file(b, "a/b", ""); }},
      {"ParentWasAFile", [](Bytes& b) { file(b, "a", ""), file(b, "a/b", ""); }},
      {"ParentWasASkip", [](Bytes& b) { append_skip(b, {"a", SkipReason::kLoop}), file(b, "a/b", ""); }},
      {"ParentLeftTheBranch", [](Bytes& b) { dir(b, "a"), dir(b, "a/b"), dir(b, "a/c"), file(b, "a/b/x", ""); }},
      {"BeforeTheResumePoint", [](Bytes& b) { file(b, "a", ""); }, {true, "b", kDefaultMaxEntries}},
      {"InAFolderBesideTheResumePoint", [](Bytes& b) { file(b, "x/z/f", ""); }, {true, "x/y/f", kDefaultMaxEntries}},
      {"MoreThanMaxEntries", [](Bytes& b) { file(b, "a", ""), file(b, "b", ""), file(b, "c", ""); }, {true, {}, 2}},
      {"DataWithoutContents", [](Bytes& b) { append_file(b, {"f", 1, 0, 0644, 0}), append_data_header(b, 1); },
       {false, {}, kDefaultMaxEntries}},
      {"OffsetWithoutContents", [](Bytes& b) { append_file(b, {"f", 2, 0, 0644, 1}); }, {false, {}, kDefaultMaxEntries}},
  };
  return v;
}

class BrokenStream : public testing::TestWithParam<Broken> {};

TEST_P(BrokenStream, IsBadTreeAndStaysBad) {
  Bytes b;
  GetParam().write(b);
  for (size_t piece : {SIZE_MAX, size_t{1}, size_t{7}}) {
    Recorder r;
    TreeDecoder d(r, GetParam().options);
    Result<void> ok;
    for (size_t at = 0; at < b.size() && ok; at += piece) ok = d.feed(std::span(b).subspan(at, std::min(piece, b.size() - at)));
    // Caught as the bytes come, not merely because END never came.
    ASSERT_EQ(!ok, !GetParam().only_at_finish) << "piece " << piece;
    if (ok) ok = d.finish();
    ASSERT_FALSE(ok) << "piece " << piece;
    EXPECT_EQ(ok.error().code, "bad_tree");
    auto again = d.feed(honest());
    ASSERT_FALSE(again);
    EXPECT_EQ(again.error().message, ok.error().message) << "the first error is final";
  }
}

INSTANTIATE_TEST_SUITE_P(EveryRule, BrokenStream, testing::ValuesIn(broken_streams()),
                         [](const auto& info) { return info.param.name; });

TEST(TreeStream, ResumeKnowsTheFoldersAboveItsPathAndStartsAtOrAfterIt) {
  Bytes b;
  file(b, "x/y/f", "tail", 3);  // the resumed file itself, from byte 3
  file(b, "x/y/g", "");
  file(b, "x/z", "");          // a sibling of a folder above the resume point
  dir(b, "y");
  end(b, 3, 1, 7);
  Recorder r;
  auto ok = decode(b, r, {true, "x/y/f", kDefaultMaxEntries});
  ASSERT_TRUE(ok) << ok.error().message;
  EXPECT_EQ(r.seen[0], "file x/y/f 7@3");

  Bytes later;  // the resumed file vanished: the stream starts after it
  file(later, "x/y/h", "");
  end(later, 1, 0, 0);
  Recorder r2;
  EXPECT_TRUE(decode(later, r2, {true, "x/y/f", kDefaultMaxEntries}));
}

TEST(TreeStream, WithoutContentsAFileStandsAlone) {
  Bytes b;
  append_file(b, FileRecord{"f", 12345, 0, 0600, 0});
  append_file(b, FileRecord{"g", 1, 0, 0600, 0});
  end(b, 2, 0, 12346);
  Recorder r;
  auto ok = decode(b, r, {false, {}, kDefaultMaxEntries});
  ASSERT_TRUE(ok) << ok.error().message;
  EXPECT_EQ(r.seen.size(), 3u);
}

TEST(TreeStream, MaxEntriesAllowsExactlyThatMany) {
  Bytes b;
  file(b, "a", ""), file(b, "b", "");
  end(b, 2, 0, 0);
  Recorder r;
  EXPECT_TRUE(decode(b, r, {true, {}, 2}));
}

TEST(TreeStream, AVisitorErrorStopsTheDecoderAsItIs) {
  struct Refuser : Recorder {
    Result<void> on_file(const FileRecord&) override { return make_error("no_space", "disk full"); }
  } r;
  TreeDecoder d(r, {});
  auto ok = d.feed(honest());
  ASSERT_FALSE(ok);
  EXPECT_EQ(ok.error().code, "no_space");
  EXPECT_FALSE(d.finish());
}

TEST(TreeStream, ComparePathsGoesComponentByComponent) {
  EXPECT_LT(compare_paths("a", "a/b"), 0);
  EXPECT_LT(compare_paths("a/b", "a b"), 0) << "'a' < 'a b', so everything in a comes first";
  EXPECT_LT(compare_paths("a/z", "a!"), 0);
  EXPECT_EQ(compare_paths("a/b", "a/b"), 0);
  EXPECT_GT(compare_paths("b", "a/zzz"), 0);
}

TEST(TreeStream, CheckPathAcceptsTheLimitsExactly) {
  EXPECT_TRUE(check_path(std::string(255, 'n')));
  std::string deep = "d";
  for (int i = 1; i < 128; ++i) deep += "/d";
  EXPECT_TRUE(check_path(deep));
  EXPECT_FALSE(check_path(deep + "/d"));
  EXPECT_TRUE(check_path("ünï €/𝄞 \xef\xbf\xbd"));
}

}  // namespace
}  // namespace sealrelay::tree
