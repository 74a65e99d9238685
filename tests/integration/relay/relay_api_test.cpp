// The relay API end to end with the embedded store: a real relay process,
// an agent and a requester made of HTTP calls, opaque random bytes.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "proto/upload.h"
#include "tests/integration/relay/harness.h"

namespace sealrelay::test {
namespace {

class RelayApi : public ::testing::Test {
 protected:
  void start(std::vector<std::string> extra = {}) {
    agent_token = Relay::token(dir.path(), {"add-agent", "shop-1"});
    req_token = Relay::token(dir.path(), {"add-requester", "ops", "--agents", "shop-1,shop-2"});
    relay = Relay::start(dir.path(), extra);
    ASSERT_TRUE(relay);
    agent.port = relay->port();
    agent.token = agent_token;
    agent.id = "shop-1";
  }
  std::string create(const std::string& msg1 = "noise message 1") {
    auto r = call(relay->port(), "POST", "/v1/transfers", req_token,
                  {{"agent", "shop-1"}, {"msg1", b64(msg1)}});
    EXPECT_EQ(r.status, 201) << r.raw;
    return r.body.value("transfer_id", "");
  }
  std::unique_ptr<SseReader> events(const std::string& tid, const std::string& last = "") {
    httplib::Headers h = {{"Authorization", "Bearer " + req_token}};
    if (!last.empty()) h.emplace("Last-Event-ID", last);
    return std::make_unique<SseReader>(relay->port(), "/v1/transfers/" + tid + "/events", h);
  }
  Reply status(const std::string& tid) {
    return call(relay->port(), "GET", "/v1/transfers/" + tid, req_token);
  }

