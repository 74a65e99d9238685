#include "proto/proxy.h"

#include <gtest/gtest.h>

#include <map>

namespace sealrelay {
namespace {

struct Env {
  std::map<std::string, std::string> vars;
  EnvLookup lookup() const {
    return [this](const char* name) -> const char* {
      auto it = vars.find(name);
      return it == vars.end() ? nullptr : it->second.c_str();
    };
  }
};

std::optional<Proxy> chosen(const std::string& url, const std::string& setting, const Env& env = {}) {
  auto p = choose_proxy(url, setting, env.lookup());
  EXPECT_TRUE(p.ok()) << p.error().message;
  return p ? *p : std::nullopt;
}

TEST(Proxy, TheSettingWinsOverTheEnvironmentAndDirectMeansNone) {
  Env env{{{"HTTPS_PROXY", "http://env-proxy:3128"}}};
  auto p = chosen("https://relay.example.com", "http://site-proxy:8080", env);
  ASSERT_TRUE(p);
  EXPECT_EQ(p->host, "site-proxy");
  EXPECT_EQ(p->port, 8080);
  EXPECT_FALSE(chosen("https://relay.example.com", "direct", env));
  p = chosen("https://relay.example.com", "", env);
  ASSERT_TRUE(p);
  EXPECT_EQ(p->host, "env-proxy");
}

TEST(Proxy, TheEnvironmentVariableFollowsTheRelaysSchemeAndLowerCaseWins) {
  Env env{{{"HTTPS_PROXY", "http://upper:1"}, {"https_proxy", "http://lower:2"}, {"HTTP_PROXY", "http://plain:3"}}};
  EXPECT_EQ(chosen("https://relay.example.com", "", env)->host, "lower");
  EXPECT_EQ(chosen("http://relay.example.com:8080", "", env)->host, "plain");
  EXPECT_FALSE(chosen("https://relay.example.com", "", Env{{{"HTTP_PROXY", "http://plain:3"}}}));
  EXPECT_FALSE(chosen("https://relay.example.com", ""));
}

TEST(Proxy, NoProxyExemptsTheHostItsDomainOrEverything) {
  Env env{{{"HTTPS_PROXY", "http://p:3128"}, {"NO_PROXY", "localhost, .internal,example.org"}}};
  EXPECT_FALSE(chosen("https://relay.example.org", "", env));
  EXPECT_FALSE(chosen("https://EXAMPLE.org:8443", "", env));
  EXPECT_FALSE(chosen("https://relay.corp.internal", "", env));
  EXPECT_TRUE(chosen("https://notexample.org", "", env));
  EXPECT_TRUE(chosen("https://relay.example.com", "", env));
  Env proxied{{{"HTTPS_PROXY", "http://p:3128"}, {"HTTP_PROXY", "http://p:3128"}}};
  for (const char* local : {"http://127.0.0.1:8080", "https://localhost", "http://[::1]:8080", "https://127.0.0.2"}) {
    EXPECT_FALSE(chosen(local, "", proxied)) << local;
  }
  EXPECT_TRUE(chosen("http://relay.example.com:8080", "", proxied));
  env.vars["no_proxy"] = "*";
  EXPECT_FALSE(chosen("https://relay.example.com", "", env));
  // The setting is the admin's explicit choice: NO_PROXY does not undo it.
  EXPECT_TRUE(chosen("https://relay.example.org", "http://p:3128", env));
}

TEST(Proxy, CredentialsAreDecodedAndLeftOutOfTheDisplay) {
  auto p = chosen("https://relay.example.com", "http://shop%40site:p%3Ass@proxy.lan:3128");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->user, "shop@site");
  EXPECT_EQ(p->password, "p:ss");
  EXPECT_EQ(p->display(), "http://proxy.lan:3128");
  p = chosen("https://relay.example.com", "proxy.lan");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->port, 80);
  EXPECT_EQ(p->display(), "http://proxy.lan:80");
  EXPECT_EQ(chosen("https://relay.example.com", "http://[::1]:3128")->display(), "http://[::1]:3128");
}

TEST(Proxy, WhatIsNotAnHttpProxyIsRefusedWithoutRepeatingIt) {
  for (const char* bad : {"socks5://user:secret@proxy:1080", "https://user:secret@proxy:443", "http://user:secret@",
                          "http://user:secret@proxy:99999", "http://user:se%zzcret@proxy:3128", "proxy:port"}) {
    auto p = choose_proxy("https://relay.example.com", bad, Env{}.lookup());
    ASSERT_FALSE(p.ok()) << bad;
    EXPECT_EQ(p.error().code, "bad_config");
    EXPECT_NE(p.error().message.find("http://[USER:PASSWORD@]HOST[:PORT]"), std::string::npos) << p.error().message;
    EXPECT_EQ(p.error().message.find("secret"), std::string::npos) << p.error().message;
  }
  auto p = choose_proxy("https://relay.example.com", "", Env{{{"HTTPS_PROXY", "ftp://proxy"}}}.lookup());
  ASSERT_FALSE(p.ok());
  EXPECT_NE(p.error().message.find("https_proxy"), std::string::npos) << p.error().message;
}

}  // namespace
}  // namespace sealrelay
