// A relay that lies (issue 7; docs/security.md §Threats). The real agent and
// the real CLI talk through tests/security/lying_relay.h, a proxy playing a
// malicious relay operator. Each attack must be detected by the requester
// (or the agent), reported as what it is — the CLI's exit code 5
// (integrity) and a message naming the failure — and leave nothing under
// the final file name; what the .part holds is always a verified prefix of
// the real file (nothing forged ever reaches the disk).
#include <gtest/gtest.h>
#include <signal.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <sodium.h>

#include "base/base64.h"
#include "crypto/payloads.h"
#include "crypto/session.h"
#include "tests/security/lying_relay.h"
#include "tests/support/deployment.h"

namespace sealrelay::test {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr size_t kChunk = protocol::kDefaultChunkBytes;  // what the CLI asks for and the agent answers
// Five data frames (the last one short) and the trailer: frame ids 1..5 are
// data, id 6 is the trailer (SSE id = frame index + 1).
constexpr size_t kFileBytes = 4 * kChunk + 1000;
constexpr const char* kTrailerId = "6";

std::span<const uint8_t> bytes_of(std::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

// Every attack runs against both event stream formats the CLI reads: the
// binary stream it asks for, and SSE (a relay that offers only SSE).
enum class Format { binary, sse };

class LyingRelayTest : public testing::TestWithParam<Format> {
 protected:
  virtual std::vector<std::string> relay_args() const { return {}; }

  void SetUp() override {
    auto s = Deployment::start_one_relay(Deployment::Store::kMemory, relay_args());
    ASSERT_TRUE(s.ok()) << s.error().message;
    sys = std::move(*s);
    ASSERT_TRUE(sys->start_agent_online("shop-1").ok());
    src = sys->share("shop-1") + "/ledger.bin";
    write_random_file(src, kFileBytes, 71);
    write_random_file(sys->share("shop-1") + "/other.bin", kFileBytes, 72);
    // Pin the agent's key through the honest relay: the pin is what every
    // attack below has to get past.
    auto pinned = sys->cli({"stat", "shop-1:/demo/ledger.bin"});
    ASSERT_EQ(pinned.exit_code, 0) << pinned.output;
    liar = std::make_unique<LyingRelay>(sys->port());
    liar->binary_events = GetParam() == Format::binary;
    fs::create_directories(sys->dir() + "/out");
  }

  std::string out(const std::string& name = "ledger.bin") { return sys->dir() + "/out/" + name; }

  // `sealrelay get` of `path` through the lying relay.
  LoggedRun get_through_liar(const std::string& path = "/demo/ledger.bin", const std::string& dst = "") {
    return sys->cli({"--url", liar->url(), "get", "shop-1:" + path, "-o", dst.empty() ? out() : dst});
  }

  // The attack is reported as `code` with `says` in the message, and no file
  // got its final name; the .part, if any, is a prefix of the real file.
  void expect_caught(const LoggedRun& r, int code, const std::string& says, const std::string& dst = "",
                     const std::string& real = "") {
    const std::string file = dst.empty() ? out() : dst;
    EXPECT_EQ(r.exit_code, code) << r.output;
    EXPECT_NE(r.output.find(says), std::string::npos) << "expected \"" << says << "\" in:\n" << r.output;
    EXPECT_FALSE(fs::exists(file)) << "a file got its final name despite the attack";
    if (fs::exists(file + ".part")) {
      std::string part = read_file(file + ".part");
      std::string whole = read_file(real.empty() ? src : real);
      EXPECT_EQ(whole.compare(0, part.size(), part), 0) << "the .part holds bytes that are not the real file's";
    }
  }

  // Rewrites the frame events of the stream with `fn(id, event, emit)`;
  // every other event passes unchanged.
  void on_frames(std::function<void(const std::string& id, sse::Event e, const LyingRelay::Emit&)> fn) {
    liar->rewrite_events = [fn](const std::string&, sse::Event e, const LyingRelay::Emit& emit) {
      if (e.name != "frame") return emit(e);
      std::string id = e.id;
      fn(id, std::move(e), emit);
    };
  }

  // The events of the last stream as the real relay sent them.
  std::vector<sse::Event> last_stream() {
    auto streams = liar->upstream_streams();
    return streams.empty() ? std::vector<sse::Event>{} : streams.back();
  }

  std::unique_ptr<Deployment> sys;
  std::unique_ptr<LyingRelay> liar;
  std::string src;
};

INSTANTIATE_TEST_SUITE_P(Formats, LyingRelayTest, testing::Values(Format::binary, Format::sse),
                         [](const testing::TestParamInfo<Format>& f) {
                           return std::string(f.param == Format::binary ? "Binary" : "Sse");
                         });

// The proxy itself changes nothing when it does not lie: the baseline for
// every test below.
TEST_P(LyingRelayTest, AnHonestProxyChangesNothing) {
  auto r = get_through_liar();
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(same_file(src, out()));
  ASSERT_EQ(liar->created().size(), 1u);
  size_t frames = 0;
  for (const auto& e : last_stream()) frames += e.name == "frame";
  EXPECT_EQ(frames, 6u) << "5 data frames and the trailer";
}

// Key swap: the relay answers the CLI's message 1 with a well-formed
// message 2 of its own key (made for a message 1 it wrote itself: without
// the agent's private key it cannot make one for the CLI's). Noise_IK's
// message 2 depends on the whole transcript and on the pinned key, so the
// handshake fails before any frame is looked at.
TEST_P(LyingRelayTest, AnAnswerFromAnotherKeyFailsTheHandshake) {
  Identity impostor = generate_identity(), someone = generate_identity();
  auto own = InitiatorHandshake::start(someone, impostor.public_key, bytes_of("{}"));
  ASSERT_TRUE(own.ok());
  auto read = ResponderHandshake::read(impostor, own->message1());
  ASSERT_TRUE(read.ok());
  Answer fake;
  fake.ok = true;
  fake.type = EntryType::kFile;
  fake.name = "ledger.bin";
  fake.size = kFileBytes;
  fake.chunk_size = kChunk;
  fake.frames = true;
  std::string fake_text = encode_answer(fake);
  auto reply = read->answer(bytes_of(fake_text));
  ASSERT_TRUE(reply.ok());
  const std::string forged = base64::encode(reply->message2);
  liar->rewrite_events = [&](const std::string&, sse::Event e, const LyingRelay::Emit& emit) {
    if (e.name == "answer") e.data = forged;
    emit(e);
  };
  expect_caught(get_through_liar(), 5, "the handshake did not verify");
  EXPECT_FALSE(fs::exists(out() + ".part")) << "nothing is written before the handshake verified";
}

// The agent's own answer, but to an earlier transfer (the relay keeps old
// message 2s): bound to that transfer's message 1, it fails here too.
TEST_P(LyingRelayTest, TheAgentsAnswerToAnotherTransferFailsTheHandshake) {
  ASSERT_EQ(get_through_liar("/demo/other.bin", out("other.bin")).exit_code, 0);
  std::string old_answer;
  for (const auto& e : last_stream()) {
    if (e.name == "answer") old_answer = e.data;
  }
  ASSERT_FALSE(old_answer.empty());
  liar->rewrite_events = [&](const std::string&, sse::Event e, const LyingRelay::Emit& emit) {
    if (e.name == "answer") e.data = old_answer;
    emit(e);
  };
  expect_caught(get_through_liar(), 5, "the handshake did not verify");
}

// One byte of a frame's ciphertext changed (one base64 character).
TEST_P(LyingRelayTest, AChangedFrameIsTampered) {
  on_frames([](const std::string& id, sse::Event e, const LyingRelay::Emit& emit) {
    if (id == "3") {
      char& c = e.data[e.data.size() / 2];
      c = c == 'A' ? 'B' : 'A';
    }
    emit(e);
  });
  expect_caught(get_through_liar(), 5, "frame 2 failed authentication");
}

// A changed header byte (the index) is caught by the order check; a changed
// flag (marking a data frame final) by the authentication of the AD.
TEST_P(LyingRelayTest, AFrameMarkedFinalIsTampered) {
  on_frames([](const std::string& id, sse::Event e, const LyingRelay::Emit& emit) {
    if (id == "2") {
      std::vector<uint8_t> f;
      ASSERT_TRUE(base64::decode_into(e.data, f));
      f[1] |= 1;  // FINAL
      f.resize(50 + 40);  // the size of a trailer, so only the AD can tell
      e.data = base64::encode(f);
    }
    emit(e);
  });
  expect_caught(get_through_liar(), 5, "frame 1 failed authentication");
}

TEST_P(LyingRelayTest, ReorderedFramesAreOutOfOrder) {
  std::optional<sse::Event> held;
  on_frames([&](const std::string& id, sse::Event e, const LyingRelay::Emit& emit) {
    if (id == "2") {
      held = std::move(e);  // frame 1 waits ...
      return;
    }
    emit(e);
    if (id == "3" && held) emit(*held);  // ... until after frame 2
  });
  expect_caught(get_through_liar(), 5, "frame 2 arrived where frame 1 was due");
}

// A folder pull (issue 17) through a relay that changes, reorders or cuts
// its frames: caught as for a file (exit 5), and no file gets its final
// name unless it verified — every file under its final name is the real
// one, the ones the attack touched are not there. Frames carry the records
// without regard to file boundaries: a.bin ends inside the third frame.
TEST_P(LyingRelayTest, AFolderStreamTamperedReorderedOrCutLeavesNoUnverifiedFileUnderItsName) {
  const fs::path tree = fs::path(sys->share("shop-1")) / "tree";
  fs::create_directories(tree);
  ASSERT_TRUE(write_random_file((tree / "a.bin").string(), 2 * kChunk + 100, 81));
  ASSERT_TRUE(write_random_file((tree / "b.bin").string(), 2 * kChunk, 82));
  ASSERT_TRUE(write_random_file((tree / "c.bin").string(), 1000, 83));
  struct Attack {
    std::string name, says;
    std::function<void(const std::string& id, sse::Event e, const LyingRelay::Emit&)> frames;
    bool a_arrives;
  };
  std::optional<sse::Event> held;
  bool cut = false;
  const std::vector<Attack> attacks{
      {"tampered", "failed authentication",
       [](const std::string& id, sse::Event e, const LyingRelay::Emit& emit) {
         if (id == "3") e.data[e.data.size() / 2] = e.data[e.data.size() / 2] == 'A' ? 'B' : 'A';
         emit(e);
       },
       false},
      {"reordered", "arrived where",
       [&](const std::string& id, sse::Event e, const LyingRelay::Emit& emit) {
         if (id == "3") return void(held = std::move(e));
         emit(e);
         if (id == "4" && held) emit(*held);
       },
       false},
      {"cut", "ended before the trailer",
       [&](const std::string& id, sse::Event e, const LyingRelay::Emit& emit) {
         if (cut) return;
         if (id == "5") {
           cut = true;
           return emit(sse::Event{"end", "5", R"({"frames":3})"});
         }
         emit(e);
       },
       true},
  };
  for (const auto& attack : attacks) {
    on_frames(attack.frames);
    const fs::path dst = fs::path(sys->dir()) / ("tree-" + attack.name);
    auto r = sys->cli({"--url", liar->url(), "get", "-r", "shop-1:/demo/tree", "-o", dst.string()});
    EXPECT_EQ(r.exit_code, 5) << attack.name << ": " << r.output;
    EXPECT_NE(r.output.find(attack.says), std::string::npos) << attack.name << ": " << r.output;
    for (const auto& e : fs::recursive_directory_iterator(dst)) {
      if (!e.is_regular_file() || e.path().extension() == ".part" || e.path().extension() == ".journal") continue;
      EXPECT_TRUE(same_file((tree / e.path().filename()).string(), e.path().string()))
          << attack.name << ": " << e.path() << " got its final name with other bytes than the agent's";
    }
    EXPECT_EQ(fs::exists(dst / "tree" / "a.bin"), attack.a_arrives) << attack.name;
    EXPECT_FALSE(fs::exists(dst / "tree" / "b.bin")) << attack.name;
    EXPECT_FALSE(fs::exists(dst / "tree" / "c.bin")) << attack.name;
  }
}

TEST_P(LyingRelayTest, ADroppedFrameIsOutOfOrder) {
  on_frames([](const std::string& id, sse::Event e, const LyingRelay::Emit& emit) {
    if (id != "4") emit(e);
  });
  expect_caught(get_through_liar(), 5, "frame 4 arrived where frame 3 was due");
}

TEST_P(LyingRelayTest, ADuplicatedFrameIsOutOfOrder) {
  on_frames([](const std::string& id, sse::Event e, const LyingRelay::Emit& emit) {
    emit(e);
    if (id == "2") emit(e);
  });
  expect_caught(get_through_liar(), 5, "frame 1 arrived where frame 2 was due");
}

// Frame 2 of another transfer — same agent, same requester, same index,
// same size — spliced in: the frame key and the handshake hash in its AD
// are that transfer's, so it does not open here.
TEST_P(LyingRelayTest, AFrameSplicedFromAnotherTransferIsTampered) {
  ASSERT_EQ(get_through_liar("/demo/other.bin", out("other.bin")).exit_code, 0);
  std::map<std::string, std::string> other;
  for (const auto& e : last_stream()) {
    if (e.name == "frame") other[e.id] = e.data;
  }
  ASSERT_EQ(other.size(), 6u);
  on_frames([&](const std::string& id, sse::Event e, const LyingRelay::Emit& emit) {
    if (id == "3") e.data = other["3"];
    emit(e);
  });
  expect_caught(get_through_liar(), 5, "frame 2 failed authentication");
}

// The stream ends early: the relay drops the last frames and the trailer
// and says `end`. Only the trailer proves completeness, so the CLI says the
// file is incomplete (and keeps the verified .part for --resume).
TEST_P(LyingRelayTest, AStreamEndedBeforeTheTrailerIsTruncated) {
  bool ended = false;
  liar->rewrite_events = [&](const std::string&, sse::Event e, const LyingRelay::Emit& emit) {
    if (ended) return;
    if (e.name == "frame" && e.id == "4") {
      ended = true;
      return emit(sse::Event{"end", "4", R"({"frames":3})"});
    }
    emit(e);
  };
  expect_caught(get_through_liar(), 5, "the stream ended before the trailer");
  ASSERT_TRUE(fs::exists(out() + ".part"));
  EXPECT_EQ(fs::file_size(out() + ".part"), 3 * kChunk);
}

// Every data frame, but no trailer: the same (a stream cut at a chunk
// boundary looks complete to anyone who does not wait for the trailer).
TEST_P(LyingRelayTest, AllDataWithoutTheTrailerIsTruncated) {
  liar->rewrite_events = [&](const std::string&, sse::Event e, const LyingRelay::Emit& emit) {
    if (e.name == "frame" && e.id == kTrailerId) return;
    if (e.name == "end") e.data = R"({"frames":5})";
    emit(e);
  };
  expect_caught(get_through_liar(), 5, "the stream ended before the trailer");
  EXPECT_EQ(fs::file_size(out() + ".part"), kFileBytes) << "every byte arrived, yet the file is not final";
}

// A trailer with another count or hash. The relay cannot seal one (it has no
// frame key); what it can do is put a trailer it holds in the trailer's
// place. Both honest versions fail: another transfer's trailer at the right
// index does not authenticate, and the real trailer moved forward over the
// last data frame arrives at the wrong index. (A forged trailer sealed with
// the right key is refused as trailer_mismatch by FrameOpener:
// tests/unit/crypto/frames_test.cpp; below, a stale .part shows the same
// check in the real system.)
TEST_P(LyingRelayTest, AnotherTransfersTrailerIsTampered) {
  ASSERT_EQ(get_through_liar("/demo/other.bin", out("other.bin")).exit_code, 0);
  std::string other_trailer;
  for (const auto& e : last_stream()) {
    if (e.name == "frame" && e.id == kTrailerId) other_trailer = e.data;
  }
  ASSERT_FALSE(other_trailer.empty());
  on_frames([&](const std::string& id, sse::Event e, const LyingRelay::Emit& emit) {
    if (id == kTrailerId) e.data = other_trailer;
    emit(e);
  });
  expect_caught(get_through_liar(), 5, "frame 5 failed authentication");
}

TEST_P(LyingRelayTest, TheTrailerInPlaceOfTheLastDataFrameIsOutOfOrder) {
  on_frames([](const std::string& id, sse::Event e, const LyingRelay::Emit& emit) {
    if (id != "5") emit(e);
  });
  expect_caught(get_through_liar(), 5, "frame 5 arrived where frame 4 was due");
}

// The trailer's hash is checked against every byte of the file, including a
// resumed prefix the requester already held: a .part whose bytes are not the
// agent's (changed on disk, or left by another version of the file) ends in
// trailer_mismatch, and the .part is deleted (it cannot be resumed).
TEST_P(LyingRelayTest, AStalePartFileEndsInATrailerMismatch) {
  std::string part = read_file(src).substr(0, 2 * kChunk);
  part[1000] ^= 0x01;
  std::ofstream(out() + ".part", std::ios::binary) << part;
  auto r = sys->cli({"--url", liar->url(), "get", "--resume", "shop-1:/demo/ledger.bin", "-o", out()});
  EXPECT_EQ(r.exit_code, 5) << r.output;
  EXPECT_NE(r.output.find("trailer's byte count or SHA-256 does not match"), std::string::npos) << r.output;
  EXPECT_FALSE(fs::exists(out()));
  EXPECT_FALSE(fs::exists(out() + ".part"));
}

// A connection that breaks with frames in flight: the relay counted them as
// delivered (the liar read them), the requester never got them. This relay
// keeps no history (--history-frames 0), so the reconnect asks for frames
// it no longer holds and gets `gone`; the CLI goes on by itself with a new
// transfer from its verified .part, and the file is whole.
class LyingRelayNoHistory : public LyingRelayTest {
 protected:
  std::vector<std::string> relay_args() const override { return {"--history-frames", "0"}; }
};

INSTANTIATE_TEST_SUITE_P(Formats, LyingRelayNoHistory, testing::Values(Format::binary, Format::sse),
                         [](const testing::TestParamInfo<Format>& f) {
                           return std::string(f.param == Format::binary ? "Binary" : "Sse");
                         });

TEST_P(LyingRelayNoHistory, FramesLostInACutConnectionAreFetchedAgainByItself) {
  std::atomic<int> streams{0};
  liar->on_stream_open = [&](const std::string&, const LyingRelay::Emit&) { ++streams; };
  liar->rewrite_events = [&](const std::string&, sse::Event e, const LyingRelay::Emit& emit) {
    // The first stream passes the answer and frames 1-2, then loses the rest.
    if (streams.load() == 1 && (e.name == "end" || (e.name == "frame" && std::stoi(e.id) > 2))) return;
    emit(e);
  };
  auto r = get_through_liar();
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("resuming from byte"), std::string::npos) << r.output;
  EXPECT_TRUE(same_file(src, out()));
  EXPECT_FALSE(fs::exists(out() + ".part"));
  EXPECT_GE(liar->transfer_posts(), 2) << "a second transfer fetched the rest";
}

// An event larger than anything the protocol sends (a 3 MiB data line,
// over the SSE parser's 2 MiB limit; in the binary stream a 2.25 MiB record,
// over the reader's 2 MiB): refused before it is buffered, as a malformed
// stream, not retried forever.
TEST_P(LyingRelayTest, AnOversizedEventIsRefusedAsMalformed) {
  on_frames([](const std::string& id, sse::Event e, const LyingRelay::Emit& emit) {
    if (id == "2") e.data = std::string(3u << 20, 'A');
    emit(e);
  });
  expect_caught(get_through_liar(), 5, "malformed");
}

// The directory (a hint) advertises another key for the pinned agent: the
// CLI refuses before it sends anything (exit 5), and the relay never gets a
// message 1 to play with.
TEST_P(LyingRelayTest, ADirectoryAdvertisingAnotherKeyForAPinnedAgentIsRefused) {
  Identity impostor = generate_identity();
  liar->rewrite_agents = [&](json& dir) {
    for (auto& a : dir["agents"]) {
      if (a["id"] == "shop-1") a["public_key"] = encode_public_key(impostor.public_key);
    }
  };
  auto r = get_through_liar();
  expect_caught(r, 5, "HAS CHANGED");
  EXPECT_NE(r.output.find(fingerprint_of(impostor.public_key)), std::string::npos) << r.output;
  EXPECT_EQ(liar->transfer_posts(), 0) << "nothing may be requested from an agent whose key changed";
}

// The directory is a hint, never an authority: with the pin in place, a
// relay that hides the agent's key (or lists nothing) cannot stop a
// transfer, and cannot steer it to another key.
TEST_P(LyingRelayTest, ADirectoryWithoutTheKeyDoesNotMatterOnceAgentIsPinned) {
  liar->rewrite_agents = [](json& dir) { dir["agents"] = json::array(); };
  auto r = get_through_liar();
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(same_file(src, out()));
}

// A relay that sends the transfer to another agent (here a real, honest
// agent with its own key that trusts this requester): that agent cannot
// read a message 1 made for the pinned key, and says so.
TEST_P(LyingRelayTest, AMessage1RoutedToAnotherAgentCannotBeRead) {
  ASSERT_TRUE(sys->start_agent_online("shop-2").ok());
  liar->rewrite_create = [](json& create) { create["agent"] = "shop-2"; };
  auto r = get_through_liar();
  expect_caught(r, 5, "not addressed to this agent's key");
  EXPECT_TRUE(wait_until([&] { return read_file(sys->dir() + "/agent-shop-2.log").find("result=handshake_failed") !=
                                      std::string::npos; },
                         10s))
      << read_file(sys->dir() + "/agent-shop-2.log");
}

// A message 1 the relay stored, sent again as a new transfer: the agent's
// replay guard refuses it (docs/protocol.md §5). Shown twice: with the real
// CLI's message 1 (the agent logs the refusal; the relay gets no frame of
// content, only a message 2 it cannot read), and with a message 1 this test
// made as an authorized requester with a fixed ephemeral key, so it can
// read the agent's second answer: a refusal, `replayed`, inside message 2.
TEST_P(LyingRelayTest, AReplayedMessage1IsRefusedByTheAgent) {
  auto first = get_through_liar();
  ASSERT_EQ(first.exit_code, 0) << first.output;
  auto created = liar->created();
  ASSERT_EQ(created.size(), 1u);
  auto agent_log = [&] { return read_file(sys->dir() + "/agent-shop-1.log"); };
  size_t replayed_before = 0;
  for (size_t at = 0; (at = agent_log().find("result=replayed", at)) != std::string::npos; ++at) ++replayed_before;

  // The relay operator replays the CLI's message 1 with the token it saw.
  httplib::Client relay("127.0.0.1", sys->port());
  httplib::Headers auth = {{"Authorization", "Bearer " + created[0].token}};
  auto post = relay.Post("/v1/transfers", auth, json{{"agent", "shop-1"}, {"msg1", created[0].msg1}}.dump(),
                         "application/json");
  ASSERT_TRUE(post);
  ASSERT_EQ(post->status, 201) << post->body;
  std::string tid = json::parse(post->body)["transfer_id"];
  EXPECT_TRUE(wait_until([&] { return agent_log().find("result=replayed") != std::string::npos; }, 10s))
      << agent_log();
  // What the relay gets for its trouble: an answer it cannot read and no
  // content frame. (The refusal's frames, if any, are at most the end.)
  std::string events;
  EXPECT_TRUE(wait_until(
      [&] {
        auto r = relay.Get(("/v1/transfers/" + tid).c_str(), auth);
        if (!r || r->status != 200) return false;
        auto j = json::parse(r->body);
        events = r->body;
        return j["state"] != "requested" && j["state"] != "answered";
      },
      10s))
      << events;
  EXPECT_EQ(json::parse(events)["bytes"].get<uint64_t>(), 0u) << events;
  EXPECT_EQ(json::parse(events)["frames"].get<uint64_t>(), 0u) << events;

  // The same, readable: an authorized requester's message 1 with a fixed
  // ephemeral key, sent twice. The first is served, the second refused.
  auto me = load_identity(sys->cli_home() + "/identity.key");
  ASSERT_TRUE(me.ok());
  auto agent_key = load_identity(sys->agent_state("shop-1") + "/identity.key");
  ASSERT_TRUE(agent_key.ok());
  Identity eph = generate_identity();
  Request req;
  req.op = Op::kStat;
  req.path = "/demo/ledger.bin";
  req.timestamp_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                         std::chrono::system_clock::now().time_since_epoch()).count();
  const std::string payload = encode_request(req);
  auto answer_to = [&](const std::string& msg1_b64) -> Result<Answer> {
    auto p = relay.Post("/v1/transfers", auth, json{{"agent", "shop-1"}, {"msg1", msg1_b64}}.dump(),
                        "application/json");
    if (!p || p->status != 201) return make_error("test", "create failed");
    std::string t = json::parse(p->body)["transfer_id"];
    std::string msg2;
    relay.set_read_timeout(10);
    (void)relay.Get(("/v1/transfers/" + t + "/events").c_str(), auth, [&](const char* d, size_t n) {
      std::string chunk(d, n);
      std::smatch m;
      if (std::regex_search(chunk, m, std::regex("event: answer\nid: 0\ndata: (\\S+)\n"))) msg2 = m[1];
      return msg2.empty();
    });
    std::vector<uint8_t> bytes;
    if (!base64::decode_into(msg2, bytes)) return make_error("test", "no answer");
    auto hs = InitiatorHandshake::start_for_test(*me, agent_key->public_key, bytes_of(payload), &eph);
    auto done = hs->finish(bytes);
    if (!done) return done.error();
    return decode_answer(done->payload);
  };
  auto hs = InitiatorHandshake::start_for_test(*me, agent_key->public_key, bytes_of(payload), &eph);
  ASSERT_TRUE(hs.ok());
  const std::string msg1 = base64::encode(hs->message1());
  auto served = answer_to(msg1);
  ASSERT_TRUE(served.ok()) << served.error().message;
  EXPECT_TRUE(served->ok) << served->error;
  auto replayed = answer_to(msg1);
  ASSERT_TRUE(replayed.ok()) << replayed.error().message;
  EXPECT_FALSE(replayed->ok);
  EXPECT_EQ(replayed->error, "replayed");
}