  TempDir dir;
  std::string agent_token, req_token;
  std::unique_ptr<Relay> relay;
  Agent agent;
};

// `serve` executes itself again once (relay/cli.cpp, for glibc's tunables):
// the process must keep its name, or ps, top and pgrep show "exe".
TEST_F(RelayApi, TheServingProcessKeepsItsName) {
  start();
  std::ifstream comm("/proc/" + std::to_string(relay->process().pid()) + "/comm");
  std::string name;
  std::getline(comm, name);
  EXPECT_EQ(name, "sealrelay-relay");
}

TEST_F(RelayApi, OpaqueFramesGoFromTheAgentUploadToTheRequesterStreamBitForBit) {
  start();
  agent.connect();
  auto agents = call(relay->port(), "GET", "/v1/agents", req_token);
  ASSERT_EQ(agents.status, 200);
  ASSERT_EQ(agents.body["agents"].size(), 1u);
  EXPECT_EQ(agents.body["agents"][0]["id"], "shop-1");
  EXPECT_EQ(agents.body["agents"][0]["online"], true);
  EXPECT_EQ(agents.body["agents"][0]["public_key"], agent.key);
  EXPECT_EQ(agents.body["agents"][0]["version"], "test-agent/1");
  EXPECT_EQ(agents.body["agents"][0]["fingerprint"].get<std::string>().size(), 29u);

  std::string msg1 = random_bytes(200), msg2 = random_bytes(120);
  std::string tid = create(msg1);
  ASSERT_TRUE(agent.control->wait_count(1));
  auto ev = agent.control->events()[0];
  EXPECT_EQ(ev.name, "transfer");
  EXPECT_FALSE(ev.id.empty());
  auto data = json::parse(ev.data);
  EXPECT_EQ(data["transfer_id"], tid);
  EXPECT_EQ(unb64(data["msg1"]), msg1);

  auto stream = events(tid);
  ASSERT_EQ(stream->status(), 200);
  ASSERT_EQ(agent.answer(tid, msg2).status, 200);
  ASSERT_TRUE(stream->wait_count(1));
  auto frames = test_frames(40, 300000);
  frames.push_back(std::string(1, '\0'));
  frames.push_back(std::string((1 << 20) + 4096, '\n'));  // exactly the default limit
  auto up = agent.upload(tid, 0, frames, true);
  ASSERT_EQ(up.status, 200) << up.raw;
  EXPECT_EQ(up.body["committed"], frames.size());
  EXPECT_EQ(up.body["complete"], true);

  ASSERT_TRUE(stream->wait_closed());
  auto got = stream->events();
  ASSERT_EQ(got.size(), frames.size() + 2);
  EXPECT_EQ(got[0].name, "answer");
  EXPECT_EQ(got[0].id, "0");
  EXPECT_EQ(unb64(got[0].data), msg2);
  for (size_t i = 0; i < frames.size(); ++i) {
    ASSERT_EQ(got[i + 1].name, "frame");
    ASSERT_EQ(got[i + 1].id, std::to_string(i + 1));
    ASSERT_EQ(unb64(got[i + 1].data), frames[i]) << "frame " << i;
  }
  EXPECT_EQ(got.back().name, "end");
  EXPECT_EQ(got.back().id, std::to_string(frames.size() + 1));
  EXPECT_EQ(json::parse(got.back().data)["frames"], frames.size());

  auto st = status(tid);
  EXPECT_EQ(st.body["state"], "complete");
  EXPECT_EQ(st.body["frames"], frames.size());
  EXPECT_EQ(st.body["delivered"], frames.size());
  auto mine = call(relay->port(), "GET", "/v1/transfers", req_token);
  ASSERT_EQ(mine.body["transfers"].size(), 1u);
  EXPECT_EQ(mine.body["transfers"][0]["transfer_id"], tid);
}

TEST_F(RelayApi, TheStreamSendsAnswerFramesAndEndAsTheyArriveAndHeartbeatsInBetween) {
  start();
  agent.connect();
  std::string tid = create();
  auto stream = events(tid);
  ASSERT_EQ(stream->status(), 200);
  ASSERT_TRUE(wait_until([&] { return stream->raw().find(": hb\n\n") != std::string::npos; }, 5s));
  ASSERT_EQ(agent.answer(tid, "m2").status, 200);
  ASSERT_TRUE(stream->wait_count(1));
  ASSERT_EQ(agent.upload(tid, 0, {"a", "b"}, false).status, 200);
  ASSERT_TRUE(stream->wait_count(3));
  auto st = call(relay->port(), "GET", "/v1/agent/transfers/" + tid, agent_token);
  EXPECT_EQ(st.body["state"], "uploading");
  EXPECT_EQ(st.body["next_frame"], 2);
  EXPECT_EQ(st.body["cancelled"], false);
  ASSERT_EQ(agent.upload(tid, 2, {"c"}, true).status, 200);
  ASSERT_TRUE(stream->wait_closed());
  EXPECT_EQ(stream->events().size(), 5u);
}

TEST_F(RelayApi, AnUploadResumesAtTheCommittedFrameAndAWrongFirstFrameIsAConflict) {
  start();
  agent.connect();
  std::string tid = create();
  ASSERT_EQ(agent.answer(tid, "m2").status, 200);
  auto stream = events(tid);
  ASSERT_EQ(agent.upload(tid, 0, {"0", "1", "2"}, false).status, 200);
  auto wrong = agent.upload(tid, 1, {"1"}, false);
  EXPECT_EQ(wrong.status, 409);
  EXPECT_EQ(wrong.body["error"], "conflict");
  EXPECT_EQ(wrong.body["next_frame"], 3);
  ASSERT_EQ(agent.upload(tid, 3, {"3"}, true).status, 200);
  ASSERT_TRUE(stream->wait_closed());
  auto got = stream->events();
  ASSERT_EQ(got.size(), 6u);
  for (int i = 0; i < 4; ++i) EXPECT_EQ(unb64(got[1 + i].data), std::to_string(i));
}

// X-Sealrelay-Answer: record (docs/api.md): the upload's first record is
// message 2, so the answer and the first frames share one request.
TEST_F(RelayApi, AnUploadWhoseFirstRecordIsTheAnswerAnswersTheTransferAndStreamsTheRest) {
  start();
  agent.connect();
  std::string msg2 = random_bytes(304);
  std::string tid = create();
  ASSERT_TRUE(agent.control->wait_count(1));
  EXPECT_EQ(json::parse(agent.control->events()[0].data)["answer_in_upload"], true)
      << "the transfer event offers it";
  auto stream = events(tid);
  auto frames = test_frames(5);
  auto up = agent.upload(tid, 0, frames, true, msg2);
  ASSERT_EQ(up.status, 200) << up.raw;
  EXPECT_EQ(up.body["committed"], frames.size());
  EXPECT_EQ(up.body["complete"], true);
  ASSERT_TRUE(stream->wait_closed());
  auto got = stream->events();
  ASSERT_EQ(got.size(), frames.size() + 2);
  EXPECT_EQ(got[0].name, "answer");
  EXPECT_EQ(unb64(got[0].data), msg2);
  for (size_t i = 0; i < frames.size(); ++i) EXPECT_EQ(unb64(got[i + 1].data), frames[i]) << "frame " << i;
  EXPECT_EQ(got.back().name, "end");
}

TEST_F(RelayApi, AnAnswerAndAnEndAloneMakeARefusalsWholeUpload) {
  start();
  agent.connect();
  std::string tid = create();
  auto up = agent.upload(tid, 0, {}, true, "encrypted refusal");
  ASSERT_EQ(up.status, 200) << up.raw;
  EXPECT_EQ(up.body["committed"], 0);
  EXPECT_EQ(up.body["complete"], true);
  EXPECT_EQ(status(tid).body["state"], "complete");
}

TEST_F(RelayApi, AnAnswerInTheUploadOfAnAnsweredTransferIsAConflictAndCommitsNothing) {
  start();
  agent.connect();
  std::string tid = create();
  ASSERT_EQ(agent.answer(tid, "m2").status, 200);
  auto up = agent.upload(tid, 0, {"a"}, true, "another m2");
  EXPECT_EQ(up.status, 409) << up.raw;
  EXPECT_EQ(up.body["error"], "conflict");
  EXPECT_EQ(up.body["next_frame"], 0);
  EXPECT_EQ(status(tid).body["frames"], 0);
  ASSERT_EQ(agent.upload(tid, 0, {"a"}, true).status, 200);  // the frames alone still go
}

TEST_F(RelayApi, AnAnswerRecordTheRelayRefusesLeavesTheTransferUnanswered) {
  start();
  agent.connect();
  std::string tid = create();
  auto big = agent.upload(tid, 0, {"a"}, true, std::string(65536, 'x'));  // message 2 is at most 65535 bytes
  EXPECT_EQ(big.status, 413) << big.raw;
  auto ended = agent.upload(tid, 0, {}, true, std::nullopt);  // no answer record, the end at once:
  EXPECT_EQ(ended.status, 409) << ended.raw;                  // frames before the answer
  httplib::Client cli("127.0.0.1", relay->port());
  std::string end_only;
  upload::append_end(end_only);
  auto early = cli.Post(("/v1/agent/transfers/" + tid + "/frames").c_str(),
                        {{"Authorization", "Bearer " + agent_token}, {"X-Sealrelay-First-Frame", "0"},
                         {"X-Sealrelay-Answer", "record"}},
                        end_only, "application/octet-stream");
  ASSERT_TRUE(early);
  EXPECT_EQ(early->status, 400) << early->body;
  auto other = cli.Post(("/v1/agent/transfers/" + tid + "/frames").c_str(),
                        {{"Authorization", "Bearer " + agent_token}, {"X-Sealrelay-First-Frame", "0"},
                         {"X-Sealrelay-Answer", "json"}},
                        end_only, "application/octet-stream");
  ASSERT_TRUE(other);
  EXPECT_EQ(other->status, 400) << other->body;
  EXPECT_EQ(status(tid).body["state"], "requested");
  ASSERT_EQ(agent.upload(tid, 0, {"a"}, true, "m2").status, 200);
}

TEST_F(RelayApi, LastEventIdResumesAfterThatEventAndHistoryBeyondTheWindowIsGone) {
  start({"--history-frames", "2", "--window-frames", "4"});
  agent.connect();
  std::string tid = create();
  ASSERT_EQ(agent.answer(tid, "m2").status, 200);
  auto frames = test_frames(8, 1000);
  {
    auto first = events(tid);
    ASSERT_TRUE(first->wait_count(1));
    std::thread up([&] { EXPECT_EQ(agent.upload(tid, 0, frames, false).status, 200); });
    ASSERT_TRUE(first->wait_count(9));  // answer + 8 frames
    up.join();
  }
  // delivered = 8, history 2: ids 7 and 8 are held.
  auto resumed = events(tid, "6");
  ASSERT_TRUE(resumed->wait_count(2));
  EXPECT_EQ(resumed->events()[0].id, "7");
  EXPECT_EQ(unb64(resumed->events()[0].data), frames[6]);
  EXPECT_EQ(resumed->events()[1].id, "8");
  resumed->stop();

  auto gone = events(tid, "3");
  ASSERT_TRUE(gone->wait_closed());
  ASSERT_EQ(gone->events().size(), 1u);
  EXPECT_EQ(gone->events()[0].name, "gone");
  EXPECT_EQ(json::parse(gone->events()[0].data)["earliest"], 7);

  ASSERT_EQ(agent.upload(tid, 8, {}, true).status, 200);
  auto after_end = events(tid, "9");
  ASSERT_TRUE(after_end->wait_closed()) << "resuming after the end event ends at once";
  EXPECT_TRUE(after_end->events().empty());

  auto bad = call(relay->port(), "GET", "/v1/transfers/" + tid + "/events", req_token, nullptr,
                  {{"Last-Event-ID", "x"}});
  EXPECT_EQ(bad.status, 400);
}

TEST_F(RelayApi, BackpressureStopsTheUploadAtTheWindowUntilTheRequesterReads) {
  start({"--window-frames", "4"});
  agent.connect();
  std::string tid = create();
  ASSERT_EQ(agent.answer(tid, "m2").status, 200);
  auto frames = test_frames(20, 2000);
  Reply up;
  std::thread uploader([&] { up = agent.upload(tid, 0, frames, true); });
  ASSERT_TRUE(wait_until([&] { return status(tid).body.value("frames", 0) == 4; }, 10s));
  // Nobody reads: the relay holds exactly the window and reads no further.
  EXPECT_FALSE(wait_until([&] { return status(tid).body.value("frames", 0) > 4; }, 300ms));
  auto stream = events(tid);
  ASSERT_TRUE(stream->wait_closed(20s));
  uploader.join();
  EXPECT_EQ(up.status, 200) << up.raw;
  auto got = stream->events();
  ASSERT_EQ(got.size(), 22u);
  for (size_t i = 0; i < frames.size(); ++i) ASSERT_EQ(unb64(got[i + 1].data), frames[i]);
}

TEST_F(RelayApi, AReconnectingAgentWithLastEventIdMissesNoRequest) {
  start();
  agent.connect();
  std::string t1 = create(), t2 = create();
  ASSERT_TRUE(agent.control->wait_count(2));
  std::string after_first = agent.control->events()[0].id;
  agent.control->stop();
  // The agent processed only t1: it resumes after t1's id and gets t2 again.
  agent.connect(after_first);
  ASSERT_TRUE(agent.control->wait_count(1));
  auto ev = agent.control->events();
  EXPECT_EQ(json::parse(ev[0].data)["transfer_id"], t2);
  // Without Last-Event-ID it gets every request still waiting for an answer.
  ASSERT_EQ(agent.answer(t1, "m2").status, 200);
  agent.connect();
  ASSERT_TRUE(agent.control->wait_count(1));
  EXPECT_FALSE(agent.control->wait_count(2, 300ms));
  EXPECT_EQ(json::parse(agent.control->events()[0].data)["transfer_id"], t2);
}

TEST_F(RelayApi, ANewerControlStreamTakesOverTheOlderOne) {
  start();
  agent.connect();
  auto old = std::move(agent.control);
  agent.connect();
  EXPECT_TRUE(old->wait_closed(5s)) << "the old stream ends at its next heartbeat";
  auto a = call(relay->port(), "GET", "/v1/agents", req_token);
  EXPECT_EQ(a.body["agents"][0]["online"], true);
}

TEST_F(RelayApi, CancelTellsTheAgentEndsTheStreamAndRefusesMoreFrames) {
  start();
  agent.connect();
  std::string tid = create();
  ASSERT_TRUE(agent.control->wait_count(1));
  ASSERT_EQ(agent.answer(tid, "m2").status, 200);
  auto stream = events(tid);
  ASSERT_EQ(agent.upload(tid, 0, {"x"}, false).status, 200);
  ASSERT_TRUE(stream->wait_count(2));
  auto del = call(relay->port(), "DELETE", "/v1/transfers/" + tid, req_token);
  ASSERT_EQ(del.status, 200);
  EXPECT_EQ(del.body["state"], "cancelled");
  ASSERT_TRUE(stream->wait_closed());
  auto last = stream->events().back();
  EXPECT_EQ(last.name, "error");
  EXPECT_EQ(json::parse(last.data)["error"], "cancelled");
  ASSERT_TRUE(agent.control->wait([](auto& ev) { return ev.size() >= 2 && ev[1].name == "cancel"; }));
  EXPECT_EQ(json::parse(agent.control->events()[1].data)["transfer_id"], tid);
  auto more = agent.upload(tid, 1, {"y"}, true);
  EXPECT_EQ(more.status, 409);
  auto st = call(relay->port(), "GET", "/v1/agent/transfers/" + tid, agent_token);
  EXPECT_EQ(st.body["cancelled"], true);
  EXPECT_EQ(call(relay->port(), "DELETE", "/v1/transfers/" + tid, req_token).status, 200)
      << "cancelling twice is fine";
}

TEST_F(RelayApi, AnAgentThatCannotProcessMessage1FailsTheTransferForTheRequester) {
  start();
  agent.connect();
  std::string tid = create();
  auto stream = events(tid);
  auto r = call(relay->port(), "POST", "/v1/agent/transfers/" + tid + "/answer", agent_token,
                {{"error", "handshake_failed"}, {"message", "unknown requester key"}});
  ASSERT_EQ(r.status, 200) << r.raw;
  ASSERT_TRUE(stream->wait_closed());
  auto ev = stream->events();
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].name, "error");
  auto data = json::parse(ev[0].data);
  EXPECT_EQ(data["error"], "handshake_failed");
  EXPECT_EQ(data["message"], "unknown requester key");
  EXPECT_EQ(status(tid).body["state"], "failed");
  EXPECT_EQ(agent.answer(tid, "late").status, 409);
}

