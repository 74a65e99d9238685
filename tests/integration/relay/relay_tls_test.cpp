// HTTPS and agent client certificates (--tls-client-ca): a certificate from
// the CA authenticates the agent named by its CN; requesters need none.
#include <gtest/gtest.h>

#include <unistd.h>

#include <fstream>

#include "tests/integration/relay/harness.h"

namespace sealrelay::test {
namespace {

class RelayTls : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::access("/usr/bin/openssl", X_OK) != 0) GTEST_SKIP() << "no openssl binary to make certificates";
    d = dir.path();
    ca("ca");
    ca("rogue");
    leaf("server", "ca", "127.0.0.1", true);
    leaf("shop1", "ca", "shop-1", false);
    leaf("rogue1", "rogue", "shop-1", false);
    req_token = Relay::token(d, {"add-requester", "ops", "--agents", "*"});
    relay = Relay::start(d, {"--tls-cert", d + "/server.crt", "--tls-key", d + "/server.key",
                             "--tls-client-ca", d + "/ca.crt"});
    ASSERT_TRUE(relay);
  }
  void openssl(std::vector<std::string> args) {
    args.insert(args.begin(), "/usr/bin/openssl");
    auto r = run_command(args);
    ASSERT_TRUE(r && r->exit_code == 0) << (r ? r->err : r.error().message);
  }
  void ca(const std::string& name) {
    openssl({"req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
             "-keyout", d + "/" + name + ".key", "-out", d + "/" + name + ".crt", "-days", "2",
             "-subj", "/CN=" + name + " test CA"});
  }
  void leaf(const std::string& name, const std::string& issuer, const std::string& cn, bool server) {
    std::string ext = d + "/" + name + ".ext";
    {
      std::ofstream(ext) << (server ? "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n"
                                    : "extendedKeyUsage=clientAuth\n");
    }
    openssl({"req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout",
             d + "/" + name + ".key", "-out", d + "/" + name + ".csr", "-subj", "/CN=" + cn});
    openssl({"x509", "-req", "-in", d + "/" + name + ".csr", "-CA", d + "/" + issuer + ".crt",
             "-CAkey", d + "/" + issuer + ".key", "-CAcreateserial", "-out", d + "/" + name + ".crt",
             "-days", "2", "-extfile", ext});
  }
  // GET over HTTPS with an optional client certificate; the status once the
  // headers arrive (streams are not read), 0 when TLS failed.
  int get(const std::string& path, const std::string& cert, const std::string& token,
          httplib::Headers h = {}) {
    std::unique_ptr<httplib::SSLClient> cli =
        cert.empty() ? std::make_unique<httplib::SSLClient>("127.0.0.1", relay->port())
                     : std::make_unique<httplib::SSLClient>("127.0.0.1", relay->port(),
                                                            d + "/" + cert + ".crt",
                                                            d + "/" + cert + ".key");
    cli->set_ca_cert_path((d + "/ca.crt").c_str());
    cli->set_connection_timeout(5);
    cli->set_read_timeout(5);
    if (!token.empty()) h.emplace("Authorization", "Bearer " + token);
    int status = 0;
    auto res = cli->Get(
        path.c_str(), h,
        [&](const httplib::Response& r) {
          status = r.status;
          return r.status != 200 || path.find("control") == std::string::npos;
        },
        [&](const char*, size_t) { return true; });
    (void)res;
    return status;
  }

  TempDir dir;
  std::string d, req_token;
  std::unique_ptr<Relay> relay;
};

TEST_F(RelayTls, AClientCertificateFromTheCaAuthenticatesItsAgent) {
  httplib::Headers h = {{"X-Sealrelay-Public-Key", random_key_b64()}};
  EXPECT_EQ(get("/v1/agent/control", "shop1", "", h), 200);
  EXPECT_EQ(get("/v1/agents", "", req_token), 200) << "requesters need no certificate";
}

TEST_F(RelayTls, ACertificateFromAnotherCaIsRefusedDuringTheHandshake) {
  httplib::Headers h = {{"X-Sealrelay-Public-Key", random_key_b64()}};
  EXPECT_EQ(get("/v1/agent/control", "rogue1", "", h), 0);
}

TEST_F(RelayTls, WithoutCertificateOrTokenAnAgentRouteIs401AndACertIsNoRequesterCredential) {
  httplib::Headers h = {{"X-Sealrelay-Public-Key", random_key_b64()}};
  EXPECT_EQ(get("/v1/agent/control", "", "", h), 401);
  EXPECT_EQ(get("/v1/agents", "shop1", ""), 401);
}

}  // namespace
}  // namespace sealrelay::test
