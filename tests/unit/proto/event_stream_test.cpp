#include "proto/event_stream.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

namespace sealrelay::event_stream {
namespace {

struct Parsed {
  std::vector<sse::Event> events;
  std::string error;  // "" when none
};

Parsed parse(std::string_view body, size_t step, size_t max_data = kDefaultMaxData) {
  Reader r(max_data);
  Parsed p;
  for (size_t i = 0; i < body.size() && p.error.empty(); i += step) {
    auto fed = r.feed(body.substr(i, step), [&](sse::Event&& e) { p.events.push_back(std::move(e)); });
    if (!fed) p.error = fed.error().code;
  }
  return p;
}

std::string sample() {
  std::string b;
  append_record(b, Type::answer, 0, "bWVzc2FnZSAy");
  append_record(b, Type::heartbeat, 0, "");
  append_record(b, Type::frame, 1, std::string("\x01\x00\xff\n\r", 5));
  append_record(b, Type::frame, 2, std::string(70000, 'f'));
  append_record(b, Type::end, 3, R"({"frames":2})");
  return b;
}

TEST(EventStreamWriter, WritesTypeIdLengthThenData) {
  std::string b;
  append_record(b, Type::frame, 0x0102030405060708, "xyz");
  EXPECT_EQ(b, std::string("\x02\x01\x02\x03\x04\x05\x06\x07\x08\x00\x00\x00\x03xyz", 16));
  EXPECT_EQ(name(Type::gone), "gone");
  EXPECT_EQ(type_of("frame"), Type::frame);
  EXPECT_EQ(type_of("message"), std::nullopt);
}

TEST(EventStreamReader, DeliversEveryEventWhateverTheSplit) {
  const std::string body = sample();
  for (size_t step : {size_t{1}, size_t{2}, size_t{7}, size_t{13}, size_t{4096}, body.size()}) {
    auto p = parse(body, step);
    ASSERT_EQ(p.error, "") << "step " << step;
    ASSERT_EQ(p.events.size(), 4u) << "heartbeats are not delivered; step " << step;
    EXPECT_EQ(p.events[0].name, "answer");
    EXPECT_EQ(p.events[0].id, "0");
    EXPECT_FALSE(p.events[0].raw);
    EXPECT_EQ(p.events[1].name, "frame");
    EXPECT_EQ(p.events[1].id, "1");
    EXPECT_TRUE(p.events[1].raw);
    EXPECT_EQ(p.events[1].data, std::string("\x01\x00\xff\n\r", 5));
    EXPECT_EQ(p.events[2].data, std::string(70000, 'f'));
    EXPECT_EQ(p.events[3].name, "end");
    EXPECT_EQ(p.events[3].id, "3");
    EXPECT_EQ(p.events[3].data, R"({"frames":2})");
  }
}

TEST(EventStreamReader, ErrorAndGoneKeepTheLastIdLikeSse) {
  std::string b;
  append_record(b, Type::frame, 5, "a");
  append_record(b, Type::error, 99, R"({"error":"cancelled"})");
  append_record(b, Type::gone, 0, R"({"earliest":3})");
  Reader r;
  std::vector<sse::Event> out;
  ASSERT_TRUE(r.feed(b, [&](sse::Event&& e) { out.push_back(std::move(e)); }).ok());
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[1].name, "error");
  EXPECT_EQ(out[1].id, "5");
  EXPECT_EQ(out[2].name, "gone");
  EXPECT_EQ(out[2].id, "5");
  EXPECT_EQ(r.last_event_id(), "5");
  EXPECT_TRUE(r.at_boundary());
}

TEST(EventStreamReader, RefusesALengthOverTheLimitFromTheHeaderAlone) {
  // A frame record's header announcing 0x7f000001 bytes, and no data.
  const std::string header("\x02\0\0\0\0\0\0\0\x01\x7f\0\0\x01", kHeaderBytes);
  Reader r(1024);
  int delivered = 0;
  auto fed = r.feed(header, [&](sse::Event&&) { ++delivered; });
  ASSERT_FALSE(fed.ok());
  EXPECT_EQ(fed.error().code, "record_too_large");
  EXPECT_EQ(delivered, 0);
  // Sticky: nothing more is read.
  std::string more;
  append_record(more, Type::end, 2, "{}");
  EXPECT_EQ(r.feed(more, [&](sse::Event&&) { ++delivered; }).error().code, "record_too_large");
  EXPECT_EQ(delivered, 0);
}

TEST(EventStreamReader, AcceptsDataExactlyAtTheLimit) {
  std::string b;
  append_record(b, Type::frame, 1, std::string(1024, 'x'));
  EXPECT_EQ(parse(b, 100, 1024).events.size(), 1u);
  std::string over;
  append_record(over, Type::frame, 1, std::string(1025, 'x'));
  EXPECT_EQ(parse(over, 100, 1024).error, "record_too_large");
}

TEST(EventStreamReader, RefusesUnknownTypesAndHeartbeatsWithData) {
  std::string b;
  append_record(b, Type::frame, 1, "x");
  b[0] = 6;
  EXPECT_EQ(parse(b, 1).error, "bad_record");
  std::string hb;
  append_record(hb, Type::heartbeat, 0, "x");
  EXPECT_EQ(parse(hb, 3).error, "bad_record");
}

TEST(EventStreamReader, AHalfRecordIsHeldNotDelivered) {
  std::string b;
  append_record(b, Type::frame, 1, std::string(100, 'x'));
  Reader r;
  int delivered = 0;
  ASSERT_TRUE(r.feed(std::string_view(b).substr(0, 60), [&](sse::Event&&) { ++delivered; }).ok());
  EXPECT_EQ(delivered, 0);
  EXPECT_FALSE(r.at_boundary());
  ASSERT_TRUE(r.feed(std::string_view(b).substr(60), [&](sse::Event&&) { ++delivered; }).ok());
  EXPECT_EQ(delivered, 1);
  EXPECT_TRUE(r.at_boundary());
}

TEST(EventStreamReader, RandomBytesNeverDeliverMoreThanTheLimit) {
  std::mt19937 rng(7);
  for (int round = 0; round < 2000; ++round) {
    std::string junk(1 + rng() % 200, '\0');
    for (auto& c : junk) c = static_cast<char>(rng());
    if (round % 2) junk[0] = static_cast<char>(rng() % 6);  // often a valid type
    Reader r(64);
    (void)r.feed(junk, [&](sse::Event&& e) { EXPECT_LE(e.data.size(), 64u); });
  }
}

}  // namespace
}  // namespace sealrelay::event_stream
