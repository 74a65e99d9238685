// Relays on a shared Redis: two nodes serving one transfer, a node killed
// with SIGKILL mid-transfer, memory bounded by the window, keys expiring.
#include <gtest/gtest.h>

#include <atomic>
#include <sstream>

#include "tests/integration/relay/harness.h"

namespace sealrelay::test {
namespace {

class RelayRedis : public ::testing::Test {
 protected:
  void SetUp() override {
    auto r = RedisServer::start(dir.path());
    if (!r) {
      if (r.error().code == "redis_absent") GTEST_SKIP() << r.error().message;
      FAIL() << r.error().message;
    }
    redis = std::move(*r);
    agent_token = Relay::token(dir.path(), {"add-agent", "shop-1"});
    req_token = Relay::token(dir.path(), {"add-requester", "ops", "--agents", "*"});
  }
  std::unique_ptr<Relay> node(const std::string& name, std::vector<std::string> extra = {}) {
    extra.insert(extra.begin(), {"--redis", redis->url()});
    return Relay::start(dir.path(), extra, name);
  }
  Agent agent_on(Relay& r) {
    Agent a;
    a.port = r.port();
    a.token = agent_token;
    a.id = "shop-1";
    return a;
  }
  std::string create(Relay& r) {
    auto c = call(r.port(), "POST", "/v1/transfers", req_token, {{"agent", "shop-1"}, {"msg1", b64("m1")}});
    EXPECT_EQ(c.status, 201) << c.raw;
    return c.body.value("transfer_id", "");
  }
  std::unique_ptr<SseReader> events(Relay& r, const std::string& tid, const std::string& last = "") {
    httplib::Headers h = {{"Authorization", "Bearer " + req_token}};
    if (!last.empty()) h.emplace("Last-Event-ID", last);
    return std::make_unique<SseReader>(r.port(), "/v1/transfers/" + tid + "/events", h);
  }
  static void expect_frames(const std::vector<sse::Event>& got, const std::vector<std::string>& frames,
                            size_t first_event_frame) {
    size_t i = first_event_frame;
    for (auto& e : got) {
      if (e.name != "frame") continue;
      ASSERT_EQ(e.id, std::to_string(i + 1));
      ASSERT_EQ(unb64(e.data), frames[i]) << "frame " << i;
      ++i;
    }
  }
  long redis_int(const std::vector<std::string>& cmd) {
    auto r = redis->command(cmd);
    return r ? std::stol(*r) : -1;
  }

