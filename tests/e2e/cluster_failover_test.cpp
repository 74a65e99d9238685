// The relay on a real Redis Cluster, end to end (issue 20): a 3-master
// cluster (3 replicas for the failover), two relay nodes on
// --redis-cluster, five agents and twenty CLIs, all real processes. Each
// agent talks to one node and each CLI to the other, so every frame crosses
// nodes through the cluster. Twenty 32 MiB pulls run at once while
//  - a master is SIGKILLed and its replica takes over: each pull ends
//    bit-identical, or fails naming its error with no final file (nothing
//    renamed unverified), and `get --resume` then finishes it from its .part;
//    meanwhile the relays answer 503 (with Retry-After) only for the slots of
//    the dead master;
//  - `redis-cli --cluster reshard` moves every slot of one master (5461) to
//    another, so the pulls whose keys it held move mid-transfer: every pull
//    completes, bit-identical, with no --resume.
// Skipped with the reason when redis-server or redis-cli is missing.
#include <gtest/gtest.h>
#include <httplib.h>
#include <signal.h>
#include <sys/wait.h>

#include <filesystem>
#include <map>
#include <regex>
#include <string>

#include "tests/support/deployment.h"
#include "tests/support/redis_cluster.h"

namespace sealrelay::test {
namespace {

namespace fs = std::filesystem;
constexpr uint64_t kMiB = 1024 * 1024;
constexpr uint64_t kFileBytes = 32 * kMiB;
constexpr int kAgents = 5, kPerAgent = 4;  // an agent serves 4 at once by default
constexpr int kPulls = kAgents * kPerAgent;

struct Pull {
  std::string remote, src, dst;
  std::unique_ptr<Process> cli;
  int exit_code = -1;
};

class ClusterEndToEnd : public testing::Test {
 protected:
  // The cluster, two relay nodes on it, the agents (with `agent_flags`)
  // online and the files.
  void start(int replicas, const std::vector<std::string>& agent_flags = {}) {
    auto c = RedisCluster::start(dir_.path(), {.masters = 3, .replicas = replicas});
    if (!c) GTEST_SKIP() << "skipped: " << c.error().message;
    cluster_ = std::move(*c);
    DeploymentOptions o;
    o.relay_args = {"--heartbeat-seconds", "1", "--redis-cluster", cluster_->seeds()};
    auto d = Deployment::start(o);
    ASSERT_TRUE(d.ok()) << d.error().message;
    sys_ = std::move(*d);
    ASSERT_TRUE(sys_->start_relay("a").ok());
    ASSERT_TRUE(sys_->start_relay("b").ok());
    for (int i = 0; i < kAgents; ++i) {
      std::string id = agent(i);
      ASSERT_TRUE(sys_->start_agent(id, sys_->url(agent_node(i)), agent_flags).ok());
      for (int j = 0; j < kPerAgent; ++j) {
        ASSERT_TRUE(write_random_file(sys_->share(id) + "/f" + std::to_string(j) + ".bin", kFileBytes, 100 + i * 10 + j));
      }
    }
    fs::create_directories(sys_->dir() + "/out");
    for (int i = 0; i < kAgents; ++i) {
      ASSERT_TRUE(sys_->agent_online(sys_->url(cli_node(i)), agent(i), 60s)) << agent(i);
      // Pinned once here, so twenty CLIs do not pin at once.
      auto pin = sys_->cli(sys_->url(cli_node(i)), {"stat", agent(i) + ":/demo/f0.bin"});
      ASSERT_EQ(pin.exit_code, 0) << pin.output;
    }
  }
  static std::string agent(int i) { return "shop-" + std::to_string(i); }
  static std::string agent_node(int i) { return i % 2 ? "b" : "a"; }
  static std::string cli_node(int i) { return i % 2 ? "a" : "b"; }

