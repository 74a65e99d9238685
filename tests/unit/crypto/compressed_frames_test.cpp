// The compressed frame format (docs/protocol.md §3.1): what the agent sends
// compressed, what it sends as it is, and what the requester refuses.
#include <gtest/gtest.h>

#include <zstd.h>

#include <string>
#include <variant>

#include "crypto/compress.h"
#include "crypto/frames.h"
#include "crypto/payloads.h"

namespace sealrelay {
namespace {

using Frames = std::vector<std::vector<uint8_t>>;
using Bytes = std::vector<uint8_t>;

struct Pair {
  TransferKeys agent;
  TransferKeys requester;
};

Pair handshake() {
  EXPECT_GE(sodium_init(), 0);
  Identity r = generate_identity(), a = generate_identity();
  uint8_t req[] = {'r'};
  auto init = InitiatorHandshake::start(r, a.public_key, req);
  auto resp = ResponderHandshake::read(a, init->message1());
  auto reply = resp->answer(req);
  auto done = init->finish(reply->message2);
  return Pair{std::move(reply->keys), std::move(done->keys)};
}

// CSV-like rows: what shops send most.
Bytes csv(size_t n) {
  std::string text;
  for (size_t i = 0; text.size() < n; ++i) {
    text += "2026-12-0" + std::to_string(i % 7 + 1) + ",SKU-" + std::to_string(10000 + i % 977) + "," +
            std::to_string(i % 100) + "." + std::to_string(i % 89) + ",store-12\n";
  }
  text.resize(n);
  return Bytes(text.begin(), text.end());
}

Bytes random_bytes(size_t n) {
  Bytes v(n);
  if (n) randombytes_buf(v.data(), n);
  return v;
}

Frames seal_file(const TransferKeys& keys, const Bytes& file, size_t chunk, bool compress = true) {
  FrameSealer sealer(keys, 0);
  if (compress) sealer.compress_chunks();
  Frames frames;
  for (size_t at = 0; at < file.size(); at += chunk) {
    frames.emplace_back();
    sealer.seal_chunk(std::span(file).subspan(at, std::min(chunk, file.size() - at)), frames.back());
  }
  frames.emplace_back();
  sealer.seal_trailer(frames.back());
  return frames;
}

std::variant<Bytes, std::string> open_all(const TransferKeys& keys, const Frames& frames, FrameLimits limits) {
  FrameOpener opener(keys, 0, limits);
  Bytes out, chunk;
  for (const auto& f : frames) {
    auto r = opener.open(f, chunk);
    if (!r) {
      EXPECT_TRUE(chunk.empty()) << "nothing of a refused frame may be released";
      return r.error().code;
    }
    EXPECT_LE(chunk.size(), limits.chunk_bytes);
    out.insert(out.end(), chunk.begin(), chunk.end());
  }
  if (auto done = opener.finish(); !done) return done.error().code;
  return out;
}

bool compressed(const Bytes& frame) { return (frame[1] & protocol::kFlagCompressed) != 0; }

constexpr size_t kChunk = protocol::kDefaultChunkBytes;
constexpr FrameLimits kAgreed{kChunk, true};

TEST(CompressedFrames, ACompressibleFileTravelsCompressedAndOpensToTheSameBytes) {
  Pair keys = handshake();
  Bytes file = csv(3 * kChunk + 1000);
  Frames frames = seal_file(keys.agent, file, kChunk);
  size_t wire = 0;
  for (size_t i = 0; i + 1 < frames.size(); ++i) {
    EXPECT_TRUE(compressed(frames[i])) << "frame " << i;
    wire += frames[i].size();
  }
  EXPECT_LT(wire, file.size() / 3) << "CSV shrinks at least 3x";
  auto got = open_all(keys.requester, frames, kAgreed);
  ASSERT_TRUE(std::holds_alternative<Bytes>(got)) << std::get<std::string>(got);
  EXPECT_EQ(std::get<Bytes>(got), file);
}

TEST(CompressedFrames, AnIncompressibleFileTravelsAsItIs) {
  Pair keys = handshake();
  Bytes file = random_bytes(4 * kChunk);
  Frames frames = seal_file(keys.agent, file, kChunk);
  for (size_t i = 0; i + 1 < frames.size(); ++i) {
    EXPECT_FALSE(compressed(frames[i]));
    EXPECT_EQ(frames[i].size(), kChunk + protocol::kFrameOverheadBytes);
  }
  auto got = open_all(keys.requester, frames, kAgreed);
  ASSERT_TRUE(std::holds_alternative<Bytes>(got)) << std::get<std::string>(got);
  EXPECT_EQ(std::get<Bytes>(got), file);
}

TEST(CompressedFrames, AnEmptyFileIsOnlyTheTrailer) {
  Pair keys = handshake();
  Frames frames = seal_file(keys.agent, {}, kChunk);
  ASSERT_EQ(frames.size(), 1u);
  auto got = open_all(keys.requester, frames, kAgreed);
  ASSERT_TRUE(std::holds_alternative<Bytes>(got));
  EXPECT_TRUE(std::get<Bytes>(got).empty());
}

TEST(CompressedFrames, ChunksOfTheMaximumSizeRoundTrip) {
  Pair keys = handshake();
  Bytes file = csv(2 * protocol::kMaxChunkBytes + 7);
  Frames frames = seal_file(keys.agent, file, protocol::kMaxChunkBytes);
  EXPECT_TRUE(compressed(frames[0]));
  auto got = open_all(keys.requester, frames, FrameLimits{protocol::kMaxChunkBytes, true});
  ASSERT_TRUE(std::holds_alternative<Bytes>(got)) << std::get<std::string>(got);
  EXPECT_EQ(std::get<Bytes>(got), file);
}

TEST(CompressedFrames, ACompressedFrameThatWouldExpandPastTheChunkIsAnIntegrityError) {
  // A bomb: 1 MiB of zeros compresses to a few dozen bytes, but the answer
  // agreed 4 KiB chunks.
  Pair keys = handshake();
  Bytes zeros(protocol::kMaxChunkBytes, 0);
  Frames frames = seal_file(keys.agent, zeros, protocol::kMaxChunkBytes);
  ASSERT_TRUE(compressed(frames[0]));
  ASSERT_LT(frames[0].size(), protocol::kMinChunkBytes);
  EXPECT_EQ(std::get<std::string>(open_all(keys.requester, frames, FrameLimits{protocol::kMinChunkBytes, true})),
            "bad_frame");
}

TEST(CompressedFrames, ALyingAgentsFrameThatDecompressesToOtherBytesIsCaughtByTheHash) {
  // The agent hashes one chunk (sealer `honest`) but sends another one,
  // compressed, at the same index (sealer `lying`): the frame authenticates
  // and decompresses, and the trailer's SHA-256 refuses the transfer.
  Pair keys = handshake();
  Bytes said = csv(kChunk), sent = said;
  sent[100] = 'X';
  FrameSealer honest(keys.agent, 0), lying(keys.agent, 0);
  honest.compress_chunks();
  lying.compress_chunks();
  Frames frames(2);
  Bytes unused;
  honest.seal_chunk(said, unused);
  lying.seal_chunk(sent, frames[0]);
  honest.seal_trailer(frames[1]);
  ASSERT_TRUE(compressed(frames[0]));
  EXPECT_EQ(std::get<std::string>(open_all(keys.requester, frames, kAgreed)), "trailer_mismatch");
}

TEST(CompressedFrames, ACompressedFrameIsRefusedWhenCompressionWasNotAgreed) {
  Pair keys = handshake();
  Frames frames = seal_file(keys.agent, csv(kChunk), kChunk);
  ASSERT_TRUE(compressed(frames[0]));
  EXPECT_EQ(std::get<std::string>(open_all(keys.requester, frames, FrameLimits{kChunk, false})), "bad_frame");
}

TEST(CompressedFrames, ADataFrameLargerThanTheAgreedChunkIsRefused) {
  Pair keys = handshake();
  Frames frames = seal_file(keys.agent, random_bytes(2 * kChunk), 2 * kChunk, false);
  EXPECT_EQ(std::get<std::string>(open_all(keys.requester, frames, FrameLimits{kChunk, true})), "bad_frame");
}

TEST(CompressedFrames, TheFlagIsAuthenticated) {
  // A relay that clears the flag (or sets it) breaks the AD: tampered.
  Pair keys = handshake();
  Frames frames = seal_file(keys.agent, csv(kChunk), kChunk);
  frames[0][1] &= static_cast<uint8_t>(~protocol::kFlagCompressed);
  EXPECT_EQ(std::get<std::string>(open_all(keys.requester, frames, kAgreed)), "tampered");
}

TEST(ChunkDecompressor, RefusesInvalidZstdAndSkippableFramesWithoutOutput) {
  ChunkDecompressor d;
  Bytes out;
  Bytes garbage = random_bytes(1000);
  EXPECT_FALSE(d.decompress(garbage, kChunk, out));
  EXPECT_TRUE(out.empty());
  // A skippable frame decompresses to nothing: not a data frame's content.
  Bytes skippable = {0x50, 0x2A, 0x4D, 0x18, 4, 0, 0, 0, 1, 2, 3, 4};
  EXPECT_FALSE(d.decompress(skippable, kChunk, out));
  EXPECT_TRUE(out.empty());
}

TEST(ChunkDecompressor, StopsAtTheLimitEvenWhenTheHeaderUnderstatesTheContent) {
  // Two frames back to back, each within the limit, together past it.
  Bytes half(3000, 'a'), packed(ZSTD_compressBound(half.size()));
  size_t n = ZSTD_compress(packed.data(), packed.size(), half.data(), half.size(), 1);
  packed.resize(n);
  Bytes twice = packed;
  twice.insert(twice.end(), packed.begin(), packed.end());
  ChunkDecompressor d;
  Bytes out;
  EXPECT_TRUE(d.decompress(twice, 6000, out));
  EXPECT_EQ(out.size(), 6000u);
  EXPECT_FALSE(d.decompress(twice, 5999, out));
  EXPECT_TRUE(out.empty());
}

TEST(ChunkCompressor, AfterAnIncompressibleChunkSkipsAFewThenNoticesCompressibleContentAgain) {
  ChunkCompressor c;
  Bytes out, noise = random_bytes(kChunk), text = csv(kChunk);
  EXPECT_FALSE(c.compress(noise, out));  // tried: skip the next 1
  EXPECT_FALSE(c.compress(text, out));   // skipped
  EXPECT_TRUE(c.compress(text, out));    // tried again
  EXPECT_LT(out.size(), kChunk / 3);
  for (int i = 0; i < 40; ++i) (void)c.compress(noise, out);
  int skipped_text = 0;
  while (!c.compress(text, out)) ++skipped_text;
  EXPECT_LE(skipped_text, static_cast<int>(kMaxSkippedChunks));
}

TEST(ChunkCompressor, KeepsAChunkCompressedOnlyWhenItSavesFivePercent) {
  // Half random, half a repeated byte: saves about 50 %; random with 3 %
  // zeros: saves under 5 %.
  ChunkCompressor c;
  Bytes out, half = random_bytes(kChunk), little = random_bytes(kChunk);
  std::fill(half.begin(), half.begin() + kChunk / 2, 'z');
  EXPECT_TRUE(c.compress(half, out));
  ChunkCompressor d;
  std::fill(little.begin(), little.begin() + kChunk * 3 / 100, 0);
  EXPECT_FALSE(d.compress(little, out));
}

TEST(CompressionPayloads, TheOfferAndTheDecisionRoundTripAndAreLeftOutWhenOff) {
  Request r;
  r.path = "/exports/sales.csv";
  r.timestamp_ms = 5;
  std::string plain = encode_request(r);
  EXPECT_EQ(plain.find("compress"), std::string::npos) << "an old agent sees the request it always saw";
  r.offer_compression = true;
  std::string offered = encode_request(r);
  EXPECT_NE(offered.find("\"compress\":[\"zstd\"]"), std::string::npos);
  auto back = decode_request(std::span(reinterpret_cast<const uint8_t*>(offered.data()), offered.size()));
  ASSERT_TRUE(back);
  EXPECT_TRUE(back->offer_compression);

  Answer a;
  a.ok = true;
  a.name = "sales.csv";
  a.chunk_size = kChunk;
  a.frames = true;
  EXPECT_EQ(encode_answer(a).find("compress"), std::string::npos);
  a.compression = true;
  std::string text = encode_answer(a);
  auto decoded = decode_answer(std::span(reinterpret_cast<const uint8_t*>(text.data()), text.size()));
  ASSERT_TRUE(decoded);
  EXPECT_TRUE(decoded->compression);
}

TEST(CompressionPayloads, UnknownNamesInTheOfferAreSkippedAndAnUnknownDecisionIsRefused) {
  std::string req = R"({"v":1,"op":"get","path":"/a/b","ts":5,"compress":["brotli9","zstd"]})";
  auto r = decode_request(std::span(reinterpret_cast<const uint8_t*>(req.data()), req.size()));
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->offer_compression);
  std::string other = R"({"v":1,"op":"get","path":"/a/b","ts":5,"compress":["brotli9"]})";
  r = decode_request(std::span(reinterpret_cast<const uint8_t*>(other.data()), other.size()));
  ASSERT_TRUE(r);
  EXPECT_FALSE(r->offer_compression);
  std::string wrong = R"({"v":1,"op":"get","path":"/a/b","ts":5,"compress":"zstd"})";
  EXPECT_FALSE(decode_request(std::span(reinterpret_cast<const uint8_t*>(wrong.data()), wrong.size())));

  std::string ans = R"({"v":1,"ok":true,"type":"file","name":"a","size":1,"mtime":0,"chunk_size":4096,)"
                    R"("offset":0,"first_index":0,"frames":true,"compress":"gzip"})";
  EXPECT_FALSE(decode_answer(std::span(reinterpret_cast<const uint8_t*>(ans.data()), ans.size())));
}

}  // namespace
}  // namespace sealrelay

namespace sealrelay {
namespace {

TEST(CompressionPayloads, TheLargestRequestWithTheOfferKeepsTheBoundOfProtocolH) {
  Request r{Op::kList, "/" + std::string(protocol::kMaxPathBytes - 1, '\x01'), UINT64_MAX, protocol::kMaxChunkBytes,
            INT64_MAX, true};
  // The offer fits the bucket of the longest path; a tree's select and
  // resume make the longest request of all (payloads_test.cpp).
  EXPECT_EQ(encode_request(r).size(), 6 * protocol::kMaxPathBytes + protocol::kPayloadBucketBytes);
  EXPECT_LE(encode_request(r).size(), protocol::kMaxPaddedRequestBytes);
}

}  // namespace
}  // namespace sealrelay