  TempDir dir;
  std::unique_ptr<RedisServer> redis;
  std::string agent_token, req_token;
};

TEST_F(RelayRedis, AnAgentOnOneNodeServesARequesterOnAnother) {
  auto a = node("a"), b = node("b");
  ASSERT_TRUE(a && b);
  Agent agent = agent_on(*a);
  agent.connect();
  auto list = call(b->port(), "GET", "/v1/agents", req_token);
  ASSERT_EQ(list.body["agents"].size(), 1u);
  EXPECT_EQ(list.body["agents"][0]["online"], true);
  EXPECT_EQ(list.body["agents"][0]["public_key"], agent.key);

  std::string tid = create(*b);
  ASSERT_TRUE(agent.control->wait_count(1)) << "the request created on b reaches the agent on a";
  EXPECT_EQ(json::parse(agent.control->events()[0].data)["transfer_id"], tid);
  auto stream = events(*b, tid);
  ASSERT_EQ(agent.answer(tid, "m2").status, 200);
  auto frames = test_frames(30, 200000);
  auto up = agent.upload(tid, 0, frames, true);
  ASSERT_EQ(up.status, 200) << up.raw;
  ASSERT_TRUE(stream->wait_closed(20s));
  auto got = stream->events();
  ASSERT_EQ(got.size(), frames.size() + 2);
  EXPECT_EQ(unb64(got[0].data), "m2");
  expect_frames(got, frames, 0);
  EXPECT_EQ(got.back().name, "end");
  // Cancel on b reaches the agent on a.
  std::string t2 = create(*b);
  ASSERT_EQ(call(b->port(), "DELETE", "/v1/transfers/" + t2, req_token).status, 200);
  ASSERT_TRUE(agent.control->wait([](auto& ev) { return ev.size() >= 3 && ev[2].name == "cancel"; }));
}

// A node hands the frames it commits to its own streams without reading them
// back from Redis, and leaves such a transfer out of its Redis reader while
// it does. When the upload moves to another node, the stream on the first
// node must go on from Redis: every frame once, in order, then the end.
TEST_F(RelayRedis, AStreamGoesOnWhenTheUploadMovesToAnotherNode) {
  auto a = node("a"), b = node("b");
  ASSERT_TRUE(a && b);
  Agent on_a = agent_on(*a), on_b = agent_on(*b);
  on_a.connect();
  std::string tid = create(*a);
  ASSERT_EQ(on_a.answer(tid, "m2").status, 200);
  auto stream = events(*a, tid);
  auto frames = test_frames(12, 100000);
  std::vector<std::string> first(frames.begin(), frames.begin() + 6), rest(frames.begin() + 6, frames.end());
  ASSERT_EQ(on_a.upload(tid, 0, first, false).status, 200);
  ASSERT_TRUE(stream->wait([](auto& ev) { return ev.size() >= 7; })) << "answer and 6 frames, from node a itself";
  ASSERT_EQ(on_b.upload(tid, 6, rest, true).status, 200);
  ASSERT_TRUE(stream->wait_closed(20s)) << "the frames node b committed reach the stream on node a";
  auto got = stream->events();
  ASSERT_EQ(got.size(), frames.size() + 2);
  EXPECT_EQ(unb64(got[0].data), "m2");
  expect_frames(got, frames, 0);
  EXPECT_EQ(got.back().name, "end");
}

TEST_F(RelayRedis, ARequesterResumesOnAnotherNodeAfterItsNodeIsKilled) {
  auto a = node("a", {"--window-frames", "4"}), b = node("b", {"--window-frames", "4"});
  ASSERT_TRUE(a && b);
  Agent agent = agent_on(*a);
  agent.connect();
  std::string tid = create(*a);
  ASSERT_EQ(agent.answer(tid, "m2").status, 200);
  auto frames = test_frames(40, 50000);
  // The transfer must still be going when b dies: the last frames are
  // uploaded only after the kill. (Uploading all at once, a loaded machine
  // could let b's stream reach the end event before the kill, and the
  // resumed stream then rightly had nothing to send.)
  std::vector<std::string> first(frames.begin(), frames.begin() + 12), rest(frames.begin() + 12, frames.end());
  auto stream = events(*b, tid);
  Reply up_first, up;
  std::thread uploader([&] { up_first = agent.upload(tid, 0, first, false); });
  ASSERT_TRUE(stream->wait([](auto& ev) { return ev.size() >= 10; }));
  uploader.join();
  ASSERT_EQ(up_first.status, 200) << up_first.raw;
  b->process().kill(SIGKILL);
  ASSERT_TRUE(b->process().wait_exit(5s));
  ASSERT_TRUE(stream->wait_closed());
  auto before = stream->events();
  std::string last = before.back().id;
  uploader = std::thread([&] { up = agent.upload(tid, first.size(), rest, true); });
  auto resumed = events(*a, tid, last);
  bool closed = resumed->wait_closed(20s);
  uploader.join();
  ASSERT_TRUE(closed);
  EXPECT_EQ(up.status, 200) << up.raw;
  auto after = resumed->events();
  ASSERT_FALSE(after.empty()) << "resumed after " << last << ": status " << resumed->status() << ", "
                              << resumed->raw();
  EXPECT_EQ(after.front().id, std::to_string(std::stoi(last) + 1)) << "nothing lost, nothing repeated";
  expect_frames(after, frames, std::stoul(last));
  EXPECT_EQ(after.back().name, "end");
}

TEST_F(RelayRedis, AnUploadResumesOnAnotherNodeAfterItsNodeIsKilled) {
  auto a = node("a", {"--window-frames", "4"}), b = node("b", {"--window-frames", "4"});
  ASSERT_TRUE(a && b);
  Agent agent = agent_on(*a);
  agent.connect();
  std::string tid = create(*b);
  ASSERT_EQ(agent.answer(tid, "m2").status, 200);
  // 20 MiB: far more than loopback socket buffers hold, so the upload is
  // still in flight when its node dies.
  std::vector<std::string> frames;
  for (int i = 0; i < 80; ++i) frames.push_back(random_bytes(256 << 10));
  auto stream = events(*b, tid);
  std::atomic<bool> slow{true};
  stream->on_chunk = [&] {
    if (slow) std::this_thread::sleep_for(2ms);  // a slow reader keeps the upload in flight
  };
  std::thread uploader([&] { (void)agent.upload(tid, 0, frames, true); });
  ASSERT_TRUE(stream->wait([](auto& ev) { return ev.size() >= 6; }, 20s));
  a->process().kill(SIGKILL);
  ASSERT_TRUE(a->process().wait_exit(5s));
  uploader.join();  // the upload broke with its node
  slow = false;
  // The agent moves to b: status tells where to resume.
  Agent moved = agent_on(*b);
  moved.key = agent.key;
  moved.connect();
  auto st = call(b->port(), "GET", "/v1/agent/transfers/" + tid, agent_token);
  ASSERT_EQ(st.status, 200);
  uint64_t next = st.body["next_frame"];
  ASSERT_LT(next, frames.size());
  std::vector<std::string> rest(frames.begin() + static_cast<long>(next), frames.end());
  auto up = moved.upload(tid, next, rest, true);
  ASSERT_EQ(up.status, 200) << up.raw;
  ASSERT_TRUE(stream->wait_closed(20s));
  auto got = stream->events();
  ASSERT_EQ(got.size(), frames.size() + 2);
  expect_frames(got, frames, 0);
  EXPECT_EQ(got.back().name, "end");
}

TEST_F(RelayRedis, BackpressureKeepsRedisMemoryWithinTheWindowWhileASlowReaderReads) {
  auto a = node("a", {"--window-frames", "4", "--history-frames", "2"});
  ASSERT_TRUE(a);
  Agent agent = agent_on(*a);
  agent.connect();
  std::string tid = create(*a);
  ASSERT_EQ(agent.answer(tid, "m2").status, 200);
  const size_t frame_size = 128 << 10;
  std::vector<std::string> frames;
  for (int i = 0; i < 80; ++i) frames.push_back(random_bytes(frame_size));  // 10 MiB, 13.6 MB as SSE
  long baseline = 0;
  auto info = [&] {
    auto r = redis->command({"INFO", "memory"});
    if (!r) return 0L;
    auto at = r->find("used_memory:");
    return at == std::string::npos ? 0L : std::stol(r->substr(at + 12));
  };
  baseline = info();
  std::atomic<bool> done{false};
  long max_len = 0, max_mem = 0;
  std::thread sampler([&] {
    while (!done) {
      max_len = std::max(max_len, redis_int({"XLEN", "sr:{t:" + tid + "}:ev"}));
      max_mem = std::max(max_mem, info());
      std::this_thread::sleep_for(10ms);
    }
  });
  auto stream = events(*a, tid);
  stream->on_chunk = [] { std::this_thread::sleep_for(1ms); };
  auto up = agent.upload(tid, 0, frames, true);
  ASSERT_TRUE(stream->wait_closed(60s));
  done = true;
  sampler.join();
  EXPECT_EQ(up.status, 200);
  EXPECT_EQ(stream->events().size(), frames.size() + 2);
  // answer + window + history + one batch in flight + end
  EXPECT_LE(max_len, 4 + 2 + 1 + 2);
  long held = max_mem - baseline;
  EXPECT_LT(held, 4L << 20) << "the whole transfer is 13.6 MB; the window is ~1 MB";
  RecordProperty("redis_peak_bytes_over_baseline", std::to_string(held));
}

TEST_F(RelayRedis, EveryKeyHasATtlAndAnAbandonedTransferDisappears) {
  auto a = node("a", {"--transfer-ttl-seconds", "1"});
  ASSERT_TRUE(a);
  Agent agent = agent_on(*a);
  agent.connect();
  std::string tid = create(*a);
  ASSERT_EQ(agent.answer(tid, "m2").status, 200);
  ASSERT_EQ(agent.upload(tid, 0, {"a", "b"}, false).status, 200);
  auto keys = redis->command({"KEYS", "sr:*"});
  ASSERT_TRUE(keys);
  std::stringstream lines(*keys);
  std::string key;
  int n = 0;
  while (std::getline(lines, key)) {
    ++n;
    EXPECT_GT(redis_int({"PTTL", key}), 0) << key << " has no TTL";
  }
  EXPECT_GE(n, 7);
  EXPECT_TRUE(wait_until([&] {
    auto k = redis->command({"KEYS", "sr:{t:*"});
    return k && k->empty();
  }, 10s)) << "transfer keys expire by themselves";
  auto st = call(a->port(), "GET", "/v1/transfers/" + tid, req_token);
  EXPECT_EQ(st.status, 404);
  EXPECT_EQ(st.body["error"], "unknown_transfer");
}

TEST_F(RelayRedis, WithRedisGoneTheRelaySaysStoreUnavailableAndRecovers) {
  auto a = node("a");
  ASSERT_TRUE(a);
  EXPECT_EQ(call(a->port(), "GET", "/readyz", "").status, 200);
  redis->process().kill(SIGKILL);
  ASSERT_TRUE(redis->process().wait_exit(5s));
  auto r = call(a->port(), "GET", "/readyz", "");
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(r.body["error"], "store_unavailable");
  auto c = call(a->port(), "GET", "/v1/agents", req_token);
  EXPECT_EQ(c.status, 503);
  EXPECT_EQ(c.body["error"], "store_unavailable");
  EXPECT_EQ(call(a->port(), "GET", "/healthz", "").status, 200);
  // Same socket path, new server: the relay reconnects on the next request.
  auto again = RedisServer::start(dir.path());
  ASSERT_TRUE(again);
  redis = std::move(*again);
  EXPECT_TRUE(wait_until([&] { return call(a->port(), "GET", "/readyz", "").status == 200; }, 5s));
}

}  // namespace
}  // namespace sealrelay::test
