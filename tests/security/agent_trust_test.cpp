// The agent's own guards, through the real programs (issue 15): a revoked
// requester stays revoked when the trust file also gains a broken line;
// a message 1 is worthless outside the clock window and used up even when
// it is refused; a requester's path cannot forge the agent's log.
#include <gtest/gtest.h>
#include <httplib.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>

#include "base/base64.h"
#include "crypto/payloads.h"
#include "crypto/session.h"
#include "tests/support/deployment.h"

namespace sealrelay::test {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Replaces `path` as config management does (a new file renamed over it).
void replace_file(const std::string& path, const std::string& text) {
  std::ofstream(path + ".new") << text;
  fs::permissions(path + ".new", fs::perms::owner_read | fs::perms::owner_write);
  fs::rename(path + ".new", path);
}

// A requester made by hand: its message 1 carries whatever the test wants
// (a timestamp, a path), and it can send the same message 1 twice, as a
// relay that kept it would, and still read the agent's answer.
class HandRequester {
 public:
  HandRequester(Deployment& c, const std::string& agent)
      : c_(c), agent_(agent), me_(load_identity(c.dir() + "/cli/identity.key").value()),
        agent_key_(load_identity(c.dir() + "/agent-" + agent + "/identity.key")->public_key),
        eph_(generate_identity()) {}

  // Message 1 (base64) for `request`, with this requester's fixed ephemeral key.
  std::string message1(const Request& request) {
    payload_ = encode_request(request);
    auto hs = InitiatorHandshake::start_for_test(me_, agent_key_, bytes(payload_), &eph_);
    return hs ? base64::encode(hs->message1()) : "";
  }

  // Creates a transfer with `msg1` on the relay at `port`, and returns the
  // agent's answer to the last message1() (its transfer id in `tid`).
  Result<Answer> send(int port, const std::string& msg1, std::string* tid = nullptr) {
    httplib::Client relay("127.0.0.1", port);
    relay.set_read_timeout(20);
    httplib::Headers auth = {{"Authorization", "Bearer " + c_.requester_token()}};
    auto p = relay.Post("/v1/transfers", auth, json{{"agent", agent_}, {"msg1", msg1}}.dump(), "application/json");
    if (!p || p->status != 201) return make_error("test", "create failed: " + (p ? p->body : std::string("-")));
    std::string t = json::parse(p->body)["transfer_id"];
    if (tid) *tid = t;
    std::string msg2;
    (void)relay.Get(("/v1/transfers/" + t + "/events").c_str(), auth, [&](const char* d, size_t n) {
      std::smatch m;
      std::string chunk(d, n);
      if (std::regex_search(chunk, m, std::regex("event: answer\nid: 0\ndata: (\\S+)\n"))) msg2 = m[1];
      return msg2.empty();
    });
    std::vector<uint8_t> raw;
    if (!base64::decode_into(msg2, raw)) return make_error("test", "no answer from the agent");
    auto hs = InitiatorHandshake::start_for_test(me_, agent_key_, bytes(payload_), &eph_);
    auto done = hs->finish(raw);
    if (!done) return done.error();
    return decode_answer(done->payload);
  }

