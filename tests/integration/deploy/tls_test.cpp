// TLS and mTLS as an operator sets them up: certificates from
// scripts/make-certs, a relay serving HTTPS that checks agent certificates,
// the real agent (client certificate, no token) and the real CLI verifying
// the relay with --ca-file. The relay-side checks with a bare HTTPS client
// are tests/integration/relay/relay_tls_test.cpp; these add the programs.
#include <gtest/gtest.h>
#include <httplib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>

#include <nlohmann/json.hpp>
#include <random>

#include "tests/integration/deploy/site.h"

namespace sealrelay::test {
namespace {

class Mtls : public ::testing::Test {
 protected:
  void SetUp() override {
    if (find_program({"/usr/bin/openssl"}).empty()) GTEST_SKIP() << "openssl is not installed";
    ASSERT_TRUE(make_certs(site, {"ca"}));
    ASSERT_TRUE(make_certs(site, {"relay", "relay.example.com"}));
    ASSERT_TRUE(make_certs(site, {"agent", "shop-1", "shop-2"}));
    rogue = site.dir() + "/rogue";
    ASSERT_TRUE(make_certs(site, {"ca"}, rogue));
    ASSERT_TRUE(make_certs(site, {"agent", "shop-1"}, rogue));
    ca = certs_dir(site) + "/ca.crt";
    // Tokens first: a running relay only notices new ones within a second.
    ASSERT_TRUE(site.add_agent("shop-1", {.token = false}));
    auto probe = site.token({"add-requester", "probe", "--agents", "shop-1"});
    ASSERT_TRUE(probe);
    probe_token = *probe;
    auto r = site.start_relay("tls", {"--tls-cert", certs_dir(site) + "/relay.crt", "--tls-key",
                                      certs_dir(site) + "/relay.key", "--tls-client-ca", ca});
    ASSERT_TRUE(r) << r.error().message;
    relay_port = *r;
    url = "https://127.0.0.1:" + std::to_string(relay_port);
    std::mt19937 rng(9);
    std::string data(3 << 20, '\0');
    for (auto& c : data) c = static_cast<char>(rng());
    std::ofstream(site.share("shop-1") + "/db.dump", std::ios::binary) << data;
  }

  // Agent shop-1 presenting `cert_dir`/agents/`cert`.crt, no token.
  std::unique_ptr<Process> agent_with_cert(const std::string& cert_dir, const std::string& cert,
                                           const std::string& log_name = "") {
    auto p = site.spawn_agent("shop-1", url,
                            {"--ca-file", ca, "--client-cert", cert_dir + "/agents/" + cert + ".crt",
                             "--client-key", cert_dir + "/agents/" + cert + ".key"},
                            log_name);
    EXPECT_TRUE(p) << p.error().message;
    return p ? std::move(*p) : nullptr;
  }

  // The agents the relay lists, as JSON (through the CLI).
  nlohmann::json agents() {
    auto r = site.cli(url, {"--json", "agents"}, 60s, {"--ca-file", ca});
    EXPECT_EQ(r.exit_code, 0) << r.output;
    auto j = nlohmann::json::parse(r.output.substr(r.output.find('{')), nullptr, false);
    return j.is_object() ? j["agents"] : nlohmann::json::array();
  }
  bool listed_online(const std::string& id) {
    for (auto& a : agents()) {
      if (a.value("id", "") == id && a.value("online", false)) return true;
    }
    return false;
  }

