// The agent's answer travels as the first record of its frame upload
// (docs/api.md, X-Sealrelay-Answer): one request, so one connection, from the
// agent for a whole transfer, which is what takes a 1 KiB get's first byte
// from 4 round trips to 2 (docs/performance.md). The real relay, agent and
// CLI on loopback; what is counted is requests (the relay's
// sealrelay_requests_total by route; the agent's relay client opens a
// connection per request), never time. And the two ways back: an agent that
// answers apart (an older one) against this relay, and this agent against a
// relay node that does not take the answer in the upload (an older node in
// a mixed cluster), both through tests/security's lying relay.
#include <gtest/gtest.h>
#include <httplib.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <sstream>

#include "tests/security/lying_relay.h"
#include "tests/support/deployment.h"

namespace sealrelay::test {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using Store = Deployment::Store;

const std::string kAnswerRoute = "POST /v1/agent/transfers/{tid}/answer";
const std::string kFramesRoute = "POST /v1/agent/transfers/{tid}/frames";

std::string name_of(const testing::TestParamInfo<Store>& info) {
  return info.param == Store::kMemory ? "EmbeddedStore" : "RedisStore";
}

// Requests the relay at `port` served on `route` (any status), -1 when its
// metrics are unreadable.
long requests(int port, const std::string& route) {
  httplib::Client http("127.0.0.1", port);
  auto res = http.Get("/metrics");
  if (!res || res->status != 200) return -1;
  long n = 0;
  const std::string head = "sealrelay_requests_total{route=\"" + route + "\",";
  std::istringstream lines(res->body);
  for (std::string line; std::getline(lines, line);) {
    if (line.starts_with(head)) n += std::stol(line.substr(line.rfind(' ') + 1));
  }
  return n;
}

class FirstByte : public testing::TestWithParam<Store> {
 protected:
  void SetUp() override {
    auto s = Deployment::start_one_relay(GetParam());
    if (!s && s.error().code == "redis_absent") GTEST_SKIP() << "skipped: " << s.error().message;
    ASSERT_TRUE(s.ok()) << s.error().message;
    sys = std::move(*s);
    fs::create_directories(sys->dir() + "/out");
  }
  std::string out(const std::string& name) const { return sys->dir() + "/out/" + name; }
  // The agent's answer and frame requests during `get` of `path` to `dst`
  // (the pin is taken before, outside the count); `exit` the CLI's code and
  // `says` in its output.
  std::pair<long, long> count(const std::string& path, const std::string& dst, int exit = 0,
                              const std::string& says = "") {
    long answers = requests(sys->port(), kAnswerRoute), frames = requests(sys->port(), kFramesRoute);
    auto r = sys->cli({"get", path, "-o", dst});
    EXPECT_EQ(r.exit_code, exit) << r.output;
    EXPECT_NE(r.output.find(says), std::string::npos) << r.output;
    // The relay counts a request once its reply is written; the CLI can be
    // done a moment before the agent has read the reply of its upload.
    std::pair<long, long> now;
    EXPECT_TRUE(wait_until([&] {
      now = {requests(sys->port(), kAnswerRoute) - answers, requests(sys->port(), kFramesRoute) - frames};
      return now.first + now.second >= 1;
    }, 10s, 20ms));
    return now;
  }
  std::unique_ptr<Deployment> sys;
};

TEST_P(FirstByte, AGetIsOneAgentRequestThatCarriesTheAnswerAndTheFrames) {
  ASSERT_TRUE(sys->start_agent_online("shop-1").ok());
  const std::string file = sys->share("shop-1") + "/small.csv";
  ASSERT_TRUE(write_random_file(file, 1024, 18));
  ASSERT_EQ(sys->cli({"stat", "shop-1:/demo/small.csv"}).exit_code, 0);  // pins the agent

  auto [answers, frames] = count("shop-1:/demo/small.csv", out("small.csv"));
  EXPECT_TRUE(same_file(file, out("small.csv")));
  EXPECT_EQ(answers, 0) << "the answer went on a request (and a connection) of its own";
  EXPECT_EQ(frames, 1);
}

TEST_P(FirstByte, ARefusalTravelsTheSameWay) {
  ASSERT_TRUE(sys->start_agent_online("shop-1").ok());
  std::ofstream(sys->share("shop-1") + "/here.txt") << "here\n";
  ASSERT_EQ(sys->cli({"stat", "shop-1:/demo/here.txt"}).exit_code, 0);

  auto [answers, frames] = count("shop-1:/demo/absent.txt", out("absent.txt"), 4, "no such file");
  EXPECT_FALSE(fs::exists(out("absent.txt")));
  EXPECT_EQ(answers, 0);
  EXPECT_EQ(frames, 1);
}

INSTANTIATE_TEST_SUITE_P(Stores, FirstByte, testing::Values(Store::kMemory, Store::kRedis), name_of);

// Through a lying relay that forwards everything, with a twist per test.
class FirstByteThroughAnotherRelay : public testing::Test {
 protected:
  void SetUp() override {
    auto s = Deployment::start_one_relay(Store::kMemory);
    ASSERT_TRUE(s.ok()) << s.error().message;
    sys = std::move(*s);
    liar = std::make_unique<LyingRelay>(sys->port());
    file = sys->share("shop-1") + "/ledger.bin";
    fs::create_directories(sys->dir() + "/out");
  }
  void start_agent() {
    ASSERT_TRUE(sys->add_agent("shop-1").ok());
    ASSERT_TRUE(write_random_file(file, 3 * 256 * 1024 + 1000, 19));
    ASSERT_TRUE(sys->start_agent("shop-1", liar->url()).ok());
    ASSERT_TRUE(sys->agent_online("shop-1"));
    ASSERT_EQ(sys->cli({"stat", "shop-1:/demo/ledger.bin"}).exit_code, 0);
  }
  std::unique_ptr<Deployment> sys;
  std::unique_ptr<LyingRelay> liar;
  std::string file;
};

// What an agent from before answer_in_upload does: the relay's offer is not
// in its transfer events (an older agent ignores it), so it answers on
// POST .../answer, then uploads the frames.
TEST_F(FirstByteThroughAnotherRelay, AnAgentThatAnswersApartStillGetsItsFileThrough) {
  liar->rewrite_events = [](const std::string& tid, sse::Event e, const LyingRelay::Emit& emit) {
    if (tid.empty() && e.name == "transfer") {
      json j = json::parse(e.data, nullptr, false);
      if (j.is_object()) j.erase("answer_in_upload");
      e.data = j.dump();
    }
    emit(e);
  };
  ASSERT_NO_FATAL_FAILURE(start_agent());
  long answers = requests(sys->port(), kAnswerRoute);
  auto r = sys->cli({"get", "shop-1:/demo/ledger.bin", "-o", sys->dir() + "/out/"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(same_file(file, sys->dir() + "/out/ledger.bin"));
  EXPECT_EQ(requests(sys->port(), kAnswerRoute) - answers, 1);
}

// A relay node that offers the answer in the upload but is answered by one
// that does not take it (a cluster mid-upgrade) refuses the upload as
// frames before the answer: 409 conflict. The agent asks the status, finds
// the transfer unanswered, posts the answer on its own and goes on.
TEST_F(FirstByteThroughAnotherRelay, AnUploadRefusedAsFramesBeforeTheAnswerFallsBackToAnsweringApart) {
  std::mutex mu;
  std::vector<std::string> calls;          // guarded by mu
  std::map<std::string, int> uploads;      // per transfer; guarded by mu
  liar->answer_agent_call = [&](const std::string& method,
                                const std::string& path) -> std::optional<LyingRelay::Reply> {
    std::lock_guard lk(mu);
    calls.push_back(method + " " + path.substr(path.rfind('/')));
    if (!path.ends_with("/frames") || ++uploads[path] > 1) return std::nullopt;
    return LyingRelay::Reply{409, R"({"error":"conflict","message":"transfer is requested; it takes no frames now",)"
                                  R"("next_frame":0})"};
  };
  ASSERT_NO_FATAL_FAILURE(start_agent());
  {
    std::lock_guard lk(mu);
    calls.clear();
  }
  auto r = sys->cli({"get", "shop-1:/demo/ledger.bin", "-o", sys->dir() + "/out/"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(same_file(file, sys->dir() + "/out/ledger.bin"));
  std::lock_guard lk(mu);
  ASSERT_EQ(calls.size(), 4u);
  EXPECT_EQ(calls[0], "POST /frames");  // the answer and the frames: refused
  EXPECT_TRUE(calls[1].starts_with("GET /t_")) << calls[1];  // the status: still requested
  EXPECT_EQ(calls[2], "POST /answer");
  EXPECT_EQ(calls[3], "POST /frames");
}

}  // namespace
}  // namespace sealrelay::test