// A transfer id of the form the relay makes (base/ids.h), numbered.
std::string flood_tid(int i) {
  char hex[33];
  std::snprintf(hex, sizeof hex, "f%031x", i);
  return std::string("t_") + hex;
}

size_t count_in(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = 0; (at = text.find(what, at)) != std::string::npos; ++at) ++n;
  return n;
}

// What the agent logs for a transfer request it drops at capacity.
constexpr const char* kDropped = "dropped: the agent is at capacity";

// The number of threads of process `pid` (/proc/PID/status, Threads:).
int threads_of(pid_t pid) {
  std::smatch m;
  std::string status = read_file("/proc/" + std::to_string(pid) + "/status");
  return std::regex_search(status, m, std::regex("Threads:\\s+(\\d+)")) ? std::stoi(m[1]) : -1;
}

// A relay that lies to the agent: its control stream carries hostile
// "requests" — not JSON, wrong types, bad base64, empty and oversized
// message 1s, message 1s not addressed to it, cancels for transfers it never
// had, unknown events, a flood of hundreds of requests, and finally an
// event too large for the parser. The agent survives all of it (no crash,
// no thread or memory blow-up), answers nothing in clear, and goes on
// serving the real transfer that follows.
TEST(LyingRelayToTheAgent, HostileControlEventsLeaveTheAgentServing) {
  START_DEPLOYMENT(c, {.redis = true});
  // The agent's 300 refusals and the CLI come from one loopback address, and
  // the refusals and the real answer from one agent token: bursts that hold
  // them all, so neither limit (tested on their own in HostileInput) can
  // answer 429 to the real transfer when it comes soon after the refusals
  // (it did in CI: "the agent did not answer in time").
  ASSERT_TRUE(c.start_relay("a", {"--burst-per-ip", "1000", "--burst-per-token", "1000"}).ok());
  LyingRelay liar(c.port("a"));
  std::atomic<int> opened{0};
  liar.on_stream_open = [&](const std::string& path, const LyingRelay::Emit& emit) {
    if (path != "/v1/agent/control" || opened++ > 0) return;  // the first control stream only
    auto transfer = [&](const std::string& data) { emit(sse::Event{"transfer", "", data}); };
    transfer("not json at all");
    transfer("[1,2,3]");
    transfer(R"({"transfer_id":17,"msg1":"bTE="})");
    transfer(R"({"transfer_id":"t_a","msg1":"%%%"})");
    transfer(R"({"transfer_id":"t_b","msg1":""})");
    transfer(json{{"transfer_id", "t_c"}, {"msg1", base64::encode(std::string(70000, 'x'))}}.dump());
    transfer(R"({"transfer_id":"t_d"})");
    emit(sse::Event{"cancel", "", R"({"transfer_id":"t_never"})"});
    emit(sse::Event{"something-new", "", R"({"hello":1})"});
    for (int i = 0; i < 300; ++i) {  // message 1s not addressed to this agent (random bytes)
      std::vector<uint8_t> junk(96 + i % 64);
      randombytes_buf(junk.data(), junk.size());
      transfer(json{{"transfer_id", flood_tid(i)}, {"msg1", base64::encode(junk)}}.dump());
    }
    emit(sse::Event{"transfer", "", std::string(3u << 20, 'z')});  // over the parser's 2 MiB line limit
  };
  ASSERT_TRUE(c.start_agent("shop-1", liar.url()).ok());
  ASSERT_TRUE(c.agent_online(c.url("a"), "shop-1"));
  const std::string log_path = c.dir() + "/agent-shop-1.log";
  // The agent reads the whole hostile stream: the oversized event breaks it,
  // and it reconnects (to a stream that is honest this time).
  ASSERT_TRUE(wait_until([&] { return opened.load() >= 2; }, 60s)) << read_file(log_path);
  EXPECT_TRUE(c.agent("shop-1").running()) << read_file(log_path);
  // Each junk message 1 was tried and refused (none could be read), or
  // dropped when every thread the agent allows was taken.
  auto count = [&](const std::string& what) { return count_in(read_file(log_path), what); };
  auto handled = [&] { return count("result=handshake_failed") + count(kDropped); };
  EXPECT_TRUE(wait_until([&] { return handled() >= 300; }, 60s))
      << handled() << "\n" << read_file(log_path).substr(0, 4000);
  EXPECT_GE(count("ignoring"), 4u) << read_file(log_path).substr(0, 4000);
  // It keeps serving: a real transfer, the CLI straight to the relay.
  ASSERT_TRUE(c.agent_online(c.url("a"), "shop-1"));
  write_random_file(c.share("shop-1") + "/f.bin", 3 * kChunk + 5, 81);
  const std::string url = c.url("a");
  auto r = c.cli(url, {"get", "shop-1:/demo/f.bin", "-o", c.dir() + "/f.bin"});
  ASSERT_EQ(r.exit_code, 0) << r.output << read_file(log_path);
  EXPECT_TRUE(same_file(c.share("shop-1") + "/f.bin", c.dir() + "/f.bin"));
  EXPECT_TRUE(c.agent("shop-1").running());
}

