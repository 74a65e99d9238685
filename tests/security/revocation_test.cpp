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

#include "tests/e2e/system.h"

namespace sealrelay::test {
namespace {

using nlohmann::json;

class TokenRevocation : public testing::TestWithParam<System::Store> {};

std::string first_line_of(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  return line;
}

TEST_P(TokenRevocation, ARevokedAgentIsCutOffAndListedOffline) {
  auto made = System::start(GetParam());
  if (!made && made.error().code == "redis_absent") GTEST_SKIP() << "skipped: " << made.error().message;
  ASSERT_TRUE(made) << made.error().message;
  System& s = **made;
  ASSERT_TRUE(s.start_agent("shop-1").ok());
  auto relay_cli = [&](std::vector<std::string> args) {
    args.insert(args.begin(), {binary("relay/sealrelay-relay"), "--state-dir", s.dir() + "/relay", "token"});
    auto r = run_command(args);
    EXPECT_TRUE(r && r->exit_code == 0) << (r ? r->err : r.error().message);
    return r ? r->out.substr(0, r->out.find('\n')) : "";
  };
  const std::string requester = relay_cli({"add-requester", "watch", "--agents", "*"});
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

  const std::string agent_token = first_line_of(s.dir() + "/agent-shop-1.token");
  ASSERT_EQ(agent_token.size(), 85u);
  relay_cli({"revoke", agent_token.substr(4, 16)});

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

INSTANTIATE_TEST_SUITE_P(Stores, TokenRevocation,
                         testing::Values(System::Store::kMemory, System::Store::kRedis),
                         [](const auto& info) { return info.param == System::Store::kMemory ? "Memory" : "Redis"; });

}  // namespace
}  // namespace sealrelay::test