 private:
  static std::span<const uint8_t> bytes(const std::string& s) {
    return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
  }
  Deployment& c_;
  std::string agent_;
  Identity me_;
  PublicKey agent_key_;
  Identity eph_;
  std::string payload_;
};

Request stat_request(const std::string& path, int64_t timestamp_ms) {
  Request r;
  r.op = Op::kStat;
  r.path = path;
  r.timestamp_ms = timestamp_ms;
  return r;
}

struct Started {
  int port = 0;
  std::string url, log;
};

// A relay and agent shop-1 (trusting the CLI's key), online.
Started start(Deployment& c, std::vector<std::string> agent_args = {}) {
  Started s;
  auto port = c.start_relay("a");
  EXPECT_TRUE(port.ok());
  s.port = port.ok() ? *port : 0;
  s.url = "http://127.0.0.1:" + std::to_string(s.port);
  EXPECT_TRUE(c.start_agent("shop-1", s.url, agent_args).ok());
  EXPECT_TRUE(c.agent_online(s.url, "shop-1"));
  s.log = c.dir() + "/agent-shop-1.log";
  return s;
}

// Issue 15, item 1: deleting alice's line while a broken line was added
// kept the old list in force (alice served) and logged nothing.
TEST(AgentTrust, ARemovedRequesterIsRefusedAfterAReloadEvenWhenABrokenLineWasAdded) {
  START_DEPLOYMENT(c, {.redis = true});
  Started s = start(c);
  std::ofstream(c.share("shop-1") + "/f.txt") << "hello\n";
  const std::string home = c.dir() + "/cli", authorized = c.dir() + "/agent-shop-1/authorized_requesters";
  auto public_key = [&] {
    std::smatch m;
    std::string text = read_file(home + "/identity.key");
    return std::regex_search(text, m, std::regex("public=(\\S+)")) ? m[1].str() : "";
  };
  // Two requesters: alice (the CLI's first key) and bob, swapped in by file.
  const std::string alice = public_key();
  fs::rename(home + "/identity.key", home + "/alice.key");
  ASSERT_EQ(c.cli(s.url, {"keygen"}).exit_code, 0);
  const std::string bob = public_key();
  fs::copy_file(home + "/identity.key", home + "/bob.key");
  auto as = [&](const std::string& who) {
    fs::copy_file(home + "/" + who + ".key", home + "/identity.key", fs::copy_options::overwrite_existing);
    return c.cli(s.url, {"stat", "shop-1:/demo/f.txt"});
  };
  replace_file(authorized, alice + " alice\n" + bob + " bob\n");
  ASSERT_EQ(as("alice").exit_code, 0) << as("alice").output;
  ASSERT_EQ(as("bob").exit_code, 0);

  // The admin removes alice; a typo lands on another line.
  replace_file(authorized, "# ops\n" + bob + " bob\nthis line is not a key\n");
  LoggedRun refused;
  EXPECT_TRUE(wait_until([&] { return (refused = as("alice")).exit_code == 3; }, 30s, 100ms))
      << refused.output << read_file(s.log);
  EXPECT_NE(refused.output.find("authorized_requesters"), std::string::npos) << refused.output;
  auto served = as("bob");
  EXPECT_EQ(served.exit_code, 0) << served.output;
  // The broken line is in the agent's log, by number and why.
  std::string log = read_file(s.log);
  EXPECT_TRUE(std::regex_search(log, std::regex("broken line.*line 3: expected a requester public key"))) << log;
  EXPECT_TRUE(c.agent("shop-1").running());
}

// Issue 15, item 2: a message 1 far from the agent's clock is refused, and
// the refusal (which the requester reads, encrypted) says so with both clocks.
TEST(AgentFreshness, AMessage1OutsideTheClockWindowIsRefusedAsClockSkewWithBothClocks) {
  START_DEPLOYMENT(c, {.redis = true});
  Started s = start(c);
  std::ofstream(c.share("shop-1") + "/f.txt") << "hello\n";
  HandRequester me(c, "shop-1");
  for (int64_t off : {-11 * 60'000, -3 * 86'400'000, 11 * 60'000}) {
    auto answer = me.send(s.port, me.message1(stat_request("/demo/f.txt", now_ms() + off)));
    ASSERT_TRUE(answer.ok()) << answer.error().message;
    EXPECT_FALSE(answer->ok) << off;
    EXPECT_EQ(answer->error, "clock_skew") << off;
    EXPECT_NE(answer->message.find("clock skew"), std::string::npos) << answer->message;
    std::regex time(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)");
    EXPECT_EQ(std::distance(std::sregex_iterator(answer->message.begin(), answer->message.end(), time),
                            std::sregex_iterator()),
              2)
        << "both clocks: " << answer->message;
  }
  EXPECT_TRUE(wait_until([&] { return read_file(s.log).find("result=clock_skew") != std::string::npos; }, 10s));
  EXPECT_NE(read_file(s.log).find("clock skew: the request was made at"), std::string::npos) << read_file(s.log);
  // A message 1 made now is served.
  auto fresh = me.send(s.port, me.message1(stat_request("/demo/f.txt", now_ms())));
  ASSERT_TRUE(fresh.ok()) << fresh.error().message;
  EXPECT_TRUE(fresh->ok) << fresh->error << ": " << fresh->message;
}

// Issue 15, item 2: the timestamp was recorded only when a request was
// served, so a message 1 refused (here `unauthorized`; `busy` and `not
// found` take the same path) could be replayed by the relay later, once the
// requester was authorized, and be served.
TEST(AgentFreshness, AMessage1RefusedAsUnauthorizedIsNeverAcceptedLater) {
  START_DEPLOYMENT(c, {.redis = true});
  Started s = start(c);
  std::ofstream(c.share("shop-1") + "/f.txt") << "hello\n";
  const std::string authorized = c.dir() + "/agent-shop-1/authorized_requesters";
  const std::string trusted = read_file(authorized);
  replace_file(authorized, "# nobody yet\n");
  HandRequester me(c, "shop-1");
  const std::string kept = me.message1(stat_request("/demo/f.txt", now_ms()));
  auto first = me.send(s.port, kept);
  ASSERT_TRUE(first.ok()) << first.error().message;
  EXPECT_EQ(first->error, "unauthorized");

  replace_file(authorized, trusted);  // The requester is authorized now...
  auto replayed = me.send(s.port, kept);  // ...and the relay replays what it kept.
  ASSERT_TRUE(replayed.ok()) << replayed.error().message;
  EXPECT_FALSE(replayed->ok) << "a refused message 1 was served when replayed";
  EXPECT_EQ(replayed->error, "replayed");
}

// The agent's log line for a transfer whose message starts with "transfer <tid>".
std::vector<std::string> lines_with(const std::string& log, const std::string& needle) {
  std::vector<std::string> out;
  std::istringstream in(log);
  for (std::string line; std::getline(in, line);) {
    if (line.find(needle) != std::string::npos) out.push_back(line);
  }
  return out;
}

// Whether a line of `log` starts as the path's forged line does.
bool forged_line(const std::string& log) {
  return log.starts_with("2026-01-01T00:00:00.000") || log.find("\n2026-01-01T00:00:00.000") != std::string::npos;
}

const std::string kForgingPath = "/demo/x\n2026-01-01T00:00:00.000 info transfer t_0 result=ok\x1b[31m result=ok";

// Issue 15, item 4: the requester's raw path went into the log line, so a
// newline forged a line, an escape sequence reached the terminal, and in
// JSON logs " result=ok" in the path became the result field.
TEST(AgentLog, ARequestersPathCannotForgeALogLineOrTheResultInText) {
  START_DEPLOYMENT(c, {.redis = true});
  Started s = start(c);
  HandRequester me(c, "shop-1");
  std::string tid;
  auto answer = me.send(s.port, me.message1(stat_request(kForgingPath, now_ms())), &tid);
  ASSERT_TRUE(answer.ok()) << answer.error().message;
  ASSERT_FALSE(answer->ok);
  ASSERT_TRUE(wait_until([&] { return !lines_with(read_file(s.log), "transfer " + tid).empty(); }, 10s));
  std::string log = read_file(s.log);
  auto lines = lines_with(log, "transfer " + tid);
  ASSERT_EQ(lines.size(), 1u) << log;
  EXPECT_EQ(log.find('\x1b'), std::string::npos) << "a raw escape byte in the log";
  EXPECT_FALSE(forged_line(log)) << log;
  EXPECT_NE(lines[0].find(R"(path="/demo/x\n2026-01-01T00:00:00.000 info transfer t_0 result=ok\x1b[31m result=ok")"),
            std::string::npos)
      << lines[0];
  EXPECT_NE(lines[0].find("\" bytes=0 "), std::string::npos) << lines[0];
  EXPECT_NE(lines[0].find(" result=" + answer->error + " "), std::string::npos) << lines[0];
}

TEST(AgentLog, ARequestersPathCannotForgeALogLineOrTheResultInJson) {
  START_DEPLOYMENT(c, {.redis = true});
  Started s = start(c, {"--log-format", "json"});
  HandRequester me(c, "shop-1");
  std::string tid;
  auto answer = me.send(s.port, me.message1(stat_request(kForgingPath, now_ms())), &tid);
  ASSERT_TRUE(answer.ok()) << answer.error().message;
  ASSERT_FALSE(answer->ok);
  ASSERT_TRUE(wait_until([&] { return !lines_with(read_file(s.log), "transfer " + tid).empty(); }, 10s));
  std::string log = read_file(s.log);
  auto lines = lines_with(log, "transfer " + tid);
  ASSERT_EQ(lines.size(), 1u) << log;
  auto j = json::parse(lines[0], nullptr, false);
  ASSERT_TRUE(j.is_object()) << lines[0];
  EXPECT_EQ(j["result"], answer->error) << lines[0];
  EXPECT_EQ(j["path"], kForgingPath) << lines[0];
  EXPECT_FALSE(forged_line(log)) << log;
  for (const auto& line : lines_with(log, "")) {
    EXPECT_TRUE(json::parse(line, nullptr, false).is_object()) << "not one JSON object per line: " << line;
  }
}

}  // namespace
}  // namespace sealrelay::test
