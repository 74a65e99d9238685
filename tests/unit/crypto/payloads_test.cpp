#include "crypto/payloads.h"

#include <gtest/gtest.h>

#include "crypto/session.h"
#include "crypto/tree_stream.h"

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

std::string tree_request(const std::string& fields) {
  return R"({"v":1,"op":"tree","path":"/s/d","ts":5,)" + fields + "}";
}

std::string patterns(size_t count, size_t bytes_each) {
  std::string out = "[";
  for (size_t i = 0; i < count; ++i) out += (i ? ",\"" : "\"") + std::string(bytes_each, 'p') + "\"";
  return out + "]";
}

INSTANTIATE_TEST_SUITE_P(
    TreeBounds, BadRequest,
    testing::Values(tree_request(R"("select":[])"), tree_request(R"("select":{"include":"*.csv"})"),
                    tree_request(R"("select":{"include":[7]})"),
                    tree_request(R"("select":{"include":)" + patterns(65, 1) + "}"),
                    tree_request(R"("select":{"exclude":)" + patterns(65, 1) + "}"),
                    tree_request(R"("select":{"include":)" + patterns(64, 65) + R"(,"exclude":)" + patterns(64, 64) + "}"),
                    tree_request(R"("select":{"exclude":["ab"]})"), tree_request(R"("select":{"exclude":["a"]})"),
                    tree_request(R"("select":{"max_depth":0})"), tree_request(R"("select":{"max_depth":129})"),
                    tree_request(R"("select":{"newer_than":"yesterday"})"), tree_request(R"("contents":"no")"),
                    tree_request(R"("resume":"a")"), tree_request(R"("resume":{"offset":3})"),
                    tree_request(R"("resume":{"path":"../x"})"), tree_request(R"("resume":{"path":"/etc/x"})"),
                    tree_request(R"("resume":{"path":"a//b"})"), tree_request(R"("resume":{"path":"a\b"})"),
                    tree_request(R"("resume":{"path":"a
b"})"), tree_request(R"("resume":{"path":"a","offset":-1})")));

TEST(Payloads, TreeRequestRoundTripsWithSelectContentsAndResume) {
  Request r{Op::kTree, "/shop/exports", 0, 65536, 1'700'000'000'123};
  r.select.include = {"*.csv", "2026/**"};
  r.select.exclude = {"tmp"};
  r.select.newer_than = -5;
  r.select.max_depth = 128;
  r.contents = false;
  r.resume = Request::Resume{"2026/ü b/x.csv", 123};
  auto back = decode_request(bytes(encode_request(r)));
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_EQ(back->op, Op::kTree);
  EXPECT_EQ(back->select.include, r.select.include);
  EXPECT_EQ(back->select.exclude, r.select.exclude);
  EXPECT_EQ(back->select.newer_than, -5);
  EXPECT_EQ(back->select.max_depth, 128u);
  EXPECT_FALSE(back->contents);
  ASSERT_TRUE(back->resume);
  EXPECT_EQ(back->resume->path, r.resume->path);
  EXPECT_EQ(back->resume->offset, 123u);

  auto plain = decode_request(bytes(tree_request(R"("select":{"include":)" + patterns(64, 64) + "}")));
  ASSERT_TRUE(plain.ok()) << "64 patterns of 8192 bytes in all are allowed: " << plain.error().message;
  EXPECT_TRUE(plain->contents) << "contents defaults to true";
  EXPECT_FALSE(plain->resume);
}

TEST(Payloads, TreeAnswerCarriesTheFileCount) {
  Answer a;
  a.ok = true;
  a.type = EntryType::kDirectory;
  a.name = "exports";
  a.size = 40960;
  a.chunk_size = 65536;
  a.frames = true;
  a.files = 10;
  auto back = decode_answer(bytes(encode_answer(a)));
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_EQ(back->files, 10u);
  EXPECT_FALSE(decode_answer(bytes(R"({"v":1,"ok":true,"type":"dir","name":"a","size":0,"mtime":0,"chunk_size":65536,)"
                                   R"("offset":0,"first_index":0,"frames":true,"files":-1})")));
}

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
  // The path all control characters (\u00XX); the patterns and the resume
  // path all '"' (\"), the longest characters they may hold.
  Request r{Op::kTree, "/" + std::string(protocol::kMaxPathBytes - 1, '\x01'), UINT64_MAX,
            protocol::kMaxChunkBytes, INT64_MAX, true};
  const size_t each = tree::kMaxSelectBytes / (2 * tree::kMaxSelectPatterns);
  r.select.include.assign(tree::kMaxSelectPatterns, std::string(each, '"'));
  r.select.exclude.assign(tree::kMaxSelectPatterns, std::string(each, '"'));
  r.select.newer_than = INT64_MIN;
  r.select.max_depth = tree::kMaxDepth;
  r.contents = false;
  std::string resume(tree::kMaxComponentBytes, '"');
  while (resume.size() + 1 + tree::kMaxComponentBytes <= tree::kMaxPathBytes) resume += "/" + std::string(255, '"');
  r.resume = Request::Resume{resume, UINT64_MAX};
  std::string text = encode_request(r);
  EXPECT_LE(text.size(), protocol::kMaxPaddedRequestBytes);
  EXPECT_GT(text.size() + 4 * protocol::kPayloadBucketBytes, protocol::kMaxPaddedRequestBytes)
      << "the bound in crypto/protocol.h is close to the real one";
  auto init = InitiatorHandshake::start(requester, agent.public_key, bytes(text));
  ASSERT_TRUE(init.ok()) << init.error().message;
  EXPECT_LE(init->message1().size(), protocol::kMaxNoiseMessageBytes);
  auto resp = ResponderHandshake::read(agent, init->message1());
  ASSERT_TRUE(resp.ok());
  auto back = decode_request(resp->request());
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_EQ(back->resume->path, resume);
  EXPECT_EQ(back->select.exclude, r.select.exclude);
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
