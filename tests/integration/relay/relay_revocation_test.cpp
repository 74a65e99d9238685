// Revoking a token ends what it opened (issue 15; docs/api.md §Tokens): the
// relay re-reads the tokens file each second, and the control stream, event
// streams and uploads authenticated by a token that left it are closed, the
// agent goes offline, and the token's next request is a 401. And the one
// agent-id grammar where ids are made: `token add-agent`.
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tests/integration/relay/harness.h"

namespace sealrelay::test {
namespace {

bool online(int port, const std::string& token, const std::string& agent) {
  auto r = call(port, "GET", "/v1/agents", token);
  for (auto& a : r.body.value("agents", json::array())) {
    if (a.value("id", "") == agent) return a.value("online", false);
  }
  return false;
}

TEST(Revocation, ARevokedTokensStreamsAndUploadsAreClosed) {
  TempDir dir;
  std::string agent_token = Relay::token(dir.path(), {"add-agent", "shop-1"});
  std::string req_token = Relay::token(dir.path(), {"add-requester", "ops", "--agents", "*"});
  std::string watcher = Relay::token(dir.path(), {"add-requester", "watch", "--agents", "*"});
  auto relay = Relay::start(dir.path());
  ASSERT_TRUE(relay);
  const int port = relay->port();
  Agent agent;
  agent.port = port;
  agent.token = agent_token;
  agent.id = "shop-1";
  agent.connect();
  auto created = call(port, "POST", "/v1/transfers", req_token, {{"agent", "shop-1"}, {"msg1", b64("m1")}});
  ASSERT_EQ(created.status, 201) << created.raw;
  const std::string tid = created.body["transfer_id"];
  ASSERT_TRUE(agent.control->wait([&](auto& ev) { return !ev.empty(); }));
  ASSERT_EQ(agent.answer(tid, "m2").status, 200);
  SseReader events(port, "/v1/transfers/" + tid + "/events", {{"Authorization", "Bearer " + req_token}});
  ASSERT_TRUE(events.wait_count(1));

  // An upload in flight: one record announced, its bytes trickling in.
  int up = connect_loopback(port);
  ASSERT_GE(up, 0);
  std::string head = "POST /v1/agent/transfers/" + tid + "/frames HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " +
                     agent_token + "\r\nTransfer-Encoding: chunked\r\nX-Sealrelay-First-Frame: 0\r\n\r\n" +
                     std::string("4\r\n\x00\x00\x10\x00\r\n", 9);  // a record of 4096 bytes begins
  ASSERT_EQ(::send(up, head.data(), head.size(), MSG_NOSIGNAL), static_cast<ssize_t>(head.size()));

  Relay::token(dir.path(), {"revoke", agent_token.substr(4, 16)});
  Relay::token(dir.path(), {"revoke", req_token.substr(4, 16)});

  // The upload: a byte per poll until the relay answers.
  std::string answer;
  bool answered = wait_until(
      [&] {
        pollfd p{up, POLLIN, 0};
        if (::poll(&p, 1, 50) > 0) {
          char buf[4096];
          ssize_t n = ::recv(up, buf, sizeof buf, 0);
          if (n > 0) answer.append(buf, static_cast<size_t>(n));
          return true;
        }
        (void)::send(up, "1\r\nx\r\n", 6, MSG_NOSIGNAL);
        return false;
      },
      10s, 1ms);
  ::close(up);
  EXPECT_TRUE(answered) << "the upload went on after its token was revoked";
  EXPECT_TRUE(answer.starts_with("HTTP/1.1 401")) << answer;

  EXPECT_TRUE(agent.control->wait_closed(10s)) << "the control stream stayed open";
  EXPECT_TRUE(events.wait_closed(10s)) << "the requester's event stream stayed open";
  EXPECT_TRUE(wait_until([&] { return !online(port, watcher, "shop-1"); }, 10s))
      << "the agent of a revoked token is still listed online";
  auto again = call(port, "GET", "/v1/agent/control", agent_token, nullptr,
                    {{"X-Sealrelay-Public-Key", random_key_b64()}});
  EXPECT_EQ(again.status, 401) << again.raw;
  auto to_it = call(port, "POST", "/v1/transfers", watcher, {{"agent", "shop-1"}, {"msg1", b64("m1")}});
  EXPECT_EQ(to_it.status, 409) << to_it.raw;
  EXPECT_EQ(to_it.body.value("error", ""), "agent_offline") << to_it.raw;
  EXPECT_NE(relay->process().log().find("ending the"), std::string::npos) << relay->process().log();
}

TEST(Revocation, TokenAddAgentRefusesAnIdOutsideTheGrammarWithTheRule) {
  TempDir dir;
  for (const std::string& bad : std::vector<std::string>{"..", ".", "a b", std::string(65, 'a')}) {
    SCOPED_TRACE(bad);
    auto r = run_command({binary("relay/sealrelay-relay"), "--tokens", dir.path() + "/tokens.json", "token",
                          "add-agent", bad});
    ASSERT_TRUE(r.ok());
    EXPECT_NE(r->exit_code, 0);
    EXPECT_EQ(r->out, "") << "no token is printed";
    EXPECT_NE(r->err.find("starting with a letter or digit"), std::string::npos) << r->err;
  }
  auto r = run_command({binary("relay/sealrelay-relay"), "--tokens", dir.path() + "/tokens.json", "token", "add-agent",
                        "--", "-x"});
  ASSERT_TRUE(r.ok());
  EXPECT_NE(r->exit_code, 0);
  EXPECT_NE(r->err.find("starting with a letter or digit"), std::string::npos) << r->err;
  auto list = run_command({binary("relay/sealrelay-relay"), "--tokens", dir.path() + "/tokens.json", "token", "list"});
  ASSERT_TRUE(list.ok());
  EXPECT_EQ(list->out.find("agent "), std::string::npos) << "nothing was written: " << list->out;
}

}  // namespace
}  // namespace sealrelay::test
