#include "crypto/payloads.h"

#include <gtest/gtest.h>

#include "crypto/session.h"

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

// Padding (docs/protocol.md §4.4): what the relay can measure of messages 1
// and 2 is the bucket, not the length of the path, the name or the refusal.
class PaddedHandshake : public testing::Test {
 protected:
  void SetUp() override { ASSERT_GE(sodium_init(), 0); }

  size_t message1_size(const std::string& path) {
    Request r{Op::kGet, path, 0, protocol::kDefaultChunkBytes, 1'700'000'000'123};
    auto init = InitiatorHandshake::start(requester, agent.public_key, bytes(encode_request(r)));
    EXPECT_TRUE(init.ok());
    return init.ok() ? init->message1().size() : 0;
  }

  size_t message2_size(const Answer& answer) {
    auto init = InitiatorHandshake::start(requester, agent.public_key, bytes(encode_request(Request{
                                                                             Op::kGet, "/a", 0, 65536, 1})));
    if (!init.ok()) return 0;
    auto resp = ResponderHandshake::read(agent, init->message1());
    if (!resp.ok()) return 0;
    auto reply = resp->answer(bytes(encode_answer(answer)));
    if (!reply.ok()) return 0;
    auto done = init->finish(reply->message2);
    EXPECT_TRUE(done.ok() && decode_answer(done->payload).ok());
    return reply->message2.size();
  }

  Identity requester = generate_identity();
  Identity agent = generate_identity();
};

TEST_F(PaddedHandshake, PathsOfDifferentLengthsInOneBucketGiveMessage1sOfEqualLength) {
  size_t shortest = message1_size("/a");
  EXPECT_EQ(message1_size("/photos/2026/holiday in the mountains/IMG_0042.jpg"), shortest);
  EXPECT_EQ(message1_size("/" + std::string(120, 'p')), shortest);
  EXPECT_EQ(shortest, protocol::kMessage1OverheadBytes + protocol::kPayloadBucketBytes);
  // The next bucket is visible, as documented: 256 bytes of granularity.
  EXPECT_EQ(message1_size("/" + std::string(300, 'p')), shortest + protocol::kPayloadBucketBytes);
}

TEST_F(PaddedHandshake, NamesAndRefusalReasonsInOneBucketGiveMessage2sOfEqualLength) {
  Answer ok;
  ok.ok = true;
  ok.name = "a";
  ok.size = 1;
  ok.chunk_size = 65536;
  ok.frames = true;
  size_t reference = message2_size(ok);
  ok.name = "holiday in the mountains, day 3 (the long walk) - IMG_0042.jpg";
  EXPECT_EQ(message2_size(ok), reference);
  for (auto [code, message] : {std::pair{"not_found", "no such file in this share"},
                               {"not_allowed", "outside the shares or this requester's scope"},
                               {"unauthorized", "this requester's key is not in authorized_requesters"},
                               {"busy", "too many transfers; try again later"}}) {
    Answer no;
    no.error = code;
    no.message = message;
    EXPECT_EQ(message2_size(no), reference) << code;
  }
}

TEST(Payloads, EncodedRequestsAndAnswersFillWholeBuckets) {
  for (size_t n : {1, 100, 150, 151, 152, 400, 4095}) {
    std::string text = encode_request(Request{Op::kGet, "/" + std::string(n, 'x'), 0, 65536, 1});
    EXPECT_EQ(text.size() % protocol::kPayloadBucketBytes, 0u) << n;
    EXPECT_EQ(text.find_first_not_of(' ', text.find_last_of('}') + 1), std::string::npos) << "spaces only after }";
    EXPECT_LT(text.size() - text.find_last_of('}') - 1, protocol::kPayloadBucketBytes) << "the least padding";
  }
}

TEST(Payloads, AnUnpaddedPayloadFromAnOlderPeerIsAccepted) {
  auto r = decode_request(bytes(R"({"chunk_size":65536,"offset":0,"op":"get","path":"/a","ts":5,"v":1})"));
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->path, "/a");
  auto a = decode_answer(bytes(R"({"error":"not_found","message":"no such file","ok":false,"v":1})"));
  ASSERT_TRUE(a.ok()) << a.error().message;
  EXPECT_EQ(a->error, "not_found");
}

TEST(Payloads, PaddingOtherThanSpacesIsRefused) {
  const std::string request = R"({"op":"get","path":"/a","ts":5,"v":1})";
  const std::string answer = R"({"error":"not_found","message":"","ok":false,"v":1})";
  for (const std::string& tail : {std::string(8, '\0'), std::string("    \0", 5), std::string("\0xyz}", 5),
                                  std::string("\t\t"), std::string("\n"), std::string("   \r\n  "),
                                  std::string("  x  "), std::string(" {} ")}) {
    auto r = decode_request(bytes(request + tail));
    ASSERT_FALSE(r.ok()) << testing::PrintToString(tail);
    EXPECT_EQ(r.error().code, "bad_request");
    EXPECT_FALSE(decode_answer(bytes(answer + tail)).ok()) << testing::PrintToString(tail);
  }
  EXPECT_TRUE(decode_request(bytes(request + std::string(1000, ' '))).ok()) << "any number of spaces";
}

TEST_F(PaddedHandshake, TheLargestRequestFitsInMessage1) {
  // Every byte a control character: JSON writes each as \u00XX, six bytes.
  Request r{Op::kStat, "/" + std::string(protocol::kMaxPathBytes - 1, '\x01'), UINT64_MAX,
            protocol::kMaxChunkBytes, INT64_MAX};
  std::string text = encode_request(r);
  EXPECT_EQ(text.size(), protocol::kMaxPaddedRequestBytes) << "the bound in crypto/protocol.h is the real one";
  auto init = InitiatorHandshake::start(requester, agent.public_key, bytes(text));
  ASSERT_TRUE(init.ok()) << init.error().message;
  EXPECT_EQ(init->message1().size(), protocol::kMessage1OverheadBytes + protocol::kMaxPaddedRequestBytes);
  EXPECT_LE(init->message1().size(), protocol::kMaxNoiseMessageBytes);
  auto resp = ResponderHandshake::read(agent, init->message1());
  ASSERT_TRUE(resp.ok());
  auto back = decode_request(resp->request());
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_EQ(back->path, r.path);
}

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
