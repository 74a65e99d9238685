#include "proto/sse.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

namespace sealrelay::sse {
namespace {

std::vector<Event> parse_all(std::string_view text, size_t step, Limits limits = {}) {
  Parser p(limits);
  std::vector<Event> out;
  for (size_t i = 0; i < text.size(); i += step) {
    auto r = p.feed(text.substr(i, step), [&](Event&& e) { out.push_back(std::move(e)); });
    EXPECT_TRUE(r.ok()) << r.error().message;
  }
  return out;
}

TEST(SseWriter, RendersNameIdAndDataLines) {
  EXPECT_EQ(event("frame", "7", "QUJD"), "event: frame\nid: 7\ndata: QUJD\n\n");
  EXPECT_EQ(event("", "", "a\nb"), "data: a\ndata: b\n\n");
  EXPECT_EQ(event("end", "", ""), "event: end\ndata: \n\n");
  std::string hb;
  append_comment(hb, "hb");
  EXPECT_EQ(hb, ": hb\n\n");
}

TEST(SseWriter, EventSizeIsExact) {
  for (auto [n, i, d] : std::vector<std::tuple<std::string, std::string, std::string>>{
           {"frame", "1", "xyz"}, {"", "", ""}, {"a", "", "\n\n"}, {"", "99", "l1\nl2\n"}}) {
    EXPECT_EQ(event_size(n, i, d), event(n, i, d).size()) << n << "|" << i << "|" << d;
  }
}

TEST(SseWriterDeathTest, RefusesNewlinesInNameOrId) {
  EXPECT_DEATH(event("a\nb", "", "x"), "");
  EXPECT_DEATH(event("a", "1\r", "x"), "");
  EXPECT_DEATH(event("a", "1", "x\ry"), "");
}

TEST(SseParser, ReadsWhatTheWriterWritesAtEverySplit) {
  std::string stream;
  append_comment(stream, "hb");
  append_event(stream, "answer", "0", "bXNnMg==");
  append_event(stream, "frame", "1", std::string(5000, 'A'));
  append_event(stream, "", "", "multi\nline");
  append_event(stream, "end", "2", "{\"frames\":1}");
  for (size_t step : {1, 2, 3, 7, 64, 4096, 100000}) {
    auto evs = parse_all(stream, step);
    ASSERT_EQ(evs.size(), 4u) << step;
    EXPECT_EQ(evs[0].name, "answer");
    EXPECT_EQ(evs[0].id, "0");
    EXPECT_EQ(evs[0].data, "bXNnMg==");
    EXPECT_EQ(evs[1].data, std::string(5000, 'A'));
    EXPECT_EQ(evs[2].name, "message");
    EXPECT_EQ(evs[2].id, "1") << "the last id persists across events";
    EXPECT_EQ(evs[2].data, "multi\nline");
    EXPECT_EQ(evs[3].name, "end");
    EXPECT_EQ(evs[3].id, "2");
  }
}

TEST(SseParser, AcceptsCrLfAndCrLineEndsEvenWhenSplitBetweenCrAndLf) {
  std::string text = "event: a\r\ndata: 1\r\n\r\nevent: b\rdata: 2\r\r";
  for (size_t step : {1, 2, 5, 100}) {
    auto evs = parse_all(text, step);
    ASSERT_EQ(evs.size(), 2u) << step;
    EXPECT_EQ(evs[0].name, "a");
    EXPECT_EQ(evs[0].data, "1");
    EXPECT_EQ(evs[1].name, "b");
    EXPECT_EQ(evs[1].data, "2");
  }
}

TEST(SseParser, SkipsALeadingBomOnlyAtTheStart) {
  std::string text = "\xEF\xBB\xBF" "data: x\n\n";
  for (size_t step : {1, 2, 100}) {
    auto evs = parse_all(text, step);
    ASSERT_EQ(evs.size(), 1u) << step;
    EXPECT_EQ(evs[0].data, "x");
  }
  auto evs = parse_all("\xEF\xBB" "data: y\n\n", 1);
  EXPECT_TRUE(evs.empty()) << "a broken BOM makes the first line an unknown field";
}

TEST(SseParser, FollowsTheSpecForFieldsWithoutSpaceOrValueAndIgnoresUnknownOnes) {
  auto evs = parse_all("data:x\nfoo: bar\ndata\n:comment\nid\n\n", 100);
  ASSERT_EQ(evs.size(), 1u);
  EXPECT_EQ(evs[0].data, "x\n");
  EXPECT_EQ(evs[0].id, "");
}

TEST(SseParser, DoesNotDispatchAnEventWithoutDataButKeepsItsId) {
  auto evs = parse_all("event: x\nid: 5\n\ndata: y\n\n", 100);
  ASSERT_EQ(evs.size(), 1u);
  EXPECT_EQ(evs[0].name, "message") << "the event name is reset on a blank line";
  EXPECT_EQ(evs[0].id, "5");
}

TEST(SseParser, IgnoresIdsWithNulAndReadsRetry) {
  Parser p;
  std::vector<Event> evs;
  auto on = [&](Event&& e) { evs.push_back(std::move(e)); };
  ASSERT_TRUE(p.feed(std::string_view("id: 3\n\nid: a\0b\nretry: 2500\nretry: x\ndata: z\n\n", 45), on));
  ASSERT_EQ(evs.size(), 1u);
  EXPECT_EQ(evs[0].id, "3");
  EXPECT_EQ(p.last_event_id(), "3");
  EXPECT_EQ(p.retry_ms(), 2500u);
}

TEST(SseParser, AnIncompleteEventAtTheEndIsNotDispatched) {
  auto evs = parse_all("data: a\n\ndata: b\n", 100);
  ASSERT_EQ(evs.size(), 1u);
}

TEST(SseParser, RefusesAnOverlongLineBeforeBufferingItAndStaysFailed) {
  Limits lim{.max_line = 16, .max_data = 1024};
  Parser p(lim);
  auto on = [](Event&&) { FAIL() << "no event expected"; };
  ASSERT_TRUE(p.feed("data: 0123456789", on));  // 16 bytes, no terminator yet
  auto r = p.feed("x", on);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, "sse_too_large");
  EXPECT_FALSE(p.feed("\n\n", on)) << "errors are sticky";
}

TEST(SseParser, RefusesTooMuchDataInOneEvent) {
  Limits lim{.max_line = 100, .max_data = 10};
  Parser p(lim);
  int n = 0;
  auto on = [&](Event&&) { ++n; };
  ASSERT_TRUE(p.feed("data: 12345\ndata: 1234\n\n", on));  // 5 + 1 + 4 = 10
  EXPECT_EQ(n, 1);
  auto r = p.feed("data: 12345\ndata: 12345\n", on);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, "sse_too_large");
}

}  // namespace
}  // namespace sealrelay::sse

namespace sealrelay::sse {
namespace {

TEST(SseParser, RandomBytesNeverCrashAndNeverExceedTheLimits) {
  std::mt19937 rng(7);
  const std::string alphabet = "data:event:id:retry: \r\n\n\nxyz0123456789\xEF\xBB\xBF";
  for (int round = 0; round < 200; ++round) {
    Limits lim{.max_line = 64, .max_data = 128};
    Parser p(lim);
    std::string input;
    for (int i = 0; i < 2000; ++i) input.push_back(alphabet[rng() % alphabet.size()]);
    size_t at = 0;
    while (at < input.size()) {
      size_t n = 1 + rng() % 50;
      auto r = p.feed(std::string_view(input).substr(at, n), [&](Event&& e) {
        EXPECT_LE(e.data.size(), lim.max_data);
        EXPECT_LE(e.name.size(), lim.max_line);
      });
      if (!r) break;
      at += n;
    }
  }
}

}  // namespace
}  // namespace sealrelay::sse
