// relay/server.h's route table: the one list of routes, checked against
// docs/api.md's route list and used for metrics labels.
#include <gtest/gtest.h>

#include <fstream>
#include <regex>
#include <set>
#include <sstream>

#include "relay/server.h"

namespace sealrelay::relay {
namespace {

// The routes of docs/api.md's "## Routes" section: `METHOD /path` cells.
std::set<std::string> documented_routes() {
  std::ifstream in(std::string(SEALRELAY_SOURCE_DIR) + "/docs/api.md");
  std::stringstream all;
  all << in.rdbuf();
  std::string text = all.str();
  auto from = text.find("\n## Routes\n");
  if (from == std::string::npos) return {};
  auto to = text.find("\n## ", from + 1);
  std::string section = text.substr(from, to - from);
  std::set<std::string> out;
  std::regex cell(R"(\| `((GET|POST|DELETE|PUT|PATCH) [^`]+)` \|)");
  for (std::sregex_iterator it(section.begin(), section.end(), cell), end; it != end; ++it) {
    out.insert((*it)[1]);
  }
  return out;
}

TEST(ServerRoutes, DocsApiRouteListIsExactlyTheRouteTable) {
  std::set<std::string> routed;
  for (auto& r : Server::routes()) {
    EXPECT_TRUE(routed.insert(std::string(r.method) + " " + r.path).second) << "twice: " << r.path;
  }
  auto documented = documented_routes();
  ASSERT_FALSE(documented.empty()) << "docs/api.md has no ## Routes section";
  for (auto& r : routed) EXPECT_TRUE(documented.count(r)) << "not in docs/api.md's route list: " << r;
  for (auto& d : documented) EXPECT_TRUE(routed.count(d)) << "documented but not routed: " << d;
}

TEST(ServerRoutes, AMetricsLabelIsTheRoutePatternNeverAnIdOrPath) {
  EXPECT_EQ(Server::route_name("GET", "/v1/transfers/t_abc"), "GET /v1/transfers/{tid}");
  EXPECT_EQ(Server::route_name("DELETE", "/v1/transfers/t_abc"), "DELETE /v1/transfers/{tid}");
  EXPECT_EQ(Server::route_name("GET", "/v1/transfers/t_abc/events"),
            "GET /v1/transfers/{tid}/events");
  EXPECT_EQ(Server::route_name("POST", "/v1/agent/transfers/t_1/frames"),
            "POST /v1/agent/transfers/{tid}/frames");
  EXPECT_EQ(Server::route_name("GET", "/healthz"), "GET /healthz");
  EXPECT_EQ(Server::route_name("GET", "/v1/transfers/t_abc/secret-name"), "GET /v1/other");
  EXPECT_EQ(Server::route_name("POST", "/v1/agents"), "POST /v1/other");
  EXPECT_EQ(Server::route_name("GET", "/v1/transfers/"), "GET /v1/other");
  EXPECT_EQ(Server::route_name("GET", "/index.html"), "GET static");
  EXPECT_EQ(Server::route_name("GET", "/healthz/x"), "GET static");
}

}  // namespace
}  // namespace sealrelay::relay
