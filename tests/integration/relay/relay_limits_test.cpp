// Every auth failure and every limit of the relay, each with its JSON error
// and status (docs/api.md §Errors), against the real process.
#include <gtest/gtest.h>

#include "proto/upload.h"
#include "tests/integration/relay/harness.h"

namespace sealrelay::test {
namespace {

class RelayLimits : public ::testing::Test {
 protected:
  void start(std::vector<std::string> extra = {}) {
    agent_token = Relay::token(dir.path(), {"add-agent", "shop-1"});
    other_agent_token = Relay::token(dir.path(), {"add-agent", "shop-2"});
    req_token = Relay::token(dir.path(), {"add-requester", "ops", "--agents", "shop-1"});
    other_req_token = Relay::token(dir.path(), {"add-requester", "eve", "--agents", "*"});
    relay = Relay::start(dir.path(), extra);
    ASSERT_TRUE(relay);
    agent.port = relay->port();
    agent.token = agent_token;
    agent.id = "shop-1";
  }
  int port() { return relay->port(); }
  std::string create(const std::string& token = "") {
    auto r = call(port(), "POST", "/v1/transfers", token.empty() ? req_token : token,
                  {{"agent", "shop-1"}, {"msg1", b64("m1")}});
    EXPECT_EQ(r.status, 201) << r.raw;
    return r.body.value("transfer_id", "");
  }
  static void expect_error(const Reply& r, int status, const std::string& code) {
    EXPECT_EQ(r.status, status) << r.raw;
    EXPECT_EQ(r.body.value("error", ""), code) << r.raw;
    EXPECT_TRUE(r.body.contains("message")) << r.raw;
  }

