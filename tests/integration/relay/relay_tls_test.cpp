// HTTPS and agent client certificates (--tls-client-ca): a certificate from
// the CA authenticates the agent named by its CN; requesters need none.
#include <gtest/gtest.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <unistd.h>

#include <cstdio>
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
  // A client certificate from `issuer` whose subject holds these CN values
  // as they are (an embedded NUL included: the openssl tool cannot write one).
  void leaf_with_cns(const std::string& name, const std::string& issuer, const std::vector<std::string>& cns) {
    auto read_pem = [&](const std::string& path, auto reader) {
      std::FILE* f = std::fopen(path.c_str(), "r");
      EXPECT_NE(f, nullptr) << path;
      auto* out = reader(f, nullptr, nullptr, nullptr);
      std::fclose(f);
      return out;
    };
    X509* ca_cert = read_pem(d + "/" + issuer + ".crt", PEM_read_X509);
    EVP_PKEY* ca_key = read_pem(d + "/" + issuer + ".key", PEM_read_PrivateKey);
    EVP_PKEY* key = EVP_EC_gen("P-256");
    X509* cert = X509_new();
    ASSERT_TRUE(ca_cert && ca_key && key && cert);
    X509_set_version(cert, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(cert), 4242);
    X509_gmtime_adj(X509_getm_notBefore(cert), -60);
    X509_gmtime_adj(X509_getm_notAfter(cert), 86400);
    X509_set_pubkey(cert, key);
    X509_NAME* subject = X509_get_subject_name(cert);
    for (auto& cn : cns) {
      ASSERT_EQ(X509_NAME_add_entry_by_NID(subject, NID_commonName, V_ASN1_UTF8STRING,
                                           reinterpret_cast<const unsigned char*>(cn.data()),
                                           static_cast<int>(cn.size()), -1, 0),
                1);
    }
    X509_set_issuer_name(cert, X509_get_subject_name(ca_cert));
    X509V3_CTX ctx;
    X509V3_set_ctx(&ctx, ca_cert, cert, nullptr, nullptr, 0);
    X509_EXTENSION* eku = X509V3_EXT_conf_nid(nullptr, &ctx, NID_ext_key_usage, "clientAuth");
    ASSERT_NE(eku, nullptr);
    X509_add_ext(cert, eku, -1);
    X509_EXTENSION_free(eku);
    ASSERT_GT(X509_sign(cert, ca_key, EVP_sha256()), 0);
    std::FILE* c = std::fopen((d + "/" + name + ".crt").c_str(), "w");
    std::FILE* k = std::fopen((d + "/" + name + ".key").c_str(), "w");
    ASSERT_TRUE(c && k);
    PEM_write_X509(c, cert);
    PEM_write_PrivateKey(k, key, nullptr, nullptr, 0, nullptr, nullptr);
    std::fclose(c);
    std::fclose(k);
    X509_free(cert);
    X509_free(ca_cert);
    EVP_PKEY_free(key);
    EVP_PKEY_free(ca_key);
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

// issue 15: the CN is the agent id, so it goes by the one agent-id grammar
// (base/ids.h), read whole: "shop-1\0evil" is not "shop-1", and a subject
// with two CNs names no one agent.
TEST_F(RelayTls, ACertificateWhoseCnIsNotExactlyOneValidAgentIdIsRefused) {
  leaf("dots", "ca", "..", false);
  leaf("dash", "ca", "-x", false);
  leaf_with_cns("nul", "ca", {std::string("shop-1\0evil", 11)});
  leaf_with_cns("two", "ca", {"shop-1", "shop-2"});
  leaf_with_cns("long", "ca", {std::string(65, 'a')});
  leaf_with_cns("ok64", "ca", {std::string(64, 'a')});
  httplib::Headers h = {{"X-Sealrelay-Public-Key", random_key_b64()}};
  for (const char* cert : {"dots", "dash", "nul", "two", "long"}) {
    SCOPED_TRACE(cert);
    EXPECT_EQ(get("/v1/agent/control", cert, "", h), 401);
  }
  auto agents = [&] {
    httplib::SSLClient cli("127.0.0.1", relay->port());
    cli.set_ca_cert_path((d + "/ca.crt").c_str());
    auto r = cli.Get("/v1/agents", {{"Authorization", "Bearer " + req_token}});
    return r ? json::parse(r->body, nullptr, false) : json();
  };
  EXPECT_EQ(agents()["agents"].size(), 0u) << "no refused certificate became an agent: " << agents().dump();
  EXPECT_EQ(get("/v1/agent/control", "ok64", "", h), 200) << "a 64-character CN is an agent id";
}

}  // namespace
}  // namespace sealrelay::test