TEST_F(RelayApi, ATransferTheAgentNeverAnswersExpires) {
  start({"--answer-timeout-seconds", "1"});
  agent.connect();
  std::string tid = create();
  auto stream = events(tid);
  ASSERT_TRUE(stream->wait_closed(10s));
  auto ev = stream->events();
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(json::parse(ev[0].data)["error"], "expired");
  EXPECT_EQ(status(tid).body["state"], "expired");
  ASSERT_TRUE(agent.control->wait([](auto& e) { return e.size() >= 2 && e[1].name == "cancel"; }));
}

TEST_F(RelayApi, OperationsRoutesAnswerWithoutAuth) {
  std::string web = dir.path() + "/web";
  std::filesystem::create_directories(web);
  {
    std::ofstream(web + "/index.html") << "<h1>sealrelay</h1>";
  }
  start({"--web-root", web});
  agent.connect();
  auto h = call(relay->port(), "GET", "/healthz", "");
  EXPECT_EQ(h.status, 200);
  EXPECT_EQ(h.body["status"], "ok");
  EXPECT_EQ(call(relay->port(), "GET", "/readyz", "").status, 200);
  std::string tid = create();
  auto m = call(relay->port(), "GET", "/metrics", "");
  ASSERT_EQ(m.status, 200);
  EXPECT_NE(m.raw.find("sealrelay_agents_online 1"), std::string::npos) << m.raw;
  EXPECT_NE(m.raw.find("sealrelay_transfers{state=\"requested\"} 1"), std::string::npos);
  EXPECT_NE(m.raw.find("sealrelay_streams{kind=\"control\"} 1"), std::string::npos);
  EXPECT_EQ(m.raw.find(tid), std::string::npos) << "no ids in metrics";
  EXPECT_EQ(m.raw.find("shop-1"), std::string::npos) << "no agent ids in metrics";
  auto page = call(relay->port(), "GET", "/", "");
  EXPECT_EQ(page.status, 200);
  EXPECT_EQ(page.raw, "<h1>sealrelay</h1>");
  auto missing = call(relay->port(), "GET", "/nope.js", "");
  EXPECT_EQ(missing.status, 404);
  EXPECT_EQ(missing.body["error"], "not_found");
}

TEST_F(RelayApi, SigtermStopsTheRelayPromptlyWithStreamsOpen) {
  start();
  agent.connect();
  std::string tid = create();
  auto stream = events(tid);
  ASSERT_EQ(stream->status(), 200);
  relay->process().kill(SIGTERM);
  auto st = relay->process().wait_exit(5s);
  ASSERT_TRUE(st.has_value());
  EXPECT_TRUE(WIFEXITED(*st) && WEXITSTATUS(*st) == 0) << relay->process().log();
}

}  // namespace
}  // namespace sealrelay::test
