// packaging/monitoring/: the Prometheus alert rules pass promtool's check
// and their own unit tests (each alert fires on the series that should raise
// it, none on a healthy node), the Grafana dashboard is valid JSON whose
// every panel queries something, and every metric the rules and the
// dashboard name is one a running relay serves on /metrics. promtool comes
// from Debian's prometheus package (scripts/setup); without it the promtool
// tests say skipped.
#include <gtest/gtest.h>
#include <httplib.h>
#include <unistd.h>

#include <nlohmann/json.hpp>
#include <regex>
#include <set>

#include "tests/support/support.h"

namespace sealrelay::test {
namespace {

const std::string kMonitoring = std::string(SEALRELAY_SOURCE_DIR) + "/packaging/monitoring";

std::string promtool() {
  for (const char* p : {"/usr/bin/promtool", "/usr/local/bin/promtool"}) {
    if (::access(p, X_OK) == 0) return p;
  }
  return "";
}

std::set<std::string> metric_names_in(const std::string& text) {
  static const std::regex name(R"(\bsealrelay_[a-z_]+)");
  std::set<std::string> out;
  for (std::sregex_iterator it(text.begin(), text.end(), name), end; it != end; ++it) out.insert(it->str());
  return out;
}

// Every query of the dashboard, concatenated.
std::string dashboard_queries(const nlohmann::json& dashboard) {
  std::string out;
  for (const auto& panel : dashboard.at("panels")) {
    for (const auto& target : panel.at("targets")) out += target.at("expr").get<std::string>() + "\n";
  }
  return out;
}

TEST(Monitoring, TheAlertRulesPassPromtoolsCheck) {
  if (promtool().empty()) GTEST_SKIP() << "promtool is not installed (Debian's prometheus; scripts/setup installs it)";
  TempDir dir;
  auto run = run_logged({promtool(), "check", "rules", kMonitoring + "/sealrelay-alerts.yml"}, dir.path() + "/log");
  EXPECT_EQ(run.exit_code, 0) << run.output;
}

TEST(Monitoring, EachAlertFiresOnItsSeriesAndNoneOnAHealthyNode) {
  if (promtool().empty()) GTEST_SKIP() << "promtool is not installed (Debian's prometheus; scripts/setup installs it)";
  TempDir dir;
  auto run = run_logged({promtool(), "test", "rules", kMonitoring + "/sealrelay-alerts.test.yml"},
                        dir.path() + "/log");
  EXPECT_EQ(run.exit_code, 0) << run.output;
}

TEST(Monitoring, EveryDashboardPanelQueriesSomething) {
  auto dashboard = nlohmann::json::parse(read_file(kMonitoring + "/sealrelay-dashboard.json"));
  ASSERT_FALSE(dashboard.at("panels").empty());
  for (const auto& panel : dashboard.at("panels")) {
    ASSERT_FALSE(panel.at("targets").empty()) << panel.at("title");
    for (const auto& target : panel.at("targets")) {
      EXPECT_FALSE(metric_names_in(target.at("expr").get<std::string>()).empty()) << panel.at("title");
    }
  }
}

TEST(Monitoring, EveryMetricTheRulesAndTheDashboardNameIsServedByTheRelay) {
  TempDir dir;
  auto relay = Process::spawn({binary("relay/sealrelay-relay"), "--state-dir", dir.path(), "--listen", "127.0.0.1:0"},
                              dir.path() + "/relay.log");
  ASSERT_TRUE(relay.ok()) << relay.error().message;
  auto port = (*relay)->wait_for_log(R"(listening on [0-9.]+:(\d+))", 20s);
  ASSERT_TRUE(port) << (*relay)->log();
  httplib::Client client("127.0.0.1", std::stoi(*port));
  auto metrics = client.Get("/metrics");
  ASSERT_TRUE(metrics && metrics->status == 200);
  std::set<std::string> served;
  static const std::regex family(R"(# TYPE (sealrelay_[a-z_]+) )");
  for (std::sregex_iterator it(metrics->body.begin(), metrics->body.end(), family), end; it != end; ++it) {
    served.insert((*it)[1]);
  }
  ASSERT_GE(served.size(), 5u) << metrics->body;
  auto named = metric_names_in(read_file(kMonitoring + "/sealrelay-alerts.yml"));
  auto in_dashboard =
      metric_names_in(dashboard_queries(nlohmann::json::parse(read_file(kMonitoring + "/sealrelay-dashboard.json"))));
  named.insert(in_dashboard.begin(), in_dashboard.end());
  ASSERT_FALSE(named.empty());
  for (const auto& name : named) EXPECT_TRUE(served.count(name)) << name << " is named but not served";
}

}  // namespace
}  // namespace sealrelay::test