  void start_pulls() {
    for (int i = 0; i < kAgents; ++i) {
      for (int j = 0; j < kPerAgent; ++j) {
        Pull p;
        std::string name = agent(i) + "-f" + std::to_string(j) + ".bin";
        p.remote = agent(i) + ":/demo/f" + std::to_string(j) + ".bin";
        p.src = sys_->share(agent(i)) + "/f" + std::to_string(j) + ".bin";
        p.dst = sys_->dir() + "/out/" + name;
        p.cli = sys_->cli_background(sys_->url(cli_node(i)), {"get", p.remote, "-o", p.dst}, "cli-" + name + ".log");
        ASSERT_TRUE(p.cli);
        pulls_.push_back(std::move(p));
      }
    }
  }
  // True once every pull has received `bytes` (or finished).
  bool all_received(uint64_t bytes) {
    for (auto& p : pulls_) {
      if (fs::exists(p.dst)) continue;
      std::error_code ec;
      auto n = fs::file_size(p.dst + ".part", ec);
      if (ec || n < bytes) return false;
    }
    return true;
  }
  // Waits for every CLI; a failed one must name its error and leave no
  // final file (only a verified trailer renames the .part).
  void wait_pulls(int& ok, int& failed, std::map<std::string, int>& errors) {
    for (auto& p : pulls_) {
      auto status = p.cli->wait_exit(300s);
      if (!status) {
        ADD_FAILURE() << p.dst << " did not end";
        continue;
      }
      p.exit_code = WIFEXITED(*status) ? WEXITSTATUS(*status) : -1;
      std::string log = read_file(p.cli->log_path());
      if (p.exit_code == 0) {
        EXPECT_TRUE(same_file(p.src, p.dst)) << p.dst << " exit 0 but not bit-identical";
        ++ok;
        continue;
      }
      ++failed;
      EXPECT_FALSE(fs::exists(p.dst)) << p.dst << " failed (" << log << ") yet a final file exists";
      // The CLI's last word: "sealrelay: <what went wrong and what to do>".
      size_t at = log.rfind("sealrelay: ");
      if (at == std::string::npos || first_line(log.substr(at)).size() <= 11) {
        ADD_FAILURE() << p.dst << ": exit " << p.exit_code << " without an error message: " << log;
        continue;
      }
      ++errors["exit " + std::to_string(p.exit_code) + ", " + first_line(log.substr(at))];
    }
  }

