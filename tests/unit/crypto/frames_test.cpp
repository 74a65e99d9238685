#include "crypto/frames.h"

#include <gtest/gtest.h>

#include <functional>

namespace sealrelay {
namespace {

using Frames = std::vector<std::vector<uint8_t>>;

struct Pair {
  TransferKeys agent;
  TransferKeys requester;
};

Pair handshake() {
  Identity r = generate_identity(), a = generate_identity();
  uint8_t req[] = {'r'};
  auto init = InitiatorHandshake::start(r, a.public_key, req);
  auto resp = ResponderHandshake::read(a, init->message1());
  auto reply = resp->answer(req);
  auto done = init->finish(reply->message2);
  return Pair{std::move(reply->keys), std::move(done->keys)};
}

std::vector<uint8_t> random_file(size_t n) {
  std::vector<uint8_t> v(n);
  if (n > 0) randombytes_buf(v.data(), v.size());  // data() may be null when empty
  return v;
}

// Seals `file` in chunks of `chunk` from frame `first`, trailer last.
Frames seal_file(const TransferKeys& keys, const std::vector<uint8_t>& file, size_t chunk, uint64_t first = 0,
                 size_t prefix = 0) {
  FrameSealer sealer(keys, first);
  sealer.absorb_prefix(std::span(file).first(prefix));
  Frames frames;
  for (size_t at = prefix; at < file.size(); at += chunk) {
    frames.emplace_back();
    sealer.seal_chunk(std::span(file).subspan(at, std::min(chunk, file.size() - at)), frames.back());
  }
  frames.emplace_back();
  sealer.seal_trailer(frames.back());
  return frames;
}

// Opens every frame; returns the plaintext or the first error code.
std::variant<std::vector<uint8_t>, std::string> open_all(const TransferKeys& keys, const Frames& frames,
                                                         uint64_t first = 0,
                                                         std::span<const uint8_t> prefix = {}) {
  FrameOpener opener(keys, first);
  opener.absorb_prefix(prefix);
  std::vector<uint8_t> out(prefix.begin(), prefix.end()), chunk;
  for (const auto& f : frames) {
    auto r = opener.open(f, chunk);
    if (!r) {
      EXPECT_TRUE(chunk.empty()) << "nothing of a refused frame may be released";
      return r.error().code;
    }
    out.insert(out.end(), chunk.begin(), chunk.end());
  }
  if (auto done = opener.finish(); !done) return done.error().code;
  EXPECT_TRUE(opener.complete());
  return out;
}

class FrameRoundTrip : public testing::TestWithParam<size_t> {};

TEST_P(FrameRoundTrip, FileArrivesIdenticalAndCompleteOnlyAfterTheTrailer) {
  ASSERT_GE(sodium_init(), 0);
  Pair keys = handshake();
  const size_t chunk = protocol::kMinChunkBytes;
  auto file = random_file(GetParam());
  Frames frames = seal_file(keys.agent, file, chunk);
  EXPECT_EQ(frames.size(), (file.size() + chunk - 1) / chunk + 1);
  auto got = open_all(keys.requester, frames);
  ASSERT_TRUE(std::holds_alternative<std::vector<uint8_t>>(got)) << std::get<std::string>(got);
  EXPECT_EQ(std::get<std::vector<uint8_t>>(got), file);
}

INSTANTIATE_TEST_SUITE_P(Sizes, FrameRoundTrip,
                         testing::Values(0, 1, protocol::kMinChunkBytes - 1, protocol::kMinChunkBytes,
                                         protocol::kMinChunkBytes + 1, 10 * protocol::kMinChunkBytes,
                                         10 * protocol::kMinChunkBytes + 17));

TEST(Frames, LargestChunkRoundTrips) {
  Pair keys = handshake();
  auto file = random_file(2 * protocol::kMaxChunkBytes + 5);
  auto got = open_all(keys.requester, seal_file(keys.agent, file, protocol::kMaxChunkBytes));
  ASSERT_TRUE(std::holds_alternative<std::vector<uint8_t>>(got));
  EXPECT_EQ(std::get<std::vector<uint8_t>>(got), file);
}

TEST(Frames, ResumeFromAnOffsetVerifiesTheWholeFileHash) {
  Pair keys = handshake();
  const size_t chunk = protocol::kMinChunkBytes;
  auto file = random_file(7 * chunk + 100);
  const size_t offset = 3 * chunk;
  Frames frames = seal_file(keys.agent, file, chunk, 3, offset);
  auto got = open_all(keys.requester, frames, 3, std::span(file).first(offset));
  ASSERT_TRUE(std::holds_alternative<std::vector<uint8_t>>(got)) << std::get<std::string>(got);
  EXPECT_EQ(std::get<std::vector<uint8_t>>(got), file);

  // A .part whose prefix differs from the agent's file fails at the trailer.
  auto wrong_prefix = file;
  wrong_prefix[5] ^= 1;
  EXPECT_EQ(std::get<std::string>(open_all(keys.requester, frames, 3, std::span(wrong_prefix).first(offset))),
            "trailer_mismatch");
}

// Each case changes the sealed frames of a 5-chunk file the way a lying relay
// could, and names the error the requester must report.
struct Attack {
  const char* name;
  std::function<void(Frames&, const Pair&)> apply;
  const char* expected;
};

std::ostream& operator<<(std::ostream& os, const Attack& a) { return os << a.name; }

const size_t kChunk = protocol::kMinChunkBytes;

class FrameAttack : public testing::TestWithParam<Attack> {};

TEST_P(FrameAttack, IsRefusedAndReportedAsWhatItIs) {
  ASSERT_GE(sodium_init(), 0);
  Pair keys = handshake();
  auto file = random_file(5 * kChunk);
  Frames frames = seal_file(keys.agent, file, kChunk);
  GetParam().apply(frames, keys);
  auto got = open_all(keys.requester, frames);
  ASSERT_TRUE(std::holds_alternative<std::string>(got)) << "attack went unnoticed";
  EXPECT_EQ(std::get<std::string>(got), GetParam().expected);
}

void flip(Frames& f, size_t frame, size_t byte) { f[frame][byte] ^= 0x01; }

INSTANTIATE_TEST_SUITE_P(
    LyingRelay, FrameAttack,
    testing::Values(
        Attack{"flipped_version", [](Frames& f, const Pair&) { flip(f, 1, 0); }, "bad_frame"},
        Attack{"unknown_flag", [](Frames& f, const Pair&) { f[1][1] |= 0x80; }, "bad_frame"},
        Attack{"data_frame_marked_final", [](Frames& f, const Pair&) { f[1][1] |= protocol::kFlagFinal; },
               "bad_frame"},
        Attack{"trailer_marked_data",
               [](Frames& f, const Pair&) { f.back()[1] = 0; }, "tampered"},
        Attack{"flipped_index", [](Frames& f, const Pair&) { flip(f, 1, protocol::kFrameIndexOffset + 7); },
               "out_of_order"},
        Attack{"flipped_nonce", [](Frames& f, const Pair&) { flip(f, 1, protocol::kFrameNonceOffset); }, "tampered"},
        Attack{"flipped_ciphertext", [](Frames& f, const Pair&) { flip(f, 2, protocol::kFrameHeaderBytes + 9); },
               "tampered"},
        Attack{"flipped_tag", [](Frames& f, const Pair&) { flip(f, 2, f[2].size() - 1); }, "tampered"},
        Attack{"flipped_trailer", [](Frames& f, const Pair&) { flip(f, f.size() - 1, protocol::kFrameHeaderBytes); },
               "tampered"},
        Attack{"reordered", [](Frames& f, const Pair&) { std::swap(f[1], f[2]); }, "out_of_order"},
        Attack{"dropped", [](Frames& f, const Pair&) { f.erase(f.begin() + 2); }, "out_of_order"},
        Attack{"duplicated", [](Frames& f, const Pair&) { f.insert(f.begin() + 2, f[1]); }, "out_of_order"},
        Attack{"truncated_no_trailer", [](Frames& f, const Pair&) { f.pop_back(); }, "truncated"},
        Attack{"nothing_at_all", [](Frames& f, const Pair&) { f.clear(); }, "truncated"},
        Attack{"frame_after_trailer", [](Frames& f, const Pair&) { f.push_back(f[0]); }, "after_end"},
        Attack{"cut_short_frame", [](Frames& f, const Pair&) { f[1].resize(protocol::kFrameOverheadBytes - 1); },
               "bad_frame"},
        Attack{"ciphertext_truncated_by_one", [](Frames& f, const Pair&) { f[1].pop_back(); }, "tampered"},
        Attack{"empty_frame", [](Frames& f, const Pair&) { f[1].clear(); }, "bad_frame"},
        Attack{"spliced_from_another_transfer",
               [](Frames& f, const Pair&) {
                 // Same agent, same file, same index: another session's frame 2.
                 Pair other = handshake();
                 std::vector<uint8_t> file(5 * kChunk, 0);
                 Frames theirs = seal_file(other.agent, file, kChunk);
                 f[2] = theirs[2];
               },
               "tampered"},
        Attack{"wrong_key",
               [](Frames& f, const Pair&) {
                 Pair other = handshake();
                 std::vector<uint8_t> file(5 * kChunk, 7);
                 f = seal_file(other.agent, file, kChunk);
               },
               "tampered"},
        Attack{"trailer_with_wrong_count",
               [](Frames& f, const Pair& keys) {
                 // An agent-keyed trailer that lies: only a test can make one.
                 FrameSealer s(keys.agent, 5);
                 Sha256Digest d{};
                 s.seal_trailer_for_test(5 * kChunk - 1, d, f.back());
               },
               "trailer_mismatch"},
        Attack{"trailer_with_wrong_hash",
               [](Frames& f, const Pair& keys) {
                 FrameSealer s(keys.agent, 5);
                 Sha256Digest d{};
                 s.seal_trailer_for_test(5 * kChunk, d, f.back());
               },
               "trailer_mismatch"}),
    [](const testing::TestParamInfo<Attack>& info) { return std::string(info.param.name); });

TEST(Frames, AnErrorIsStickyEvenForLaterGoodFrames) {
  Pair keys = handshake();
  auto file = random_file(3 * kChunk);
  Frames frames = seal_file(keys.agent, file, kChunk);
  FrameOpener opener(keys.requester, 0);
  std::vector<uint8_t> chunk;
  auto bad = frames[0];
  bad.back() ^= 1;
  EXPECT_FALSE(opener.open(bad, chunk).ok());
  auto again = opener.open(frames[0], chunk);
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().code, "tampered");
  EXPECT_TRUE(chunk.empty());
  EXPECT_FALSE(opener.finish().ok());
}

TEST(Frames, AbortFrameCarriesTheAgentsReasonAuthenticated) {
  Pair keys = handshake();
  FrameSealer sealer(keys.agent, 0);
  Frames frames(2);
  uint8_t data[100] = {};
  sealer.seal_chunk(data, frames[0]);
  sealer.seal_abort("changed", "the file changed while it was being sent", frames[1]);
  auto got = open_all(keys.requester, frames);
  ASSERT_TRUE(std::holds_alternative<std::string>(got));
  EXPECT_EQ(std::get<std::string>(got), "aborted");

  FrameOpener opener(keys.requester, 0);
  std::vector<uint8_t> chunk;
  ASSERT_TRUE(opener.open(frames[0], chunk).ok());
  auto r = opener.open(frames[1], chunk);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("changed while it was being sent"), std::string::npos);

