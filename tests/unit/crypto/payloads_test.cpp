#include "crypto/payloads.h"

#include <gtest/gtest.h>

namespace sealrelay {
namespace {

std::span<const uint8_t> bytes(const std::string& s) { return {reinterpret_cast<const uint8_t*>(s.data()), s.size()}; }

TEST(Payloads, RequestRoundTrips) {
  Request r{Op::kList, "/shop/ünïcode dir/with spaces", 12345, 65536, 1'700'000'000'123};
  auto back = decode_request(bytes(encode_request(r)));
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_EQ(back->op, Op::kList);
  EXPECT_EQ(back->path, r.path);
  EXPECT_EQ(back->offset, 12345u);
  EXPECT_EQ(back->chunk_size, 65536u);
  EXPECT_EQ(back->timestamp_ms, r.timestamp_ms);
}

TEST(Payloads, AnswerRoundTripsBothShapes) {
  Answer ok;
  ok.ok = true;
  ok.type = EntryType::kFile;
  ok.name = "a b.txt";
  ok.size = 1 << 20;
  ok.mtime = 1'700'000'000;
  ok.chunk_size = protocol::kDefaultChunkBytes;
  ok.offset = protocol::kDefaultChunkBytes;
  ok.first_index = 1;
  ok.frames = true;
  auto a = decode_answer(bytes(encode_answer(ok)));
  ASSERT_TRUE(a.ok()) << a.error().message;
  EXPECT_TRUE(a->ok);
  EXPECT_EQ(a->name, "a b.txt");
  EXPECT_EQ(a->offset, ok.offset);
  EXPECT_EQ(a->first_index, 1u);
  EXPECT_TRUE(a->frames);

  Answer no;
  no.error = "not_found";
  no.message = "no such file";
  auto b = decode_answer(bytes(encode_answer(no)));
  ASSERT_TRUE(b.ok());
  EXPECT_FALSE(b->ok);
  EXPECT_EQ(b->error, "not_found");
}

TEST(Payloads, NewerPeersMayAddFields) {
  auto r = decode_request(bytes(R"({"v":1,"op":"get","path":"/a","ts":5,"future":{"x":1}})"));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->chunk_size, protocol::kDefaultChunkBytes) << "chunk_size defaults when absent";
}

class BadRequest : public testing::TestWithParam<std::string> {};

TEST_P(BadRequest, IsRefused) {
  auto r = decode_request(bytes(GetParam()));
  ASSERT_FALSE(r.ok()) << GetParam();
  EXPECT_TRUE(r.error().code == "bad_request" || r.error().code == "unsupported_version");
}

INSTANTIATE_TEST_SUITE_P(
    Table, BadRequest,
    testing::Values("", "null", "[]", "{", "\"get\"", R"({"op":"get","path":"/a","ts":5})",
                    R"({"v":2,"op":"get","path":"/a","ts":5})", R"({"v":"1","op":"get","path":"/a","ts":5})",
                    R"({"v":1,"op":"put","path":"/a","ts":5})", R"({"v":1,"op":"get","ts":5})",
                    R"({"v":1,"op":"get","path":"","ts":5})", R"({"v":1,"op":"get","path":7,"ts":5})",
                    R"({"v":1,"op":"get","path":"/a\u0000b","ts":5})", R"({"v":1,"op":"get","path":"/a"})",
                    R"({"v":1,"op":"get","path":"/a","ts":0})", R"({"v":1,"op":"get","path":"/a","ts":-5})",
                    R"({"v":1,"op":"get","path":"/a","ts":1.5})",
                    R"({"v":1,"op":"get","path":"/a","ts":18446744073709551615})", R"({"v":1,"op":"get","path":"/a","ts":5,"offset":-1})",
                    R"({"v":1,"op":"get","path":"/a","ts":5,"chunk_size":1})",
                    R"({"v":1,"op":"get","path":"/a","ts":5,"chunk_size":2000000})",
                    R"({"v":1,"op":"get","path":"/a","ts":5,"chunk_size":"big"})",
                    "{\"v\":1,\"op\":\"get\",\"path\":\"/" + std::string(5000, 'x') + "\",\"ts\":5}"));

class BadAnswer : public testing::TestWithParam<std::string> {};

TEST_P(BadAnswer, IsRefused) { EXPECT_FALSE(decode_answer(bytes(GetParam())).ok()) << GetParam(); }

INSTANTIATE_TEST_SUITE_P(
    Table, BadAnswer,
    testing::Values("", "{}", R"({"v":1})", R"({"v":1,"ok":"yes"})", R"({"v":1,"ok":false})",
                    R"({"v":1,"ok":false,"error":""})",
                    R"({"v":1,"ok":true,"type":"file","name":"a","size":1,"mtime":0,"chunk_size":65536,"offset":0,"first_index":0})",
                    R"({"v":1,"ok":true,"type":"fifo","name":"a","size":1,"mtime":0,"chunk_size":65536,"offset":0,"first_index":0,"frames":true})",
                    R"({"v":1,"ok":true,"type":"file","name":"a","size":1,"mtime":0,"chunk_size":65536,"offset":2,"first_index":0,"frames":true})",
                    R"({"v":1,"ok":true,"type":"file","name":"a","size":1,"mtime":0,"chunk_size":1,"offset":0,"first_index":0,"frames":true})",
                    R"({"v":1,"ok":true,"type":"file","name":"a","size":1,"mtime":18446744073709551615,"chunk_size":65536,"offset":0,"first_index":0,"frames":true})"));

TEST(Payloads, ListingRoundTripsAndRefusesUnsafeNames) {
  std::vector<ListEntry> entries{{"a.txt", EntryType::kFile, 3, 10}, {"sub dir", EntryType::kDirectory, 0, 11}};
  auto back = decode_listing(bytes(encode_listing(entries)));
  ASSERT_TRUE(back.ok());
  ASSERT_EQ(back->size(), 2u);
  EXPECT_EQ((*back)[1].name, "sub dir");
  EXPECT_EQ((*back)[1].type, EntryType::kDirectory);

  for (const char* name : {"..", ".", "a/b", ""}) {
    std::string doc = std::string(R"({"v":1,"entries":[{"name":")") + name + R"(","type":"file","size":1,"mtime":0}]})";
    EXPECT_FALSE(decode_listing(bytes(doc)).ok()) << name;
  }
}

TEST(Payloads, ListingWithInvalidUtf8NamesStillEncodes) {
  std::vector<ListEntry> entries{{std::string("bad\xff\xfe"), EntryType::kFile, 1, 0}};
  auto back = decode_listing(bytes(encode_listing(entries)));
  ASSERT_TRUE(back.ok());
  EXPECT_EQ((*back)[0].name, "bad\xEF\xBF\xBD\xEF\xBF\xBD");
}

}  // namespace
}  // namespace sealrelay