// The relay's replies to the agent's upload, wrong-typed or impossible
// (issue 15): nlohmann's value() threw out of the transfer thread on a
// wrong type and ended the agent. Each now fails its transfer, saying why,
// and the agent goes on serving.
TEST(LyingRelayToTheAgent, WrongTypedUploadRepliesFailTheTransferAndLeaveTheAgentServing) {
  START_DEPLOYMENT(c, {.redis = true});
  ASSERT_TRUE(c.start_relay("a").ok());
  LyingRelay liar(c.port("a"));
  struct Case {
    const char* name;
    LyingRelay::Reply frames, status;  // the replies to the frame upload and to the status call
    const char* says;
  };
  const LyingRelay::Reply cut{502, R"({"error":"network","message":"cut"})"};
  const std::vector<Case> cases{
      {"next_frame a string", cut, {200, R"({"state":"uploading","next_frame":"7"})"},
       "has a next_frame that is not a non-negative integer"},
      {"next_frame negative", cut, {200, R"({"state":"uploading","next_frame":-1})"},
       "has a next_frame that is not a non-negative integer"},
      {"state a number", cut, {200, R"({"state":5,"next_frame":0})"}, "has a state that is not a string"},
      {"cancelled a string", cut, {200, R"({"state":"uploading","cancelled":"no"})"},
       "has a cancelled that is not true or false"},
      {"status an array", cut, {200, R"([1,2,3])"}, "upload status is not a JSON object"},
      {"upload reply an array", {200, "[]"}, {}, "reply to the frame upload is not a JSON object"},
      {"complete a string", {200, R"({"complete":"yes"})"}, {}, "has a complete that is not true or false"},
      {"next_frame never sent", cut, {200, R"({"state":"uploading","next_frame":1000})"},
       "holds 1000 frames of this upload, but the agent sealed only"},
  };
  std::atomic<size_t> now{0};
  liar.answer_agent_call = [&](const std::string& method, const std::string& path) -> std::optional<LyingRelay::Reply> {
    if (now.load() >= cases.size()) return std::nullopt;  // honest again
    const Case& k = cases[now.load()];
    if (method == "POST" && path.ends_with("/frames")) return k.frames;
    if (method == "GET") return k.status;
    return std::nullopt;
  };
  ASSERT_TRUE(c.start_agent("shop-1", liar.url()).ok());
  ASSERT_TRUE(c.agent_online(c.url("a"), "shop-1"));
  const std::string log_path = c.dir() + "/agent-shop-1.log";
  write_random_file(c.share("shop-1") + "/f.bin", 3 * kChunk + 5, 82);
  const std::string url = c.url("a");
  for (size_t i = 0; i < cases.size(); ++i) {
    now = i;
    auto cli = c.cli_background(url, {"get", "shop-1:/demo/f.bin", "-o", c.dir() + "/f" + std::to_string(i)},
                                "cli-" + std::to_string(i) + ".log");
    ASSERT_TRUE(cli);
    EXPECT_TRUE(wait_until([&] { return count_in(read_file(log_path), "result=bad_relay_reply") > i; }, 60s))
        << cases[i].name << "\n" << read_file(log_path);
    EXPECT_NE(read_file(log_path).find(cases[i].says), std::string::npos) << cases[i].name << "\n"
                                                                            << read_file(log_path);
    ASSERT_TRUE(c.agent("shop-1").running()) << cases[i].name << "\n" << read_file(log_path);
  }
  now = cases.size();
  auto r = c.cli(url, {"get", "shop-1:/demo/f.bin", "-o", c.dir() + "/f.bin"});
  ASSERT_EQ(r.exit_code, 0) << r.output << read_file(log_path);
  EXPECT_TRUE(same_file(c.share("shop-1") + "/f.bin", c.dir() + "/f.bin"));
}