  std::unique_ptr<Deployment> made = start_site();
  Deployment& site = *made;
  int relay_port = 0;
  std::string url, ca, rogue, probe_token;
};

TEST_F(Mtls, AnAgentWithItsClientCertificateAndNoTokenServesACliDownloadOverHttps) {
  auto agent = agent_with_cert(certs_dir(site), "shop-1");
  ASSERT_TRUE(agent);
  ASSERT_TRUE(site.agent_online(url, "shop-1", 20s, {"--ca-file", ca})) << agent->log();
  std::string out = site.dir() + "/db.dump";
  auto r = site.cli(url, {"--quiet", "get", "shop-1:/demo/db.dump", "-o", out}, 60s, {"--ca-file", ca});
  ASSERT_EQ(r.exit_code, 0) << r.output << agent->log();
  EXPECT_EQ(read_file(out), read_file(site.share("shop-1") + "/db.dump"));
}

TEST_F(Mtls, AnAgentWithACertificateFromAnotherCaIsRefusedAndNeverListed) {
  auto agent = agent_with_cert(rogue, "shop-1");
  ASSERT_TRUE(agent);
  // The relay refuses it during the TLS handshake; the agent says so and
  // retries (TLS 1.3: the refusal arrives when the agent writes its request,
  // which once killed it with SIGPIPE).
  ASSERT_TRUE(agent->wait_for_log("(control stream lost; retrying[^]*){3}", 20s)) << agent->log();
  EXPECT_TRUE(agent->running()) << "the agent keeps retrying (an outage must not kill it)\n" << agent->log();
  EXPECT_TRUE(agents().empty()) << "an agent that never authenticated is not in the directory";
}

TEST_F(Mtls, AnAgentWithoutACertificateIsRefused) {
  // No certificate and no token: the agent will not even start.
  auto none = site.spawn_agent("shop-1", url, {"--ca-file", ca}, "agent-none");
  ASSERT_TRUE(none);
  auto status = (*none)->wait_exit(20s);
  ASSERT_TRUE(status && WIFEXITED(*status));
  EXPECT_EQ(WEXITSTATUS(*status), 2);
  EXPECT_NE((*none)->log().find("no credential"), std::string::npos) << (*none)->log();

  // No certificate and a token the relay does not know: 401, never listed.
  std::string bogus = site.dir() + "/bogus.token";
  std::ofstream(bogus) << "srt_0123456789abcdef_" << std::string(64, 'a') << "\n";
  auto agent = site.spawn_agent("shop-1", url, {"--ca-file", ca, "--token-file", bogus}, "agent-bogus");
  ASSERT_TRUE(agent);
  ASSERT_TRUE((*agent)->wait_for_log("control stream lost; retrying.*unauthorized", 20s)) << (*agent)->log();
  EXPECT_TRUE(agents().empty());
}

TEST_F(Mtls, AnotherAgentsCertificateOnlyEverActsAsThatOtherAgent) {
  // shop-1's machine presenting shop-2's certificate is shop-2 to the relay:
  // shop-1 stays offline and requests for shop-1 never reach it.
  auto impostor = agent_with_cert(certs_dir(site), "shop-2", "agent-impostor");
  ASSERT_TRUE(impostor);
  ASSERT_TRUE(site.agent_online(url, "shop-2", 20s, {"--ca-file", ca})) << impostor->log();
  EXPECT_FALSE(listed_online("shop-1"));
  auto r = site.cli(url, {"--quiet", "get", "shop-1:/demo/db.dump", "-o", site.dir() + "/x"}, 60s, {"--ca-file", ca});
  EXPECT_EQ(r.exit_code, 4) << "4: agent unknown or offline\n" << r.output;
  impostor.reset();

  // With the real shop-1 online, shop-2's certificate can neither read nor
  // answer shop-1's transfer.
  auto agent = agent_with_cert(certs_dir(site), "shop-1");
  ASSERT_TRUE(site.agent_online(url, "shop-1", 20s, {"--ca-file", ca})) << agent->log();
  httplib::SSLClient requester("127.0.0.1", relay_port);
  requester.set_ca_cert_path(ca.c_str());
  requester.set_keep_alive(false);
  auto created = requester.Post("/v1/transfers", {{"Authorization", "Bearer " + probe_token}},
                                R"({"agent":"shop-1","msg1":"AAAA"})", "application/json");
  ASSERT_TRUE(created);
  ASSERT_EQ(created->status, 201) << created->body;
  std::string tid = nlohmann::json::parse(created->body)["transfer_id"];
  std::string crt = certs_dir(site) + "/agents/shop-2.crt", key = certs_dir(site) + "/agents/shop-2.key";
  httplib::SSLClient other("127.0.0.1", relay_port, crt, key);
  other.set_ca_cert_path(ca.c_str());
  auto status = other.Get(("/v1/agent/transfers/" + tid).c_str());
  ASSERT_TRUE(status);
  EXPECT_TRUE(status->status == 403 || status->status == 404) << status->status << " " << status->body;
  auto answer = other.Post(("/v1/agent/transfers/" + tid + "/answer").c_str(), R"({"msg2":"AAAA"})",
                           "application/json");
  ASSERT_TRUE(answer);
  EXPECT_TRUE(answer->status == 403 || answer->status == 404) << answer->status << " " << answer->body;
}

TEST_F(Mtls, AMissingOrMismatchedCertificateFileIsAConfigurationError) {
  std::string crt = certs_dir(site) + "/agents/shop-1.crt", key = certs_dir(site) + "/agents/shop-1.key";
  std::string other_key = certs_dir(site) + "/agents/shop-2.key";
  for (auto args : std::vector<std::vector<std::string>>{
           {"--client-cert", site.dir() + "/absent.crt", "--client-key", key},
           {"--client-cert", crt, "--client-key", other_key},
           {"--client-cert", crt, "--client-key", key, "--ca-file", site.dir() + "/absent-ca.crt"}}) {
    auto agent = site.spawn_agent("shop-1", url, args, "agent-bad-files");
    ASSERT_TRUE(agent);
    auto status = (*agent)->wait_exit(20s);
    ASSERT_TRUE(status && WIFEXITED(*status)) << (*agent)->log();
    EXPECT_EQ(WEXITSTATUS(*status), 2) << (*agent)->log();
  }
  auto cli = site.cli(url, {"agents"}, 60s, {"--ca-file", site.dir() + "/absent-ca.crt"});
  EXPECT_EQ(cli.exit_code, 2) << cli.output;
}

TEST_F(Mtls, TheCliRefusesARelayCertificateItCannotVerify) {
  // `sealrelay --help`: exit 5 is integrity, which covers a relay whose
  // certificate does not verify.
  auto wrong_ca = site.cli(url, {"agents"}, 60s, {"--ca-file", rogue + "/ca.crt"});
  EXPECT_EQ(wrong_ca.exit_code, 5) << wrong_ca.output;
  EXPECT_NE(wrong_ca.output.find("certificate did not verify"), std::string::npos) << wrong_ca.output;
  auto system_cas = site.cli(url, {"agents"});
  EXPECT_EQ(system_cas.exit_code, 5) << system_cas.output;
  auto right_ca = site.cli(url, {"agents"}, 60s, {"--ca-file", ca});
  EXPECT_EQ(right_ca.exit_code, 0) << right_ca.output;
}

TEST_F(Mtls, TheAgentRefusesARelayCertificateItCannotVerify) {
  auto agent = site.spawn_agent("shop-1", url,
                              {"--ca-file", rogue + "/ca.crt", "--client-cert", certs_dir(site) + "/agents/shop-1.crt",
                               "--client-key", certs_dir(site) + "/agents/shop-1.key"});
  ASSERT_TRUE(agent);
  ASSERT_TRUE((*agent)->wait_for_log("control stream lost; retrying.*certificate did not verify", 20s)) << (*agent)->log();
  EXPECT_TRUE(agents().empty());
}

}  // namespace
}  // namespace sealrelay::test
