// Redis with a password (requirepass, as docker-compose.yml runs it): the
// relay's --redis URL carries it (redis://:PASSWORD@host:port), every
// connection sends AUTH, and a missing or wrong password stops the relay
// at start with a clear message that never shows the password.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include "relay/redis.h"
#include "tests/integration/deploy/site.h"

namespace sealrelay::test {
namespace {

using relay::RedisEndpoint;
using relay::redact_redis_url;

TEST(RedisUrl, APasswordAndAnOptionalUserArePercentDecoded) {
  auto a = RedisEndpoint::parse("redis://:s3cret@redis:6380");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->host, "redis");
  EXPECT_EQ(a->port, 6380);
  EXPECT_EQ(a->username, "");
  EXPECT_EQ(a->password, "s3cret");
  auto b = RedisEndpoint::parse("redis://relay:p%40ss%3Aword@10.0.0.7/0");
  ASSERT_TRUE(b);
  EXPECT_EQ(b->host, "10.0.0.7");
  EXPECT_EQ(b->port, 6379);
  EXPECT_EQ(b->username, "relay");
  EXPECT_EQ(b->password, "p@ss:word");
  auto c = RedisEndpoint::parse("unix://:pw@/run/redis/redis.sock");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->socket_path, "/run/redis/redis.sock");
  EXPECT_EQ(c->password, "pw");
  auto d = RedisEndpoint::parse("redis://:unescaped@at@host:1");
  ASSERT_TRUE(d);
  EXPECT_EQ(d->password, "unescaped@at");
  EXPECT_EQ(d->host, "host");
  auto plain = RedisEndpoint::parse("redis://127.0.0.1:6379");
  ASSERT_TRUE(plain);
  EXPECT_EQ(plain->password, "");
}

TEST(RedisUrl, MalformedCredentialsAreRefusedWithoutEchoingThem) {
  for (const char* url : {"redis://user@host:1", "redis://:@host:1", "redis://:bad%zzescape@host",
                          "redis://:bad%4@host", "unix://:pw@relative/path"}) {
    auto r = RedisEndpoint::parse(url);
    EXPECT_FALSE(r) << url;
    if (!r) {
      EXPECT_EQ(r.error().message.find("escape@"), std::string::npos) << r.error().message;
    }
  }
}

TEST(RedisUrl, RedactionHidesOnlyThePassword) {
  EXPECT_EQ(redact_redis_url("redis://:s3cret@redis:6379"), "redis://:***@redis:6379");
  EXPECT_EQ(redact_redis_url("redis://relay:s3cret@redis:6379/0"), "redis://relay:***@redis:6379/0");
  EXPECT_EQ(redact_redis_url("unix://:pw@/run/r.sock"), "unix://:***@/run/r.sock");
  EXPECT_EQ(redact_redis_url("redis://127.0.0.1:6379"), "redis://127.0.0.1:6379");
  EXPECT_EQ(redact_redis_url("unix:///tmp/a@b.sock"), "unix:///tmp/a@b.sock");
}

class RedisPassword : public ::testing::Test {
 protected:
  void SetUp() override {
    redis_port = free_port();
    auto r = RedisServer::start(site.dir(), {"--port", std::to_string(redis_port), "--bind", "127.0.0.1"});
    if (!r && r.error().code == "redis_absent") GTEST_SKIP() << r.error().message;
    ASSERT_TRUE(r) << r.error().message;
    redis = std::move(*r);
    auto set = redis->command({"CONFIG", "SET", "requirepass", kPassword});
    ASSERT_TRUE(set) << set.error().message;
  }
  std::string url(const std::string& password) {
    return "redis://" + (password.empty() ? "" : ":" + password + "@") + "127.0.0.1:" + std::to_string(redis_port);
  }
  // Starts a relay that must fail; returns its log.
  std::string failing_relay(const std::string& name, const std::vector<std::string>& env) {
    auto p = Process::spawn({binary("relay/sealrelay-relay"), "--state-dir", site.dir() + "/relay", "--listen",
                             "127.0.0.1:0"},
                            site.dir() + "/" + name + ".log", Process::Options{env, ""});
    EXPECT_TRUE(p);
    if (!p) return "";
    auto status = (*p)->wait_exit(20s);
    EXPECT_TRUE(status && WIFEXITED(*status) && WEXITSTATUS(*status) == 1) << (*p)->log();
    return (*p)->log();
  }

  static constexpr const char* kPassword = "c0rrect-h0rse";
  std::unique_ptr<Deployment> made = start_site();
  Deployment& site = *made;
  int redis_port = 0;
  std::unique_ptr<RedisServer> redis;
};

TEST_F(RedisPassword, TwoRelaysWithThePasswordShareTheStore) {
  auto a = site.start_relay("a", {"--redis", url(kPassword)});
  ASSERT_TRUE(a) << a.error().message;
  // From the environment, as docker-compose.yml passes it.
  auto p = Process::spawn({binary("relay/sealrelay-relay"), "--state-dir", site.dir() + "/relay", "--listen",
                           "127.0.0.1:0"},
                          site.dir() + "/relay-b.log", Process::Options{{"SEALRELAY_REDIS=" + url(kPassword)}, ""});
  ASSERT_TRUE(p);
  ASSERT_TRUE((*p)->wait_for_log("listening on .*redis store", 20s)) << (*p)->log();
  EXPECT_NE(site.relay("a").log().find("redis store"), std::string::npos);
  EXPECT_EQ(site.relay("a").log().find(kPassword), std::string::npos);
}

TEST_F(RedisPassword, AWrongOrMissingPasswordStopsTheRelayAndIsNeverLogged) {
  std::string wrong = failing_relay("wrong", {"SEALRELAY_REDIS=" + url("not-the-password")});
  EXPECT_NE(wrong.find("AUTH refused"), std::string::npos) << wrong;
  EXPECT_EQ(wrong.find("not-the-password"), std::string::npos) << wrong;
  EXPECT_NE(wrong.find(":***@"), std::string::npos) << wrong;
  std::string missing = failing_relay("missing", {"SEALRELAY_REDIS=" + url("")});
  EXPECT_NE(missing.find("NOAUTH"), std::string::npos) << missing;
}

}  // namespace
}  // namespace sealrelay::test