  // The relay cannot forge one: a flipped abort frame is tampering, not an abort.
  flip(frames, 1, protocol::kFrameHeaderBytes + 3);
  EXPECT_EQ(std::get<std::string>(open_all(keys.requester, frames)), "tampered");
}

TEST(Frames, NoncesAreFreshForEveryFrame) {
  Pair keys = handshake();
  std::vector<uint8_t> chunk(kChunk, 0);
  FrameSealer a(keys.agent, 0), b(keys.agent, 0);
  std::vector<uint8_t> fa, fb;
  a.seal_chunk(chunk, fa);
  b.seal_chunk(chunk, fb);  // same key, index and plaintext: a resumed re-send
  EXPECT_NE(fa, fb);
  std::vector<uint8_t> out;
  FrameOpener opener(keys.requester, 0);
  EXPECT_TRUE(opener.open(fb, out).ok());
}

// An upload cut and resumed several times, as the agent does it (issue 15):
// the attempts share one ContentHash, so no byte is hashed twice and no
// prefix is read again, yet the frames the relay ends up holding — some
// re-sent after a rewind, the trailer sealed twice — open to the file, and
// the digest is the file's.
TEST(Frames, AnUploadSealedInAttemptsSharingOneHashVerifiesLikeOneStraightPass) {
  ASSERT_GE(sodium_init(), 0);
  Pair keys = handshake();
  auto file = random_file(10 * kChunk + 100);  // frames 0..10 data, 11 the trailer
  const std::span<const uint8_t> all(file);
  Frames held(12);  // what the relay holds, by frame index
  auto seal_from = [&](FrameSealer& sealer, size_t from, size_t to) {
    for (size_t i = from; i < to; ++i) {
      sealer.seal_chunk(all.subspan(i * kChunk, std::min(kChunk, file.size() - i * kChunk)), held[i]);
    }
  };

  ContentHash hash;
  // The requester resumes at frame 2: the agent hashes the prefix it does not send, once.
  hash.absorb(0, all.first(kChunk + 7));
  hash.absorb(kChunk + 7, all.subspan(kChunk + 7, kChunk - 7));
  ASSERT_EQ(hash.absorbed(), 2 * kChunk);
  {  // First attempt: frames 2..6, then the cut.
    FrameSealer sealer(keys.agent, 2, hash, 2 * kChunk);
    seal_from(sealer, 2, 7);
  }
  EXPECT_EQ(hash.absorbed(), 7 * kChunk);
  {  // The relay sends it back to frame 4: 4..6 re-sent (not hashed again), then on to the trailer.
    FrameSealer sealer(keys.agent, 4, hash, 4 * kChunk);
    seal_from(sealer, 4, 11);
    sealer.seal_trailer(held[11]);
  }
  EXPECT_EQ(hash.digest(), Sha256::of(file));
  auto got = open_all(keys.requester, Frames(held.begin() + 2, held.end()), 2, all.first(2 * kChunk));
  ASSERT_TRUE(std::holds_alternative<std::vector<uint8_t>>(got)) << std::get<std::string>(got);
  EXPECT_EQ(std::get<std::vector<uint8_t>>(got), file);
  {  // The relay lost the trailer: sealed again, with nothing read, it carries the same figures.
    FrameSealer sealer(keys.agent, 11, hash, file.size());
    sealer.seal_trailer(held[11]);
  }
  got = open_all(keys.requester, Frames(held.begin() + 2, held.end()), 2, all.first(2 * kChunk));
  ASSERT_TRUE(std::holds_alternative<std::vector<uint8_t>>(got)) << std::get<std::string>(got);
  EXPECT_EQ(std::get<std::vector<uint8_t>>(got), file);
  EXPECT_EQ(hash.digest(), Sha256::of(file));
}

