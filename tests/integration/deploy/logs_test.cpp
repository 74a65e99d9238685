// Structured logs: --log-format json / SEALRELAY_LOG_FORMAT=json makes the
// relay and the agent write one JSON object per line (time, level,
// component, message, and the fields of records logged with fields); text stays the default. Neither
// ever logs a token or a key, and the relay nothing but ids and sizes.
#include <gtest/gtest.h>
#include <signal.h>

#include <fstream>
#include <set>
#include <regex>
#include <sstream>

#include <nlohmann/json.hpp>

#include "tests/integration/deploy/site.h"

namespace sealrelay::test {
namespace {

using nlohmann::json;

// The formatter itself (fields, escaping): tests/unit/base/log_format_test.cpp.

// Every line of `log` is a JSON object with the standard keys; returns them.
std::vector<json> json_lines(const std::string& log, const std::string& component) {
  std::vector<json> out;
  std::istringstream in(log);
  for (std::string line; std::getline(in, line);) {
    auto j = json::parse(line, nullptr, false);
    EXPECT_TRUE(j.is_object()) << "not a JSON object: " << line;
    if (!j.is_object()) continue;
    EXPECT_TRUE(j["time"].is_string()) << line;
    EXPECT_TRUE(j["message"].is_string()) << line;
    EXPECT_EQ(j["component"], component) << line;
    static const std::set<std::string> levels{"trace", "debug", "info", "warn", "error", "fatal"};
    EXPECT_TRUE(j["level"].is_string() && levels.count(j["level"].get<std::string>())) << line;
    out.push_back(j);
  }
  return out;
}

std::string value_of(const std::string& file, const std::string& key) {
  std::smatch m;
  std::string text = read_file(file);
  return std::regex_search(text, m, std::regex(key + "=(\\S+)")) ? m[1].str() : "";
}

TEST(StructuredLogs, RelayAndAgentWriteJsonLinesWithoutSecretsOrNames) {
  std::unique_ptr<Deployment> made = start_site();
  Deployment& site = *made;
  ASSERT_TRUE(site.add_agent("shop-1"));
  const std::string token_file = site.agent_token_file("shop-1");
  const std::string agent_token = first_line(read_file(token_file));
  const std::string name = "quarterly-secret-plans.txt";
  std::ofstream(site.share("shop-1") + "/" + name) << "the plaintext the relay must never see\n";

  auto relay = site.start_relay("json", {"--log-format", "json", "--log-level", "debug"});
  ASSERT_TRUE(relay) << relay.error().message;
  const std::string url = site.url("json");
  auto p = Process::spawn({binary("agent/sealrelay-agent"), "run", "--state-dir", site.agent_state("shop-1"),
                           "--relay-url", url, "--token-file", token_file, "--share", "demo=" + site.share("shop-1")},
                          site.dir() + "/agent.log", Process::Options{{"SEALRELAY_LOG_FORMAT=json"}, ""});
  ASSERT_TRUE(p);
  auto agent = std::move(*p);
  ASSERT_TRUE(site.agent_online(url, "shop-1", 20s)) << agent->log();
  auto got = site.cli(url, {"--quiet", "get", "shop-1:/demo/" + name, "-o", site.dir() + "/out.txt"});
  ASSERT_EQ(got.exit_code, 0) << got.output;
  ASSERT_TRUE(agent->wait_for_log("result=ok", 10s)) << agent->log();
  agent->kill(SIGTERM);
  agent->wait_exit(20s);
  site.stop_relay(SIGTERM, "json");

  std::string relay_log = site.relay("json").log(), agent_log = agent->log();
  auto relay_lines = json_lines(relay_log, "relay");
  auto agent_lines = json_lines(agent_log, "agent");
  EXPECT_GT(relay_lines.size(), 3u);
  bool transfer_logged = false;
  for (auto& j : agent_lines) {
    if (j.value("result", "") == "ok" && j.value("op", "") == "get") {
      transfer_logged = true;
      EXPECT_TRUE(j["bytes"].is_number_integer()) << j.dump();
    }
  }
  EXPECT_TRUE(transfer_logged) << agent_log;

  // Secrets: tokens (whole, or their secret half) and private keys.
  std::vector<std::string> secrets{agent_token, agent_token.substr(agent_token.rfind('_') + 1),
                                   value_of(site.agent_state("shop-1") + "/identity.key", "private"),
                                   value_of(site.dir() + "/cli/identity.key", "private")};
  for (auto& s : secrets) {
    ASSERT_GT(s.size(), 20u);
    EXPECT_EQ(relay_log.find(s), std::string::npos) << "a secret in the relay's log";
    EXPECT_EQ(agent_log.find(s), std::string::npos) << "a secret in the agent's log";
  }
  // The relay never learns a name or path, so it cannot log one.
  EXPECT_EQ(relay_log.find("quarterly"), std::string::npos);
  EXPECT_EQ(relay_log.find("/demo"), std::string::npos);
}

TEST(StructuredLogs, TextIsTheDefault) {
  std::unique_ptr<Deployment> made = start_site();
  Deployment& site = *made;
  auto relay = site.start_relay("text");
  ASSERT_TRUE(relay) << relay.error().message;
  std::string first = first_line(site.relay("text").log());
  EXPECT_FALSE(json::parse(first, nullptr, false).is_object()) << first;
  EXPECT_TRUE(std::regex_search(first, std::regex(R"(^\d{4}-\d\d-\d\dT[0-9:.]+ [a-z]+ )"))) << first;
}

}  // namespace
}  // namespace sealrelay::test
