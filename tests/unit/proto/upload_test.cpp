#include "proto/upload.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

namespace sealrelay::upload {
namespace {

struct Collected {
  std::vector<std::string> frames;
  Reader::OnFrame fn() {
    return [this](std::string_view f) {
      frames.emplace_back(f);
      return true;
    };
  }
};

std::string body_of(const std::vector<std::string>& frames, bool end) {
  std::string b;
  for (auto& f : frames) append_record(b, f);
  if (end) append_end(b);
  return b;
}

TEST(UploadWriter, WritesBigEndianLengthThenBytes) {
  std::string b;
  append_record(b, std::string_view("abc"));
  append_end(b);
  EXPECT_EQ(b, std::string("\0\0\0\3abc\0\0\0\0", 11));
  std::string big;
  append_record(big, std::string(0x010203, 'x'));
  EXPECT_EQ(big.substr(0, 4), std::string("\0\1\2\3", 4));
}

TEST(UploadWriterDeathTest, RefusesAnEmptyFrameBecauseItWouldReadAsEnd) {
  std::string b;
  EXPECT_DEATH(append_record(b, std::string_view()), "");
}

TEST(UploadReader, ReadsRecordsAndTheEndAtEverySplit) {
  std::vector<std::string> frames = {"a", std::string(5000, 'b'), std::string(70000, '\0'), "zz"};
  std::string body = body_of(frames, true);
  for (size_t step : {1u, 3u, 4u, 5u, 4096u, 1u << 20}) {
    Reader r(1 << 20);
    Collected c;
    for (size_t i = 0; i < body.size(); i += step) {
      ASSERT_TRUE(r.feed(std::string_view(body).substr(i, step), c.fn())) << step;
    }
    EXPECT_EQ(c.frames, frames) << step;
    EXPECT_TRUE(r.ended());
    EXPECT_TRUE(r.at_boundary());
    EXPECT_EQ(r.frames(), frames.size());
  }
}

TEST(UploadReader, ABodyCutBetweenRecordsIsAtABoundaryAndCutInsideOneIsNot) {
  std::string body = body_of({"hello", "world"}, false);
  Reader r;
  Collected c;
  ASSERT_TRUE(r.feed(std::string_view(body).substr(0, 9), c.fn()));
  EXPECT_TRUE(r.at_boundary());
  EXPECT_FALSE(r.ended());
  ASSERT_TRUE(r.feed(std::string_view(body).substr(9, 6), c.fn()));
  EXPECT_FALSE(r.at_boundary());
  EXPECT_EQ(c.frames.size(), 1u);
}

TEST(UploadReader, RefusesAnOversizedFrameFromItsHeaderAlone) {
  Reader r(100);
  Collected c;
  std::string header("\0\0\0\x65", 4);  // 101 > 100, no payload sent at all
  auto res = r.feed(header, c.fn());
  ASSERT_FALSE(res);
  EXPECT_EQ(res.error().code, "frame_too_large");
  EXPECT_FALSE(r.feed("x", c.fn())) << "errors are sticky";
  EXPECT_TRUE(c.frames.empty());
  Reader huge(100);
  EXPECT_FALSE(huge.feed(std::string("\xff\xff\xff\xff", 4), c.fn()));
}

TEST(UploadReader, AcceptsAFrameOfExactlyTheLimit) {
  Reader r(100);
  Collected c;
  ASSERT_TRUE(r.feed(body_of({std::string(100, 'q')}, true), c.fn()));
  EXPECT_EQ(c.frames.size(), 1u);
}

TEST(UploadReader, RefusesBytesAfterTheEndRecord) {
  Reader r;
  Collected c;
  std::string body = body_of({"x"}, true) + "y";
  auto res = r.feed(body, c.fn());
  ASSERT_FALSE(res);
  EXPECT_EQ(res.error().code, "trailing_data");
  EXPECT_EQ(c.frames.size(), 1u);
}

TEST(UploadReader, StopsWhenTheReceiverSaysSo) {
  Reader r;
  int seen = 0;
  auto res = r.feed(body_of({"a", "b", "c"}, true), [&](std::string_view) { return ++seen < 2; });
  ASSERT_FALSE(res);
  EXPECT_EQ(res.error().code, "upload_aborted");
  EXPECT_EQ(seen, 2);
}

}  // namespace
}  // namespace sealrelay::upload

namespace sealrelay::upload {
namespace {

TEST(UploadReader, RandomBytesNeverCrashAndNeverDeliverAnOversizedFrame) {
  std::mt19937 rng(11);
  for (int round = 0; round < 300; ++round) {
    Reader r(64);
    std::string input;
    for (int i = 0; i < 600; ++i) {
      // Mostly small lengths so records complete, sometimes garbage.
      input.push_back(static_cast<char>(rng() % 4 == 0 ? rng() : (i % 5 == 3 ? rng() % 70 : 0)));
    }
    size_t at = 0;
    while (at < input.size()) {
      size_t n = 1 + rng() % 40;
      auto res = r.feed(std::string_view(input).substr(at, n), [](std::string_view f) {
        EXPECT_GE(f.size(), 1u);
        EXPECT_LE(f.size(), 64u);
        return true;
      });
      if (!res) break;
      at += n;
    }
  }
}

}  // namespace
}  // namespace sealrelay::upload