  TempDir dir_;
  std::unique_ptr<RedisCluster> cluster_;
  std::unique_ptr<Deployment> sys_;
  std::vector<Pull> pulls_;
};

// The first node that is a master now.
size_t a_master(RedisCluster& c) {
  for (size_t i = 0; i < c.size(); ++i) {
    auto role = c.node(i).command({"ROLE"});
    if (role.ok() && role->starts_with("master")) return i;
  }
  return c.size();
}

// A transfer id (of the relay's form) whose keys live in a slot served by
// master `node` (`on`) or by another master (`!on`): `node` answers MOVED
// for a key of a slot it does not serve.
std::string transfer_id_on(RedisCluster& c, size_t node, bool on) {
  for (int n = 0; n < 1000; ++n) {
    char hex[33];
    std::snprintf(hex, sizeof hex, "%032x", n);
    std::string tid = std::string("t_") + hex;
    auto got = c.node(node).command({"GET", "sr:{t:" + tid + "}:meta"});
    bool here = got.ok() || got.error().message.find("MOVED") == std::string::npos;
    if (here == on) return tid;
  }
  return "";
}

// GET /v1/transfers/`tid` on `port`: the status, its Retry-After header and body.
struct Answer {
  int status = 0;
  std::string retry_after, body;
};
Answer get_transfer(int port, const std::string& token, const std::string& tid) {
  httplib::Client http("127.0.0.1", port);
  http.set_read_timeout(10, 0);
  auto res = http.Get("/v1/transfers/" + tid, {{"Authorization", "Bearer " + token}});
  if (!res) return {};
  return {res->status, res->get_header_value("Retry-After"), res->body};
}

// The relay node's count of 503 store_unavailable answers (its /metrics).
uint64_t unavailable_answers(int port) {
  httplib::Client http("127.0.0.1", port);
  auto res = http.Get("/metrics");
  if (!res) return 0;
  std::smatch m;
  if (!std::regex_search(res->body, m, std::regex(R"(sealrelay_errors_total\{kind="store_unavailable"\} (\d+))"))) return 0;
  return std::stoull(m[1]);
}

TEST_F(ClusterEndToEnd, TwentyPullsSurviveAMasterKilledMidwayAndOnlyItsSlotsAnswer503) {
  start(1);
  if (!sys_) return;
  size_t doomed = a_master(*cluster_);
  ASSERT_LT(doomed, cluster_->size());
  std::string dead_tid = transfer_id_on(*cluster_, doomed, true);
  std::string live_tid = transfer_id_on(*cluster_, doomed, false);
  ASSERT_FALSE(dead_tid.empty() || live_tid.empty());
  const std::string token = sys_->requester_token();
  ASSERT_EQ(get_transfer(sys_->port("a"), token, dead_tid).status, 404);

  start_pulls();
  ASSERT_TRUE(wait_until([&] { return all_received(4 * kMiB); }, 120s)) << "the pulls never got going";
  ASSERT_TRUE(wait_until([&] { return cluster_->replica_caught_up(doomed); }, 10s));
  cluster_->node(doomed).process().kill(SIGKILL);
  auto killed_at = std::chrono::steady_clock::now();

  // Until the replica takes over: 503 with Retry-After for the dead slots,
  // never for the others.
  int unavailable = 0, live_checks = 0;
  bool back = wait_until([&] {
    auto live = get_transfer(sys_->port("b"), token, live_tid);
    EXPECT_EQ(live.status, 404) << "a slot of a living master answered " << live.status << " " << live.body;
    ++live_checks;
    auto dead = get_transfer(sys_->port("a"), token, dead_tid);
    if (dead.status == 503) {
      ++unavailable;
      EXPECT_EQ(dead.retry_after, "1") << "a 503 without Retry-After";
      EXPECT_NE(dead.body.find("store_unavailable"), std::string::npos) << dead.body;
    }
    return dead.status == 404;
  }, 60s, 100ms);
  double outage = std::chrono::duration<double>(std::chrono::steady_clock::now() - killed_at).count();
  ASSERT_TRUE(back) << "the dead master's slots never came back";
  EXPECT_GT(unavailable, 0) << "the dead master's slots never answered 503";

  int ok = 0, failed = 0;
  std::map<std::string, int> errors;
  wait_pulls(ok, failed, errors);
  uint64_t refused = unavailable_answers(sys_->port("a")) + unavailable_answers(sys_->port("b"));
  // What failed goes on from its .part: a new transfer (`get --resume`).
  std::vector<std::pair<Pull*, std::unique_ptr<Process>>> resumes;
  for (auto& p : pulls_) {
    if (p.exit_code == 0) continue;
    resumes.emplace_back(&p, sys_->cli_background(sys_->url("a"), {"get", "--resume", p.remote, "-o", p.dst},
                                                  "resume-" + fs::path(p.dst).filename().string() + ".log"));
  }
  int resumed = 0;
  for (auto& [p, cli] : resumes) {
    auto status = cli->wait_exit(300s);
    ASSERT_TRUE(status);
    EXPECT_EQ(WEXITSTATUS(*status), 0) << p->dst << ": " << read_file(cli->log_path());
    if (WEXITSTATUS(*status) == 0 && same_file(p->src, p->dst)) ++resumed;
  }
  std::printf("[ failover ] slots back after %.1f s (%d answers of 503 for them; %d checks of a living slot); "
              "%llu answers of 503 store_unavailable from the two nodes in all; %d of %d pulls completed "
              "by themselves, %d failed naming their error, %d of those completed with --resume\n",
              outage, unavailable, live_checks, static_cast<unsigned long long>(refused), ok, kPulls, failed,
              resumed);
  for (auto& [e, n] : errors) std::printf("[ failover ]   %d x %s\n", n, e.c_str());
  EXPECT_EQ(ok + resumed, kPulls);
}

TEST_F(ClusterEndToEnd, TwentyPullsCompleteWhileEverySlotOfAMasterMovesToAnother) {
  // Each agent capped at 6 MiB/s (its 4 pulls share it): the pulls take
  // about 20 s, longer than the reshard, which runs while they all do.
  start(0, {"--rate-limit", std::to_string(6 * kMiB)});
  if (!sys_) return;
  size_t from = a_master(*cluster_);
  ASSERT_LT(from, cluster_->size());
  size_t to = (from + 1) % cluster_->size();
  start_pulls();
  ASSERT_TRUE(wait_until([&] { return all_received(2 * kMiB); }, 120s)) << "the pulls never got going";
  // The transfers whose keys the moving master holds (a third, give or take).
  auto held = cluster_->node(from).command({"KEYS", "sr:{t:*}:meta"});
  ASSERT_TRUE(held.ok()) << held.error().message;
  std::vector<std::string> moving;
  for (size_t at = 0, nl; at < held->size(); at = nl + 1) {
    nl = held->find('\n', at);
    if (nl == std::string::npos) nl = held->size();
    if (nl > at) moving.push_back(held->substr(at, nl - at));
  }
  auto started = std::chrono::steady_clock::now();
  auto reshard = cluster_->reshard(from, to, 5461, sys_->dir() + "/reshard.log");
  double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  ASSERT_EQ(reshard.exit_code, 0) << reshard.output;
  int in_flight = 0, moved = 0;
  for (auto& p : pulls_) in_flight += fs::exists(p.dst) ? 0 : 1;
  for (auto& key : moving) {
    auto there = cluster_->node(to).command({"EXISTS", key});
    moved += there.ok() && *there == "1";
  }
  EXPECT_GT(moved, 0) << "no pull's keys moved: the test proved nothing";
  int ok = 0, failed = 0;
  std::map<std::string, int> errors;
  wait_pulls(ok, failed, errors);
  uint64_t refused = unavailable_answers(sys_->port("a")) + unavailable_answers(sys_->port("b"));
  std::printf("[ reshard ] 5461 slots moved in %.1f s, carrying the keys of %d pulls, with %d of %d pulls "
              "still running at its end; %llu answers of 503 store_unavailable from the two nodes; "
              "%d of %d completed\n",
              took, moved, in_flight, kPulls, static_cast<unsigned long long>(refused), ok, kPulls);
  for (auto& [e, n] : errors) std::printf("[ reshard ]   %d x %s\n", n, e.c_str());
  EXPECT_EQ(ok, kPulls);
  EXPECT_TRUE(cluster_->healthy());
}

}  // namespace
}  // namespace sealrelay::test