  TempDir dir;
  std::string agent_token, other_agent_token, req_token, other_req_token;
  std::unique_ptr<Relay> relay;
  Agent agent;
};

TEST_F(RelayLimits, EveryAuthFailureIsA401WithJson) {
  start();
  auto none = call(port(), "GET", "/v1/agents", "");
  expect_error(none, 401, "unauthorized");
  EXPECT_EQ(none.headers.find("WWW-Authenticate")->second, "Bearer");
  expect_error(call(port(), "GET", "/v1/agents", "", nullptr, {{"Authorization", "Basic eDp5"}}),
               401, "unauthorized");
  expect_error(call(port(), "GET", "/v1/agents", "srt_nope"), 401, "unauthorized");
  std::string unknown = "srt_0123456789abcdef_" + std::string(64, 'a');
  expect_error(call(port(), "GET", "/v1/agents", unknown), 401, "unauthorized");
  std::string wrong_secret = req_token.substr(0, 21) + std::string(64, 'b');
  expect_error(call(port(), "GET", "/v1/agents", wrong_secret), 401, "unauthorized");
  expect_error(call(port(), "GET", "/v1/agent/control", ""), 401, "unauthorized");
}

TEST_F(RelayLimits, ARevokedTokenStopsWorkingWithoutARestart) {
  start();
  EXPECT_EQ(call(port(), "GET", "/v1/agents", req_token).status, 200);
  std::string id = req_token.substr(4, 16);
  Relay::token(dir.path(), {"revoke", id});
  EXPECT_TRUE(wait_until([&] { return call(port(), "GET", "/v1/agents", req_token).status == 401; },
                         5s));
  EXPECT_EQ(call(port(), "GET", "/v1/agents", other_req_token).status, 200);
  // A token added while the relay runs works without a restart too.
  std::string fresh = Relay::token(dir.path(), {"add-requester", "new", "--agents", "*"});
  EXPECT_TRUE(wait_until([&] { return call(port(), "GET", "/v1/agents", fresh).status == 200; }, 5s));
}

TEST_F(RelayLimits, TokensOfTheWrongKindAreForbidden) {
  start();
  expect_error(call(port(), "GET", "/v1/agents", agent_token), 403, "forbidden");
  expect_error(call(port(), "GET", "/v1/agent/control", req_token), 403, "forbidden");
  expect_error(call(port(), "POST", "/v1/agent/transfers/t_x/answer", req_token, {{"msg2", "eA=="}}),
               403, "forbidden");
}

TEST_F(RelayLimits, AnAgentCanOnlyActAsItselfAndARequesterOnlyWithinItsScope) {
  start();
  agent.connect();
  Agent other;
  other.port = port();
  other.token = other_agent_token;
  other.id = "shop-2";
  other.connect();
  std::string tid = create();
  // shop-2's token cannot touch shop-1's transfer.
  expect_error(other.answer(tid, "m2"), 404, "unknown_transfer");
  expect_error(call(port(), "GET", "/v1/agent/transfers/" + tid, other_agent_token), 404,
               "unknown_transfer");
  expect_error(other.upload(tid, 0, {"x"}, true), 404, "unknown_transfer");
  // ops sees shop-1 only.
  auto list = call(port(), "GET", "/v1/agents", req_token);
  ASSERT_EQ(list.body["agents"].size(), 1u);
  EXPECT_EQ(list.body["agents"][0]["id"], "shop-1");
  EXPECT_EQ(call(port(), "GET", "/v1/agents", other_req_token).body["agents"].size(), 2u);
  expect_error(call(port(), "POST", "/v1/transfers", req_token, {{"agent", "shop-2"}, {"msg1", b64("m")}}),
               404, "unknown_agent");
  // eve (scope *) cannot see ops's transfer.
  expect_error(call(port(), "GET", "/v1/transfers/" + tid, other_req_token), 404, "unknown_transfer");
  expect_error(call(port(), "DELETE", "/v1/transfers/" + tid, other_req_token), 404,
               "unknown_transfer");
  expect_error(call(port(), "GET", "/v1/transfers/" + tid + "/events", other_req_token), 404,
               "unknown_transfer");
  EXPECT_TRUE(call(port(), "GET", "/v1/transfers", other_req_token).body["transfers"].empty());
}

TEST_F(RelayLimits, BadRequestsGetClearErrors) {
  start();
  expect_error(call(port(), "POST", "/v1/transfers", req_token, {{"agent", "shop-1"}}), 400,
               "bad_request");
  expect_error(call(port(), "POST", "/v1/transfers", req_token,
                    {{"agent", "shop-1"}, {"msg1", "not base64!"}}),
               400, "bad_request");
  expect_error(call(port(), "POST", "/v1/transfers", req_token,
                    {{"agent", "shop-1"}, {"msg1", "QUJD\n"}}),
               400, "bad_request");
  auto text = call(port(), "POST", "/v1/transfers", req_token, "not an object");
  expect_error(text, 400, "bad_request");
  expect_error(call(port(), "POST", "/v1/transfers", req_token, {{"agent", "ghost"}, {"msg1", b64("m")}}),
               404, "unknown_agent");
  expect_error(call(port(), "POST", "/v1/transfers", other_req_token,
                    {{"agent", "shop-1"}, {"msg1", b64(std::string(65536, 'x'))}}),
               413, "too_large");
  // Control stream without its key.
  expect_error(call(port(), "GET", "/v1/agent/control", agent_token), 400, "bad_request");
  expect_error(call(port(), "GET", "/v1/agent/control", agent_token, nullptr,
                    {{"X-Sealrelay-Public-Key", b64("short")}}),
               400, "bad_request");
  expect_error(call(port(), "GET", "/v1/nothing", req_token), 404, "not_found");
}

TEST_F(RelayLimits, AnOfflineAgentAndAnEarlyOrMisnumberedUploadAreConflicts) {
  start();
  agent.connect();
  agent.control->stop();
  ASSERT_TRUE(wait_until([&] {
    return call(port(), "GET", "/v1/agents", req_token).body["agents"][0]["online"] == false;
  }, 5s));
  expect_error(call(port(), "POST", "/v1/transfers", req_token, {{"agent", "shop-1"}, {"msg1", b64("m")}}),
               409, "agent_offline");
  agent.connect();
  std::string tid = create();
  auto early = agent.upload(tid, 0, {"x"}, true);
  expect_error(early, 409, "conflict");
  ASSERT_EQ(agent.answer(tid, "m2").status, 200);
  expect_error(agent.answer(tid, "again"), 409, "conflict");
  auto bad_first = call(port(), "POST", "/v1/agent/transfers/" + tid + "/frames", agent_token,
                        nullptr, {{"X-Sealrelay-First-Frame", "x"}});
  expect_error(bad_first, 400, "bad_request");
  auto skip = agent.upload(tid, 5, {"x"}, true);
  expect_error(skip, 409, "conflict");
  EXPECT_EQ(skip.body["next_frame"], 0);
}

TEST_F(RelayLimits, AnOversizedFrameFailsTheTransferBeforeItsPayloadIsRead) {
  start({"--max-frame-bytes", "1000"});
  agent.connect();
  std::string tid = create();
  ASSERT_EQ(agent.answer(tid, "m2").status, 200);
  httplib::Headers h = {{"Authorization", "Bearer " + req_token}};
  SseReader stream(port(), "/v1/transfers/" + tid + "/events", h);
  (void)agent.upload(tid, 0, {std::string(1000, 'a'), std::string(1001, 'b')}, true);
  ASSERT_TRUE(stream.wait_closed());
  auto ev = stream.events();
  // answer, maybe frame 0 (a failed transfer drops its frames), error
  ASSERT_GE(ev.size(), 2u);
  EXPECT_EQ(ev.back().name, "error");
  EXPECT_EQ(json::parse(ev.back().data)["error"], "too_large");
  auto st = call(port(), "GET", "/v1/agent/transfers/" + tid, agent_token);
  EXPECT_EQ(st.body["state"], "failed");
  EXPECT_EQ(st.body["error"]["error"], "too_large");
}

TEST_F(RelayLimits, ATransferOverItsByteLimitFails) {
  start({"--max-transfer-bytes", "5000"});
  agent.connect();
  std::string tid = create();
  ASSERT_EQ(agent.answer(tid, "m2").status, 200);
  (void)agent.upload(tid, 0, {std::string(2000, 'a'), std::string(2000, 'b'), std::string(2000, 'c')},
                     true);
  auto st = call(port(), "GET", "/v1/transfers/" + tid, req_token);
  EXPECT_EQ(st.body["state"], "failed");
  EXPECT_EQ(st.body["error"]["error"], "too_large");
  EXPECT_EQ(st.body["frames"], 2);
}

TEST_F(RelayLimits, TooManyActiveTransfersForOneAgentIs429) {
  start({"--max-transfers-per-agent", "2"});
  agent.connect();
  std::string t1 = create();
  create();
  auto third = call(port(), "POST", "/v1/transfers", req_token, {{"agent", "shop-1"}, {"msg1", b64("m")}});
  expect_error(third, 429, "rate_limited");
  EXPECT_TRUE(third.headers.count("Retry-After"));
  ASSERT_EQ(call(port(), "DELETE", "/v1/transfers/" + t1, req_token).status, 200);
  create();
}

TEST_F(RelayLimits, AFullNodeAnswers503AtOnceInsteadOfHanging) {
  start({"--max-connections", "3"});
  agent.connect();
  std::string t1 = create(), t2 = create();
  // Earlier calls' connections end on the relay's side a moment after the
  // client closes them: wait until only the control stream (and this
  // metrics call) remain.
  ASSERT_TRUE(wait_until([&] {
    return call(port(), "GET", "/metrics", "").raw.find("sealrelay_connections 2\n") !=
           std::string::npos;
  }, 10s));
  httplib::Headers h = {{"Authorization", "Bearer " + req_token}};
  SseReader s1(port(), "/v1/transfers/" + t1 + "/events", h);
  SseReader s2(port(), "/v1/transfers/" + t2 + "/events", h);
  ASSERT_EQ(s1.status(), 200);
  ASSERT_EQ(s2.status(), 200);
  auto t0 = std::chrono::steady_clock::now();
  auto r = call(port(), "GET", "/healthz", "");
  auto took = std::chrono::steady_clock::now() - t0;
  expect_error(r, 503, "overloaded");
  EXPECT_TRUE(r.headers.count("Retry-After"));
  EXPECT_LT(took, 2s);
  // Many at once, still no hang.
  std::vector<std::thread> burst;
  std::atomic<int> refused{0};
  for (int i = 0; i < 40; ++i) {
    burst.emplace_back([&] { refused += call(port(), "GET", "/healthz", "").status == 503; });
  }
  for (auto& t : burst) t.join();
  EXPECT_EQ(refused, 40);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 10s);
  s1.stop();
  EXPECT_TRUE(wait_until([&] { return call(port(), "GET", "/healthz", "").status == 200; }, 5s));
}

TEST_F(RelayLimits, RequestRatesPerTokenAndPerAddressAre429) {
  start({"--rate-per-token", "0.5", "--burst-per-token", "3", "--rate-per-ip", "0.5",
         "--burst-per-ip", "8"});
  for (int i = 0; i < 3; ++i) EXPECT_EQ(call(port(), "GET", "/v1/agents", req_token).status, 200);
  auto limited = call(port(), "GET", "/v1/agents", req_token);
  expect_error(limited, 429, "rate_limited");
  EXPECT_GE(std::stoi(limited.headers.find("Retry-After")->second), 1);
  EXPECT_EQ(call(port(), "GET", "/v1/agents", other_req_token).status, 200) << "per token";
  // 5 requests so far from 127.0.0.1; the per-address bucket holds 8.
  for (int i = 0; i < 3; ++i) (void)call(port(), "GET", "/healthz", "");
  expect_error(call(port(), "GET", "/healthz", ""), 429, "rate_limited");
}

TEST_F(RelayLimits, BodyAndHeaderGuardsRunBeforeAnyBodyIsRead) {
  start({"--max-json-bytes", "1000", "--max-headers", "20"});
  expect_error(call(port(), "POST", "/v1/transfers", req_token,
                    {{"agent", "shop-1"}, {"msg1", std::string(2000, 'A')}}),
               413, "too_large");
  httplib::Client cli("127.0.0.1", port());
  httplib::Headers h = {{"Authorization", "Bearer " + req_token}};
  int chunks = 0;
  auto chunked = cli.Post(
      "/v1/transfers", h,
      [&](size_t, httplib::DataSink& sink) {
        if (chunks++ > 0) {
          sink.done();
          return true;
        }
        return sink.write("{}", 2);
      },
      "application/json");
  // Refused before the body is read: the client sees the 400, or a reset
  // when the relay closes with the body unread. Either way nothing is buffered.
  if (chunked) {
    EXPECT_EQ(chunked->status, 400);
  }
  EXPECT_EQ(call(port(), "GET", "/healthz", "").status, 200);
  expect_error(call(port(), "POST", "/v1/transfers", req_token, {{"agent", "shop-1"}},
                    {{"Content-Encoding", "gzip"}}),
               400, "bad_request");
  httplib::Headers many;
  for (int i = 0; i < 30; ++i) many.emplace("X-Filler-" + std::to_string(i), "x");
  expect_error(call(port(), "GET", "/v1/agents", req_token, nullptr, many), 400, "bad_request");
}

}  // namespace
}  // namespace sealrelay::test
