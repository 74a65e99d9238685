// The docker-compose topology, natively on loopback: Redis with a password,
// two relay nodes on it, nginx in front with packaging/nginx/sealrelay.conf
// (TLS, HTTP/2, limits, unbuffered SSE and uploads), an agent and the CLI
// connecting through nginx only.
#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>
#include <fstream>
#include <random>
#include <regex>
#include <thread>

#include "proto/relay_client.h"
#include "tests/integration/deploy/site.h"

namespace sealrelay::test {
namespace {

constexpr const char* kRedisPassword = "deploy-test-pw";

// packaging/nginx/sealrelay.conf for this loopback site: TLS on @PORT@, the
// redirect server on a unix socket (no port 80), the two relay nodes, the
// certificates and the proxy snippet from the source tree.
std::string nginx_site(const Deployment& site, int relay_a, int relay_b) {
  std::string conf = read_file(source("packaging/nginx/sealrelay.conf"));
  conf = replace_all(conf, "listen 80;\n    listen [::]:80;", "listen unix:" + site.dir() + "/http.sock;");
  conf = replace_all(conf, "listen 443 ssl http2;\n    listen [::]:443 ssl http2;", "listen 127.0.0.1:@PORT@ ssl http2;");
  conf = replace_all(conf, "server 127.0.0.1:8081;", "server 127.0.0.1:" + std::to_string(relay_a) + ";");
  conf = replace_all(conf, "server 127.0.0.1:8082;", "server 127.0.0.1:" + std::to_string(relay_b) + ";");
  conf = replace_all(conf, "/etc/sealrelay/tls/", certs_dir(site) + "/");
  conf = replace_all(conf, "/etc/nginx/snippets/sealrelay-proxy.conf", source("packaging/nginx/sealrelay-proxy.conf"));
  return conf;
}

class BehindNginx : public ::testing::Test {
 protected:
  void SetUp() override {
    if (Nginx::binary().empty()) GTEST_SKIP() << "nginx is not installed (scripts/setup installs it)";
    if (find_program({"/usr/bin/openssl"}).empty()) GTEST_SKIP() << "openssl is not installed";
    int redis_port = free_port();
    auto r = RedisServer::start(site.dir(), {"--port", std::to_string(redis_port), "--bind", "127.0.0.1"});
    if (!r && r.error().code == "redis_absent") GTEST_SKIP() << r.error().message;
    ASSERT_TRUE(r) << r.error().message;
    redis = std::move(*r);
    ASSERT_TRUE(redis->command({"CONFIG", "SET", "requirepass", kRedisPassword}));
    redis_url = "redis://:" + std::string(kRedisPassword) + "@127.0.0.1:" + std::to_string(redis_port);

    ASSERT_TRUE(make_certs(site, {"ca"}));
    ASSERT_TRUE(make_certs(site, {"relay"}));
    ca = certs_dir(site) + "/ca.crt";
    ASSERT_TRUE(site.add_agent("shop-1", {.token = false}));
    for (const char* id : {"shop-1", "probe"}) {
      auto t = site.token({"add-agent", id});
      ASSERT_TRUE(t);
      agent_tokens[id] = *t;
    }
    std::ofstream(site.dir() + "/shop-1.token") << agent_tokens["shop-1"] << "\n";

    for (const char* name : {"a", "b"}) {
      auto node = site.start_relay(name, {"--redis", redis_url, "--rate-per-ip", "0"});
      ASSERT_TRUE(node) << node.error().message;
    }
    auto n = Nginx::start(site.dir() + "/nginx", nginx_site(site, site.port("a"), site.port("b")));
    ASSERT_TRUE(n) << n.error().message;
    nginx = std::move(*n);
    url = "https://127.0.0.1:" + std::to_string(nginx->port());
  }

  void start_agent() {
    auto a = site.spawn_agent("shop-1", url, {"--ca-file", ca, "--token-file", site.dir() + "/shop-1.token"});
    ASSERT_TRUE(a) << a.error().message;
    agent = std::move(*a);
    ASSERT_TRUE(site.agent_online(url, "shop-1", 20s, {"--ca-file", ca})) << agent->log() << nginx->log();
  }

  // A random file in shop-1's share.
  std::string put_file(const std::string& name, size_t bytes) {
    std::mt19937_64 rng(bytes);
    std::string data(bytes, '\0');
    for (auto& c : data) c = static_cast<char>(rng());
    std::ofstream(site.share("shop-1") + "/" + name, std::ios::binary) << data;
    return data;
  }

