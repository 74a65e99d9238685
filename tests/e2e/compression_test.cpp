// Compression end to end (docs/protocol.md §3.1): the real relay, agent and
// CLI on loopback, on both stores. What is checked is what a user would:
// the files are bit-identical whatever the setting, a resume may switch it,
// and the relay carried fewer bytes for a CSV (its committed-bytes metric).
#include <gtest/gtest.h>
#include <httplib.h>
#include <signal.h>

#include <filesystem>
#include <fstream>
#include <regex>

#include "tests/support/deployment.h"

namespace sealrelay::test {
namespace {

namespace fs = std::filesystem;
using Store = Deployment::Store;

constexpr size_t kMiB = 1024 * 1024;

std::string name_of(const testing::TestParamInfo<Store>& info) {
  return info.param == Store::kMemory ? "EmbeddedStore" : "RedisStore";
}

// A sales export: dates, SKUs, amounts; about 6x smaller with zstd -1.
void write_csv(const std::string& path, size_t bytes) {
  std::ofstream out(path, std::ios::binary);
  uint64_t x = 88172645463325252ull;
  size_t written = 0;
  out << "date,store,sku,qty,amount,currency\n";
  while (written < bytes) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    char row[128];
    int n = std::snprintf(row, sizeof row, "2026-%02d-%02d,store-%03u,SKU-%05u,%u,%u.%02u,EUR\n",
                          static_cast<unsigned>(x % 12 + 1), static_cast<unsigned>(x % 28 + 1),
                          static_cast<unsigned>(x % 40), static_cast<unsigned>(x % 20000),
                          static_cast<unsigned>(x % 9 + 1), static_cast<unsigned>(x % 500),
                          static_cast<unsigned>(x % 100));
    out.write(row, n);
    written += static_cast<size_t>(n);
  }
}

// sealrelay_bytes_committed_total of the relay at `port`, -1 when unreadable.
double committed_bytes(int port) {
  httplib::Client http("127.0.0.1", port);
  auto res = http.Get("/metrics");
  if (!res || res->status != 200) return -1;
  std::smatch m;
  static const std::regex line(R"(\nsealrelay_bytes_committed_total(\{[^}]*\})? ([0-9.e+]+))");
  if (!std::regex_search(res->body, m, line)) return -1;
  return std::stod(m[2]);
}

class Compression : public testing::TestWithParam<Store> {
 protected:
  void SetUp() override {
    auto s = Deployment::start_one_relay(GetParam());
    if (!s && s.error().code == "redis_absent") GTEST_SKIP() << "skipped: " << s.error().message;
    ASSERT_TRUE(s.ok()) << s.error().message;
    sys = std::move(*s);
    fs::create_directories(sys->dir() + "/out");
  }
  std::string out(const std::string& name) { return sys->dir() + "/out/" + name; }
  // Gets `path` with --compress `mode`; returns the relay's committed bytes it took.
  double get(const std::string& path, const std::string& mode, const std::string& dst) {
    double before = committed_bytes(sys->port());
    auto r = sys->cli({"get", "--compress", mode, path, "-o", dst});
    EXPECT_EQ(r.exit_code, 0) << r.output;
    // The metric counts a frame when the relay commits it: by the time the
    // CLI has the trailer, every frame is counted.
    double after = committed_bytes(sys->port());
    EXPECT_GE(before, 0);
    return after - before;
  }
  std::unique_ptr<Deployment> sys;
};

TEST_P(Compression, TheSameFilesWithAutoAndOffAreBitIdenticalAndACsvCrossesTheRelayCompressed) {
  ASSERT_TRUE(sys->start_agent_online("shop-1").ok());
  const size_t size = 24 * kMiB;
  std::string csv = sys->share("shop-1") + "/sales.csv";
  std::string noise = sys->share("shop-1") + "/photos.bin";
  write_csv(csv, size);
  write_random_file(noise, 8 * kMiB, 3);
  ASSERT_EQ(sys->cli({"stat", "shop-1:/demo/sales.csv"}).exit_code, 0);  // pins the agent

  double auto_bytes = get("shop-1:/demo/sales.csv", "auto", out("auto.csv"));
  double off_bytes = get("shop-1:/demo/sales.csv", "off", out("off.csv"));
  EXPECT_TRUE(same_file(csv, out("auto.csv")));
  EXPECT_TRUE(same_file(csv, out("off.csv")));
  EXPECT_GE(off_bytes, static_cast<double>(size)) << "off sends every byte (and 50 per frame)";
  EXPECT_LT(auto_bytes, static_cast<double>(size) / 3) << "the relay committed " << auto_bytes
                                                        << " bytes for a " << size << "-byte CSV";

  double noise_auto = get("shop-1:/demo/photos.bin", "auto", out("auto.bin"));
  get("shop-1:/demo/photos.bin", "off", out("off.bin"));
  EXPECT_TRUE(same_file(noise, out("auto.bin")));
  EXPECT_TRUE(same_file(noise, out("off.bin")));
  EXPECT_GE(noise_auto, 8.0 * kMiB) << "incompressible content goes as it is";
}

TEST_P(Compression, AShareWithCompressionOffSendsEveryByteEvenWhenOffered) {
  ASSERT_TRUE(sys->start_agent_online("shop-1", {"--compress", "demo:off"}).ok());
  std::string csv = sys->share("shop-1") + "/sales.csv";
  write_csv(csv, 4 * kMiB);
  ASSERT_EQ(sys->cli({"stat", "shop-1:/demo/sales.csv"}).exit_code, 0);
  double bytes = get("shop-1:/demo/sales.csv", "auto", out("sales.csv"));
  EXPECT_TRUE(same_file(csv, out("sales.csv")));
  EXPECT_GE(bytes, 4.0 * kMiB);
}

// The first attempt is interrupted (the CLI is stopped) with one setting and
// resumed from its .part with the other. The first attempt comes from an
// agent capped at 512 KiB/s, so that the stop comes mid-file; the resume
// from a second agent serving the same file without a cap, so that the test
// does not wait on the cap (a resume is a new transfer either way).
TEST_P(Compression, AResumeThatSwitchesTheSettingIsBitIdentical) {
  ASSERT_TRUE(sys->start_agent_online("slow", {"--rate-limit", "512k"}).ok());
  ASSERT_TRUE(sys->start_agent_online("fast").ok());
  const size_t size = 48 * kMiB;
  write_csv(sys->share("slow") + "/sales.csv", size);
  fs::copy_file(sys->share("slow") + "/sales.csv", sys->share("fast") + "/sales.csv");
  const std::string csv = sys->share("fast") + "/sales.csv";
  ASSERT_EQ(sys->cli({"stat", "slow:/demo/sales.csv"}).exit_code, 0);
  ASSERT_EQ(sys->cli({"stat", "fast:/demo/sales.csv"}).exit_code, 0);
  for (auto [first, then] : {std::pair{"off", "auto"}, std::pair{"auto", "off"}}) {
    std::string dst = out(std::string("resumed-") + first + ".csv");
    auto cli = sys->cli_background({"get", "--compress", first, "slow:/demo/sales.csv", "-o", dst});
    ASSERT_TRUE(cli);
    // Past the cap's first burst (2 MiB of frames).
    ASSERT_TRUE(wait_until([&] { return fs::exists(dst + ".part") && fs::file_size(dst + ".part") >= 3 * kMiB; },
                           60s))
        << first;
    cli->kill(SIGINT);
    ASSERT_TRUE(cli->wait_exit(30s));
    ASSERT_FALSE(fs::exists(dst)) << "stopped before the end";
    ASSERT_TRUE(fs::exists(dst + ".part"));
    auto held = fs::file_size(dst + ".part");
    ASSERT_LT(held, size);
    auto resumed = sys->cli({"get", "--resume", "--compress", then, "fast:/demo/sales.csv", "-o", dst}, 180s);
    ASSERT_EQ(resumed.exit_code, 0) << first << " then " << then << ": " << resumed.output;
    EXPECT_TRUE(same_file(csv, dst)) << first << " then " << then << " (resumed from byte " << held << ")";
  }
}

INSTANTIATE_TEST_SUITE_P(Stores, Compression, testing::Values(Store::kMemory, Store::kRedis), name_of);

}  // namespace
}  // namespace sealrelay::test
