// packaging/k8s/sealrelay-relay.yaml, without a cluster: no Kubernetes
// validator is packaged in Debian 12 (kubeconform, helm and kubectl are not),
// so Debian's python3-yaml parses the manifest to JSON and the checks below
// hold it to the program it deploys: every SEALRELAY_* variable is one
// `sealrelay-relay --help` names, the container port is the one the relay is
// told to listen on, the probes ask routes of docs/api.md's route table, the
// labels select the pods, the tokens file is on the Secret's mount, the user
// is the image's, and the relay starts with the ConfigMap's environment.
#include <gtest/gtest.h>
#include <unistd.h>

#include <nlohmann/json.hpp>
#include <regex>
#include <set>

#include "tests/support/support.h"

namespace sealrelay::test {
namespace {

using nlohmann::json;
const std::string kManifest = std::string(SEALRELAY_SOURCE_DIR) + "/packaging/k8s/sealrelay-relay.yaml";

class K8sSample : public ::testing::Test {
 protected:
  void SetUp() override {
    auto r = run_command({"/usr/bin/python3", "-c",
                          "import json, sys, yaml\n"
                          "json.dump(list(yaml.safe_load_all(open(sys.argv[1]))), sys.stdout)",
                          kManifest});
    if (!r || r->err.find("No module named 'yaml'") != std::string::npos || r->exit_code == 127) {
      GTEST_SKIP() << "python3-yaml is not installed (scripts/setup installs it)";
    }
    ASSERT_EQ(r->exit_code, 0) << r->err;
    for (auto& d : json::parse(r->out)) docs_[d.at("kind").get<std::string>()] = d;
  }
  const json& doc(const std::string& kind) { return docs_.at(kind); }
  const json& pod() { return doc("Deployment").at("spec").at("template"); }
  const json& container() { return pod().at("spec").at("containers").at(0); }
  // The container's environment: the ConfigMap's data and its own env names.
  std::map<std::string, std::string> env() {
    std::map<std::string, std::string> out;
    for (auto& [k, v] : doc("ConfigMap").at("data").items()) out[k] = v.get<std::string>();
    for (auto& e : container().at("env")) out[e.at("name").get<std::string>()] = "(from a Secret)";
    return out;
  }
  std::map<std::string, json> docs_;
};

TEST_F(K8sSample, HoldsADeploymentItsServiceConfigMapSecretAndDisruptionBudget) {
  for (const char* kind : {"ConfigMap", "Secret", "Deployment", "Service", "PodDisruptionBudget"}) {
    EXPECT_TRUE(docs_.count(kind)) << kind << " is missing";
  }
  EXPECT_EQ(docs_.size(), 5u);
  EXPECT_EQ(container().at("envFrom").at(0).at("configMapRef").at("name"), doc("ConfigMap").at("metadata").at("name"));
}

TEST_F(K8sSample, EveryVariableIsOneTheRelayReads) {
  auto help = run_command({binary("relay/sealrelay-relay"), "--help"});
  ASSERT_TRUE(help && help->exit_code == 0);
  std::set<std::string> known;
  static const std::regex env_name(R"(\(Env:(SEALRELAY_[A-Z_]+)\))");
  for (std::sregex_iterator it(help->out.begin(), help->out.end(), env_name), end; it != end; ++it) {
    known.insert((*it)[1]);
  }
  ASSERT_GT(known.size(), 20u) << help->out;
  for (auto& [name, value] : env()) EXPECT_TRUE(known.count(name)) << name << " is no variable of --help";
  // Exactly one store, a shared one: every pod must see the same state.
  EXPECT_EQ(env().count("SEALRELAY_REDIS") + env().count("SEALRELAY_REDIS_CLUSTER"), 1u);
}

TEST_F(K8sSample, TheContainerPortIsTheListenPortAndTheServiceTargetsIt) {
  std::string listen = env().at("SEALRELAY_LISTEN");
  int port = std::stoi(listen.substr(listen.rfind(':') + 1));
  EXPECT_EQ(listen.substr(0, listen.rfind(':')), "0.0.0.0") << "a pod must listen beyond its loopback";
  const json& p = container().at("ports").at(0);
  EXPECT_EQ(p.at("containerPort").get<int>(), port);
  for (auto& sp : doc("Service").at("spec").at("ports")) EXPECT_EQ(sp.at("targetPort"), p.at("name"));
  EXPECT_EQ(doc("Service").at("metadata").at("annotations").at("prometheus.io/port"), std::to_string(port));
}

TEST_F(K8sSample, TheProbesAskRoutesOfTheApiAndReadinessAsksTheStore) {
  std::string api = read_file(std::string(SEALRELAY_SOURCE_DIR) + "/docs/api.md");
  for (const char* probe : {"readinessProbe", "livenessProbe"}) {
    const json& get = container().at(probe).at("httpGet");
    EXPECT_NE(api.find("| `GET " + get.at("path").get<std::string>() + "` |"), std::string::npos)
        << probe << " asks a route docs/api.md does not list";
    EXPECT_EQ(get.at("port"), container().at("ports").at(0).at("name"));
  }
  // /readyz answers 503 while the store does not: such a pod takes no agents.
  EXPECT_EQ(container().at("readinessProbe").at("httpGet").at("path"), "/readyz");
  EXPECT_EQ(doc("Service").at("metadata").at("annotations").at("prometheus.io/path"), "/metrics");
}

TEST_F(K8sSample, TheLabelsSelectThePodsForTheServiceAndTheBudget) {
  const json& labels = pod().at("metadata").at("labels");
  auto selects = [&](const json& selector) {
    for (auto& [k, v] : selector.items()) {
      if (!labels.contains(k) || labels.at(k) != v) return false;
    }
    return !selector.empty();
  };
  EXPECT_TRUE(selects(doc("Deployment").at("spec").at("selector").at("matchLabels")));
  EXPECT_TRUE(selects(doc("Service").at("spec").at("selector")));
  EXPECT_TRUE(selects(doc("PodDisruptionBudget").at("spec").at("selector").at("matchLabels")));
  EXPECT_EQ(doc("PodDisruptionBudget").at("spec").at("maxUnavailable"), 1);
  EXPECT_GE(doc("Deployment").at("spec").at("replicas").get<int>(), 2) << "one pod is no failover";
}

TEST_F(K8sSample, TheTokensFileIsOnTheSecretsReadOnlyMountAndTheUserIsTheImages) {
  std::string tokens = env().at("SEALRELAY_TOKENS");
  const json& mount = container().at("volumeMounts").at(0);
  EXPECT_EQ(tokens.rfind(mount.at("mountPath").get<std::string>() + "/", 0), 0u) << tokens;
  EXPECT_TRUE(mount.at("readOnly").get<bool>());
  const json& volume = pod().at("spec").at("volumes").at(0);
  EXPECT_EQ(volume.at("name"), mount.at("name"));
  EXPECT_TRUE(volume.contains("secret"));
  std::string dockerfile = read_file(std::string(SEALRELAY_SOURCE_DIR) + "/packaging/docker/Dockerfile");
  std::smatch uid;
  ASSERT_TRUE(std::regex_search(dockerfile, uid, std::regex(R"(useradd --system --uid (\d+))")));
  EXPECT_EQ(pod().at("spec").at("securityContext").at("runAsUser").get<int>(), std::stoi(uid[1]));
  EXPECT_EQ(container().at("args"), json::array({"serve"}));
}

TEST_F(K8sSample, TheRelayStartsWithTheConfigMapsEnvironmentAndAnswersTheProbes) {
  TempDir dir;
  auto tok = run_command({binary("relay/sealrelay-relay"), "--tokens", dir.path() + "/tokens.json", "token",
                          "add-agent", "shop-1"});
  ASSERT_TRUE(tok && tok->exit_code == 0);
  Process::Options opts;
  for (auto& [k, v] : doc("ConfigMap").at("data").items()) {
    std::string value = v.get<std::string>();
    if (k == "SEALRELAY_LISTEN") value = "127.0.0.1:0";  // a free port here
    if (k == "SEALRELAY_TOKENS") value = dir.path() + "/tokens.json";
    opts.env.push_back(k + "=" + value);
  }
  auto relay = Process::spawn({binary("relay/sealrelay-relay"), "serve"}, dir.path() + "/relay.log", opts);
  ASSERT_TRUE(relay.ok());
  auto port = (*relay)->wait_for_log(R"(listening on 127\.0\.0\.1:(\d+))", 30s);
  ASSERT_TRUE(port) << (*relay)->log();
  for (const char* probe : {"readinessProbe", "livenessProbe"}) {
    std::string path = container().at(probe).at("httpGet").at("path");
    EXPECT_EQ(http_status(std::stoi(*port), path), 200) << path;
  }
  EXPECT_NE((*relay)->log().find("\"level\""), std::string::npos) << "SEALRELAY_LOG_FORMAT=json was not applied";
}

}  // namespace
}  // namespace sealrelay::test