// Bytes that were never hashed cannot be skipped: a sealer placed past what
// the hash holds, a gap in what is fed, or a trailer before the end abort
// rather than seal a digest of something else than the file.
TEST(Frames, ASealerCannotBePlacedPastTheBytesHashed) {
  ASSERT_GE(sodium_init(), 0);
  Pair keys = handshake();
  auto file = random_file(3 * kChunk);
  ContentHash hash;
  hash.absorb(0, std::span(file).first(kChunk));
  EXPECT_DEATH(FrameSealer(keys.agent, 2, hash, 2 * kChunk), "");
  EXPECT_DEATH(hash.absorb(kChunk + 1, std::span(file).subspan(kChunk + 1, 10)), "");
  EXPECT_DEATH(
      {
        FrameSealer sealer(keys.agent, 0, hash, 0);
        std::vector<uint8_t> trailer;
        sealer.seal_trailer(trailer);  // at byte 0 of a hash that holds kChunk bytes
      },
      "");
  FrameSealer at_end(keys.agent, 1, hash, kChunk);  // where the hash stands: allowed
  std::vector<uint8_t> frame;
  at_end.seal_chunk(std::span(file).subspan(kChunk, kChunk), frame);
  EXPECT_EQ(hash.absorbed(), 2 * kChunk);
}

}  // namespace
}  // namespace sealrelay