// A relay that keeps sending the upload back to an earlier frame made the
// agent re-read and re-hash the file up to there every time, for ever
// (issue 15). It is served a few times, then the transfer fails, saying why.
TEST(LyingRelayToTheAgent, ARelayThatKeepsRewindingTheUploadIsGivenUpOn) {
  START_DEPLOYMENT(c, {.redis = true});
  ASSERT_TRUE(c.start_relay("a").ok());
  LyingRelay liar(c.port("a"));
  std::atomic<int> statuses{0};
  liar.answer_agent_call = [&](const std::string& method, const std::string& path) -> std::optional<LyingRelay::Reply> {
    if (method == "POST" && path.ends_with("/frames")) return LyingRelay::Reply{502, R"({"error":"network"})"};
    if (method != "GET") return std::nullopt;
    int n = statuses++;  // "I hold 2 frames", "I hold none", "I hold 2", ...
    return LyingRelay::Reply{200, json{{"state", "uploading"}, {"next_frame", n % 2 == 0 ? 2 : 0}}.dump()};
  };
  ASSERT_TRUE(c.start_agent("shop-1", liar.url()).ok());
  ASSERT_TRUE(c.agent_online(c.url("a"), "shop-1"));
  const std::string log_path = c.dir() + "/agent-shop-1.log";
  write_random_file(c.share("shop-1") + "/f.bin", 3 * kChunk + 5, 83);
  const std::string url = c.url("a");
  auto cli = c.cli_background(url, {"get", "shop-1:/demo/f.bin", "-o", c.dir() + "/f.bin"}, "cli.log");
  ASSERT_TRUE(cli);
  EXPECT_TRUE(wait_until([&] { return read_file(log_path).find("result=bad_relay_reply") != std::string::npos; },
                         60s))
      << statuses.load() << "\n" << read_file(log_path);
  EXPECT_NE(read_file(log_path).find("back to an earlier frame more than 3 times"), std::string::npos)
      << read_file(log_path);
  // Three rewinds were served, the fourth refused: 8 status calls.
  EXPECT_EQ(statuses.load(), 8) << read_file(log_path);
  EXPECT_TRUE(c.agent("shop-1").running());
}

