// The page's download throughput beside the CLI's, on the same file, relay
// (Redis store), agent and machine, in the same run (docs/performance.md,
// "Browser page"). Not a ctest test: it takes a minute and prints figures.
//
//   build/tests/browser/browser_bench                  # 256 MiB
//   SEALRELAY_BENCH_MIB=64 build/tests/browser/browser_bench
//
// Order: CLI, page, CLI, page, CLI (so drift shows). The page streams to disk
// through the File System Access path (page_driver.mjs's shim: a real
// writable stream into the origin-private file system); its time runs from
// the click to "Verified", as the page measures it; the CLI's from process
// start to exit. Every copy is checked against the source (SHA-256).
#include <chrono>
#include <cstdio>

#include "tests/browser/browser_fixture.h"

namespace sealrelay::test {
namespace {

size_t bench_mib() {
  const char* env = std::getenv("SEALRELAY_BENCH_MIB");
  return env && *env ? std::strtoul(env, nullptr, 10) : 256;
}

TEST_F(BrowserPage, PageAndCliThroughput) {
  const size_t bytes = bench_mib() * kMiB;
  std::string file = sys->share("shop-1") + "/bench.bin";
  write_random_file(file, bytes, 64);
  std::string want = sha256_of_file(file);
  fs::create_directories(out_dir());
  std::vector<double> cli_mbs, page_mbs;
  int runs = 0;
  auto cli_once = [&] {
    std::string dst = out_dir() + "/cli-" + std::to_string(++runs) + ".bin";
    auto start = std::chrono::steady_clock::now();
    auto r = sys->cli({"get", "shop-1:/demo/bench.bin", "-o", dst}, std::chrono::minutes(10));
    double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    ASSERT_EQ(r.exit_code, 0) << r.output;
    ASSERT_EQ(sha256_of_file(dst), want);
    fs::remove(dst);
    cli_mbs.push_back(bytes / seconds / 1e6);
  };
  auto page_once = [&] {
    fs::remove(sys->dir() + "/result.json");
    json r = run_driver("bench");
    ASSERT_TRUE(r.value("ok", false)) << r.value("error", "") << "\n" << r.value("driver_log", "");
    ASSERT_EQ(r["download"].value("state", ""), "done") << r["download"].dump(2);
    ASSERT_EQ(r["disk"].value("sha256", ""), want);
    double seconds = r["download"].value("elapsedMs", 0.0) / 1000;
    page_mbs.push_back(bytes / seconds / 1e6);
  };
  for (int i = 0; i < 2; ++i) {
    cli_once();
    if (HasFatalFailure()) return;
    page_once();
    if (HasFatalFailure()) return;
  }
  cli_once();
  if (HasFatalFailure()) return;
  auto list = [](const std::vector<double>& v) {
    std::string out;
    for (double x : v) out += (out.empty() ? "" : " / ") + std::to_string(static_cast<int>(x + 0.5));
    return out;
  };
  auto best = [](const std::vector<double>& v) { return *std::max_element(v.begin(), v.end()); };
  std::printf("\n%zu MiB through relay (Redis) + agent on loopback, MB/s per run:\n", bench_mib());
  std::printf("  page (headless Chromium, to disk): %s\n", list(page_mbs).c_str());
  std::printf("  CLI (sealrelay get):               %s\n", list(cli_mbs).c_str());
  std::printf("  best page / best CLI:              %.2f\n", best(page_mbs) / best(cli_mbs));
}

}  // namespace
}  // namespace sealrelay::test
