// A stolen agent token, revoked (issue 15; docs/security.md §2.5): with the
// real relay, the real agent and the real `token revoke`, the agent's open
// control stream is cut within about a second, the relay lists the agent
// offline, a requester's new transfer to it fails as docs/api.md says (409
// agent_offline), and the agent's reconnects with that token are refused.
// On the embedded store and on Redis (presence lives there).
#include <gtest/gtest.h>
#include <httplib.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "tests/support/deployment.h"

namespace sealrelay::test {
namespace {

using nlohmann::json;

class TokenRevocation : public testing::TestWithParam<Deployment::Store> {};

TEST_P(TokenRevocation, ARevokedAgentIsCutOffAndListedOffline) {
  auto made = Deployment::start_one_relay(GetParam());
  if (!made && made.error().code == "redis_absent") GTEST_SKIP() << "skipped: " << made.error().message;
  ASSERT_TRUE(made) << made.error().message;
  Deployment& s = **made;
  ASSERT_TRUE(s.start_agent_online("shop-1").ok());
  auto watcher = s.token({"add-requester", "watch", "--agents", "*"});
  ASSERT_TRUE(watcher) << watcher.error().message;
  const std::string requester = *watcher;
  httplib::Client http("127.0.0.1", s.port());
  http.set_read_timeout(10);
  const httplib::Headers as_requester = {{"Authorization", "Bearer " + requester}};
  auto listed_online = [&] {
    auto r = http.Get("/v1/agents", as_requester);
    if (!r || r->status != 200) return true;
    const json listing = json::parse(r->body, nullptr, false);
    for (auto& a : listing.value("agents", json::array())) {
      if (a["id"] == "shop-1") return a.value("online", false);
    }
    return false;
  };
  ASSERT_TRUE(listed_online());

  const std::string agent_token = first_line(read_file(s.agent_token_file("shop-1")));
  ASSERT_EQ(agent_token.size(), 85u);
  auto revoked = s.token({"revoke", agent_token.substr(4, 16)});
  EXPECT_TRUE(revoked) << revoked.error().message;

  EXPECT_TRUE(wait_until([&] { return !listed_online(); }, 10s, 100ms))
      << "the agent is still online after its token was revoked";
  const std::string transfer = json{{"agent", "shop-1"}, {"msg1", "bTE="}}.dump();
  auto r = http.Post("/v1/transfers", as_requester, transfer, "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 409) << r->body;
  EXPECT_EQ(json::parse(r->body).value("error", ""), "agent_offline") << r->body;
  // The agent keeps trying with the revoked token and keeps being refused.
  auto again = http.Get("/v1/agent/control", {{"Authorization", "Bearer " + agent_token},
                                               {"X-Sealrelay-Public-Key", std::string(43, 'A') + "="}});
  ASSERT_TRUE(again);
  EXPECT_EQ(again->status, 401);
  EXPECT_FALSE(listed_online());
}

// Two relay nodes on one Redis, one tokens file: each node re-reads the
// file itself and cuts what it holds; presence lives in Redis, so the other
// node lists the agent offline too.
TEST(TokenRevocationAcrossNodes, TheNodeHoldingTheStreamCutsItAndEveryNodeListsTheAgentOffline) {
  START_DEPLOYMENT(c, {.redis = true});
  auto a = c.start_relay("a");
  auto b = c.start_relay("b");
  ASSERT_TRUE(a.ok() && b.ok());
  ASSERT_TRUE(c.start_agent("shop-1", c.url("a")).ok());
  ASSERT_TRUE(c.agent_online(c.url("b"), "shop-1")) << "node b sees the agent that node a holds";
  const std::string agent_token = first_line(read_file(c.agent_token_file("shop-1")));
  auto revoke = c.token({"revoke", agent_token.substr(4, 16)});
  ASSERT_TRUE(revoke) << revoke.error().message;
  auto offline_on = [&](int port) {
    std::string body;
    if (http_status(port, "/v1/agents", c.requester_token(), &body) != 200) return false;
    auto j = json::parse(body, nullptr, false);
    for (const auto& agent : j.value("agents", json::array())) {
      if (agent["id"] == "shop-1") return agent["online"] == false;
    }
    return false;
  };
  EXPECT_TRUE(wait_until([&] { return offline_on(*b); }, 10s, 100ms)) << "node b still lists the agent online";
  EXPECT_TRUE(offline_on(*a));
  EXPECT_NE(c.relay("a").log().find("ending the 1 stream"), std::string::npos) << c.relay("a").log();
}

INSTANTIATE_TEST_SUITE_P(Stores, TokenRevocation,
                         testing::Values(Deployment::Store::kMemory, Deployment::Store::kRedis),
                         [](const auto& info) { return info.param == Deployment::Store::kMemory ? "Memory" : "Redis"; });

}  // namespace
}  // namespace sealrelay::test