// The bytes process `pid` has read so far (rchar of /proc/PID/io: files and
// pipes alike), or nullopt if the file cannot be read here.
std::optional<uint64_t> bytes_read_by(pid_t pid) {
  std::smatch m;
  std::string io = read_file("/proc/" + std::to_string(pid) + "/io");
  if (!std::regex_search(io, m, std::regex("rchar:\\s+(\\d+)"))) return std::nullopt;
  return std::stoull(m[1]);
}

// A relay that takes one more frame of the upload before cutting each
// attempt made the agent read and hash the whole prefix again every time:
// work growing with the square of the file's frames (issue 15). Now the
// content hash outlives the attempt, so the agent reads only the frames it
// sends again (the relay asked for them) and nothing before them. The
// relay here answers every frame upload with a cut and then claims one
// frame more than before — up to all data frames, then (trailer lost)
// complete — and the agent's reads are counted in bytes, not timed.
TEST(LyingRelayToTheAgent, AnUploadCutAfterEveryFrameReadsOnlyWhatItSendsAgain) {
  START_DEPLOYMENT(c, {.redis = true});
  ASSERT_TRUE(c.start_relay("a").ok());
  LyingRelay liar(c.port("a"));
  // 64 data frames, the last one short, and the trailer.
  constexpr uint64_t kSmallChunk = protocol::kMinChunkBytes, kFrames = 64, kSize = (kFrames - 1) * kSmallChunk + 100;
  std::atomic<uint64_t> statuses{0};
  liar.answer_agent_call = [&](const std::string& method, const std::string& path) -> std::optional<LyingRelay::Reply> {
    if (method == "POST" && path.ends_with("/frames")) return LyingRelay::Reply{502, R"({"error":"network"})"};
    if (method != "GET") return std::nullopt;
    uint64_t held = ++statuses;  // "I hold 1 frame", "2 frames", ... "all 64 data frames", then done
    if (held > kFrames) return LyingRelay::Reply{200, R"({"state":"complete"})"};
    return LyingRelay::Reply{200, json{{"state", "uploading"}, {"next_frame", held}}.dump()};
  };
  ASSERT_TRUE(c.start_agent("shop-1", liar.url(), {"--chunk-size", std::to_string(kSmallChunk)}).ok());
  ASSERT_TRUE(c.agent_online(c.url("a"), "shop-1"));
  const std::string log_path = c.dir() + "/agent-shop-1.log";
  write_random_file(c.share("shop-1") + "/f.bin", kSize, 85);
  const pid_t pid = c.agent("shop-1").pid();
  auto before = bytes_read_by(pid);
  if (!before) GTEST_SKIP() << "/proc/" << pid << "/io cannot be read here: the agent's reads cannot be counted";
  const std::string url = c.url("a");
  auto cli = c.cli_background(url, {"get", "shop-1:/demo/f.bin", "-o", c.dir() + "/f.bin"}, "cli.log");
  ASSERT_TRUE(cli);
  std::string log;
  std::smatch m;
  const std::regex done("op=get [^\\n]*bytes=(\\d+)[^\\n]*result=(\\S+)");
  ASSERT_TRUE(wait_until([&] {
    log = read_file(log_path);
    return std::regex_search(log, m, done);
  }, 120s)) << statuses.load() << "\n" << log;
  auto after = bytes_read_by(pid);
  ASSERT_TRUE(after);
  ASSERT_EQ(m[2].str(), "ok") << m[0].str();
  const uint64_t sent = std::stoull(m[1]);  // every data byte of every attempt, re-sent ones included
  EXPECT_EQ(statuses.load(), kFrames + 1);
  uint64_t resent = 0;  // attempt k sends frames k..63, attempt 64 the trailer alone
  for (uint64_t k = 0; k < kFrames; ++k) resent += kSize - k * kSmallChunk;
  EXPECT_EQ(sent, resent);
  RecordProperty("agent_bytes_read", std::to_string(*after - *before));
  RecordProperty("agent_bytes_sent", std::to_string(sent));
  // What it sent, plus less than one file's worth of other reads (its own
  // files, pipes). Re-reading the prefix each attempt is ~32 files more.
  EXPECT_LT(*after - *before, sent + kSize) << "the agent read " << *after - *before << " bytes to send " << sent
                                            << " bytes of a " << kSize << "-byte file";
  EXPECT_TRUE(c.agent("shop-1").running());
}