  // sealrelay_requests_total summed over every route and status of one node.
  static long requests_served(int port) {
    auto r = run_command({find_program({"/usr/bin/curl"}), "-s", "http://127.0.0.1:" + std::to_string(port) + "/metrics"});
    if (!r || r->exit_code != 0) return -1;
    long total = 0;
    std::regex line(R"(sealrelay_requests_total\{[^}]*\} (\d+))");
    for (std::sregex_iterator it(r->out.begin(), r->out.end(), line), end; it != end; ++it) total += std::stol((*it)[1]);
    return total;
  }

  std::unique_ptr<Deployment> made = start_site();
  Deployment& site = *made;
  std::unique_ptr<RedisServer> redis;
  std::string redis_url, ca, url;
  std::map<std::string, std::string> agent_tokens;
  std::unique_ptr<Nginx> nginx;
  std::unique_ptr<Process> agent;
};

TEST_F(BehindNginx, ADownloadThroughNginxAndTwoRelayNodesIsBitIdentical) {
  std::string data = put_file("camera-0001.bin", 24u << 20);
  start_agent();
  std::string out = site.dir() + "/camera-0001.bin";
  auto r = site.cli(url, {"--quiet", "get", "shop-1:/demo/camera-0001.bin", "-o", out}, 120s, {"--ca-file", ca});
  ASSERT_EQ(r.exit_code, 0) << r.output << agent->log() << nginx->log();
  EXPECT_TRUE(read_file(out) == data) << "the file differs";
  // A listing as well: a second request, spread by nginx too.
  auto ls = site.cli(url, {"ls", "shop-1:/demo"}, 60s, {"--ca-file", ca});
  EXPECT_EQ(ls.exit_code, 0) << ls.output;
  EXPECT_NE(ls.output.find("camera-0001.bin"), std::string::npos) << ls.output;
  if (!find_program({"/usr/bin/curl"}).empty()) {
    EXPECT_GT(requests_served(site.port("a")), 0) << "nginx sent nothing to node a";
    EXPECT_GT(requests_served(site.port("b")), 0) << "nginx sent nothing to node b";
  }
}

TEST_F(BehindNginx, AnSseEventPassesThroughNginxBeforeTheStreamEnds) {
  // A bare agent's control stream through nginx, open for as long as we read.
  RelayConfig rc;
  rc.url = url;
  rc.ca_file = ca;
  rc.token = agent_tokens["probe"];
  auto client = RelayClient::create(rc);
  ASSERT_TRUE(client) << client.error().message;
  std::mutex mu;
  std::vector<std::string> events;
  std::atomic<bool> stream_ended{false};
  std::thread reader([&] {
    (void)(*client)->stream("/v1/agent/control", "", {{"X-Sealrelay-Public-Key", std::string(43, 'A') + "="}},
                      [&](sse::Event&& e) {
                        std::lock_guard lk(mu);
                        events.push_back(e.name + " " + e.data);
                        return e.name != "transfer";  // stop reading once the request arrived
                      });
    stream_ended = true;
  });
  ASSERT_TRUE(site.agent_online(url, "probe", 20s, {"--ca-file", ca})) << nginx->log();

  // A transfer request for it, through nginx (maybe through the other node).
  RelayConfig req = rc;
  auto token = site.token({"add-requester", "sse-probe", "--agents", "probe"});
  ASSERT_TRUE(token);
  req.token = *token;
  auto requester = RelayClient::create(req);
  ASSERT_TRUE(requester);
  nlohmann::json body = {{"agent", "probe"}, {"msg1", "AAAA"}};
  Result<nlohmann::json> created = make_error("", "");
  ASSERT_TRUE(wait_until([&] { return (created = (*requester)->call("POST", "/v1/transfers", &body)).ok(); }, 10s,
                         100ms))
      << created.error().message;
  std::string tid = (*created)["transfer_id"];

  // The event arrives while the relay keeps the stream open: nginx did not
  // hold it back until the end.
  bool arrived = wait_until(
      [&] {
        std::lock_guard lk(mu);
        return !events.empty() && events.back().find(tid) != std::string::npos;
      },
      10s);
  EXPECT_TRUE(arrived) << nginx->log();
  EXPECT_TRUE(wait_until([&] { return stream_ended.load(); }, 10s)) << "we stopped reading after the event";
  reader.join();
}

TEST_F(BehindNginx, StreamsKeepTheirSseHeadersAndBrowsersGetHttp2) {
  std::string curl = find_program({"/usr/bin/curl"});
  if (curl.empty()) GTEST_SKIP() << "curl is not installed";
  auto token = site.token({"add-requester", "h2-probe", "--agents", "*"});
  ASSERT_TRUE(token);
  // HTTP/2 toward browsers (ALPN), plain HTTP/1.1 toward the relays.
  auto h2 = run_command({curl, "-s", "--http2", "--cacert", ca, "-o", "/dev/null", "-w", "%{http_version}",
                         url + "/healthz"});
  ASSERT_TRUE(h2);
  EXPECT_EQ(h2->out, "2") << h2->err;
  // /metrics stays inside: scraped per node, never through the front.
  auto metrics = run_command({curl, "-s", "--cacert", ca, "-o", "/dev/null", "-w", "%{http_code}", url + "/metrics"});
  ASSERT_TRUE(metrics);
  EXPECT_EQ(metrics->out, "404");
  // An event stream's headers survive the proxy; --max-time ends it.
  std::string tid = "t_" + std::string(32, '0');
  auto headers = run_command({curl, "-s", "--http2", "--cacert", ca, "-D", "-", "-o", "/dev/null", "--max-time", "3",
                              "-H", "Authorization: Bearer " + agent_tokens["probe"], "-H",
                              "X-Sealrelay-Public-Key: " + std::string(43, 'A') + "=", url + "/v1/agent/control"});
  ASSERT_TRUE(headers);
  EXPECT_NE(headers->out.find("content-type: text/event-stream"), std::string::npos) << headers->out;
  EXPECT_EQ(headers->out.find("content-encoding"), std::string::npos) << headers->out;
}

// Issue 15: nginx lifts its body limit for the frame upload's exact path
// only; a path that merely starts like it keeps the small limit, and a
// chunked body there is refused (by nginx or by the relay, which refuses it
// from the headers) instead of being carried to a relay node.
TEST_F(BehindNginx, OnlyTheExactUploadPathTakesAnUnlimitedBody) {
  std::string curl = find_program({"/usr/bin/curl"});
  if (curl.empty()) GTEST_SKIP() << "curl is not installed";
  std::string body = site.dir() + "/body.bin";
  std::ofstream(body, std::ios::binary) << std::string(4u << 20, 'z');
  std::string small = site.dir() + "/small.bin";
  std::ofstream(small, std::ios::binary) << std::string(1000, 'z');
  auto post = [&](const std::string& path, bool chunked, const std::string& file) {
    std::vector<std::string> argv = {curl, "-s", "--http1.1", "--cacert", ca, "-o", site.dir() + "/answer", "-w",
                                     "%{http_code}", "-H", "Authorization: Bearer " + agent_tokens["probe"], "-H",
                                     "X-Sealrelay-First-Frame: 0", "--data-binary", "@" + file};
    if (chunked) argv.insert(argv.end(), {"-H", "Transfer-Encoding: chunked"});
    argv.push_back(url + path);
    auto r = run_command(argv);
    EXPECT_TRUE(r) << r.error().message;
    return r ? std::make_pair(r->out, read_file(site.dir() + "/answer")) : std::make_pair(std::string(), std::string());
  };
  for (const std::string& path : std::vector<std::string>{"/v1/agent/transfers/a/b/frames", "/v1/agent/transfers/t_nope/frames",
                                 "/v1/agent/transfers/t_" + std::string(32, '0') + "/frames/x"}) {
    SCOPED_TRACE(path);
    // Chunked or with a length, nginx's own limit answers: the body never
    // reaches a node.
    for (bool chunked : {true, false}) {
      auto [status, answer] = post(path, chunked, body);
      EXPECT_EQ(status, "413") << answer;
      EXPECT_NE(answer.find("nginx"), std::string::npos) << "refused by nginx, not a relay node: " << answer;
    }
    // A small chunked body reaches the relay de-chunked, as a JSON route's.
    auto [status, answer] = post(path, true, small);
    EXPECT_EQ(status, "404") << answer;
    EXPECT_NE(answer.find("\"error\""), std::string::npos) << answer;
  }
  // The exact path passes a chunked body on to the relay, which answers for
  // the transfer (ADownloadThroughNginx... carries a 24 MiB upload through it).
  auto [status, answer] = post("/v1/agent/transfers/t_" + std::string(32, '0') + "/frames", true, small);
  EXPECT_EQ(status, "404") << answer;
  EXPECT_NE(answer.find("unknown_transfer"), std::string::npos) << answer;
}

TEST_F(BehindNginx, WhenOneRelayNodeDiesTheOtherCarriesOn) {
  std::string data = put_file("report.csv", 3u << 20);
  start_agent();
  site.stop_relay(SIGKILL, "a");
  // The agent's control stream may have been on the dead node: it reconnects
  // through nginx, which now only reaches node b.
  std::string out;
  int attempt = 0;
  bool done = wait_until(
      [&] {
        out = site.dir() + "/report-" + std::to_string(++attempt) + ".csv";
        auto r = site.cli(url, {"--quiet", "get", "shop-1:/demo/report.csv", "-o", out}, 60s, {"--ca-file", ca});
        return r.exit_code == 0;
      },
      40s, 500ms);
  ASSERT_TRUE(done) << agent->log() << nginx->log();
  EXPECT_TRUE(read_file(out) == data);
}

}  // namespace
}  // namespace sealrelay::test