// A flood of transfer requests beyond the agent's capacity, each of which
// would hold its thread (the relay does not answer the agent's calls about
// them): every event used to start a thread. Now the agent runs at most
// --max-transfers plus two `busy` threads, drops the rest (counted, logged)
// and serves again once the flood is over.
TEST(LyingRelayToTheAgent, AFloodOfTransferEventsBeyondCapacityKeepsTheAgentsThreadsBounded) {
  START_DEPLOYMENT(c, {.redis = true});
  ASSERT_TRUE(c.start_relay("a").ok());
  LyingRelay liar(c.port("a"));
  constexpr int kFlood = 200;
  constexpr int kMaxTransfers = 2, kMaxRefusing = 2;  // the agent's --max-transfers, its busy threads
  std::atomic<bool> opened{false};
  liar.on_stream_open = [&](const std::string& path, const LyingRelay::Emit& emit) {
    if (path != "/v1/agent/control" || opened.exchange(true)) return;
    for (int i = 0; i < kFlood; ++i) {
      std::vector<uint8_t> junk(96);
      randombytes_buf(junk.data(), junk.size());
      emit(sse::Event{"transfer", "", json{{"transfer_id", flood_tid(i)}, {"msg1", base64::encode(junk)}}.dump()});
    }
  };
  std::mutex mu;
  std::condition_variable cv;
  bool released = false;
  liar.answer_agent_call = [&](const std::string&, const std::string& path) -> std::optional<LyingRelay::Reply> {
    if (path.find("/t_f") == std::string::npos) return std::nullopt;
    std::unique_lock lk(mu);  // hold the agent's call about a flood transfer until the test is done
    cv.wait_for(lk, 120s, [&] { return released; });
    return std::nullopt;
  };
  auto release = [&] {
    std::lock_guard lk(mu);
    released = true;
    cv.notify_all();
  };
  ASSERT_TRUE(c.start_agent("shop-1", liar.url(), {"--max-transfers", std::to_string(kMaxTransfers)}).ok());
  const pid_t pid = c.agent("shop-1").pid();
  const std::string log_path = c.dir() + "/agent-shop-1.log";
  int most = 0;
  bool all_seen = wait_until(
      [&] {
        most = std::max(most, threads_of(pid));
        return count_in(read_file(log_path), kDropped) >= size_t{kFlood - kMaxTransfers - kMaxRefusing};
      },
      60s, 10ms);
  most = std::max(most, threads_of(pid));
  release();
  RecordProperty("agent_threads_max", most);
  EXPECT_TRUE(all_seen) << count_in(read_file(log_path), kDropped) << " dropped; threads up to " << most << "\n"
                        << read_file(log_path).substr(0, 3000);
  // The agent's own threads (main, signal watcher; a few more allowed) plus
  // the transfer threads it may run: nowhere near one per event.
  EXPECT_LE(most, 6 + kMaxTransfers + kMaxRefusing) << "threads of the agent during the flood";
  EXPECT_NE(read_file(log_path).find("dropped_total=" + std::to_string(kFlood - kMaxTransfers - kMaxRefusing)),
            std::string::npos);
  // It keeps serving.
  ASSERT_TRUE(c.agent_online(c.url("a"), "shop-1"));
  write_random_file(c.share("shop-1") + "/f.bin", kChunk + 5, 84);
  auto r = c.cli(c.url("a"), {"get", "shop-1:/demo/f.bin", "-o", c.dir() + "/f.bin"});
  ASSERT_EQ(r.exit_code, 0) << r.output << read_file(log_path);
  EXPECT_TRUE(c.agent("shop-1").running());
}

}  // namespace
}  // namespace sealrelay::test
