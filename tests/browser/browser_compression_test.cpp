// Compression through the page (docs/protocol.md §3.1, web/js/zstd.js): a
// CSV downloaded in real headless Chromium with the page's switch on (as it
// starts) and off. Each is verified by the page (its trailer) and here (the
// saved file's SHA-256); with the switch on the relay carried a fraction of
// the file (its sealrelay_bytes_committed_total), off every byte.
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>

#include "tests/browser/browser_fixture.h"

namespace sealrelay::test {
namespace {

// Rows of a sales export, about 5x smaller with zstd -1.
void write_csv(const std::string& path, size_t bytes) {
  std::ofstream out(path, std::ios::binary);
  uint64_t x = 88172645463325252ull;
  for (size_t written = 0; written < bytes;) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    char row[96];
    int n = std::snprintf(row, sizeof row, "2026-%02u-%02u,store-%03u,SKU-%05u,%u.%02u,EUR\n",
                          static_cast<unsigned>(x % 12 + 1), static_cast<unsigned>(x % 28 + 1),
                          static_cast<unsigned>(x % 40), static_cast<unsigned>(x % 20000),
                          static_cast<unsigned>(x % 500), static_cast<unsigned>(x % 100));
    out.write(row, n);
    written += static_cast<size_t>(n);
  }
}

TEST_F(BrowserPage, ACompressibleFileThroughThePageIsVerifiedWithTheSwitchOnAndOff) {
  const std::string csv = sys->share("shop-1") + "/sales.csv";
  write_csv(csv, 16 * kMiB);
  const auto size = static_cast<double>(std::filesystem::file_size(csv));
  json r = run_driver("compressed");
  expect_clean(r);
  if (HasFatalFailure()) return;
  EXPECT_TRUE(r.value("switchOn", false)) << "the page starts with compression on";
  for (const char* mode : {"auto", "off"}) {
    const json& m = r[mode];
    EXPECT_EQ(m["download"].value("state", ""), "done") << mode << ": " << m.dump(2);
    EXPECT_TRUE(contains(m["download"], "result", "Verified")) << mode << ": " << m.dump(2);
    ASSERT_TRUE(m["disk"].is_object()) << mode << ": " << r.dump(2);
    EXPECT_EQ(m["disk"].value("size", 0.0), size) << mode;
    EXPECT_EQ(m["disk"].value("sha256", ""), sha256_of_file(csv)) << mode;
  }
  EXPECT_LT(r["auto"].value("committed", 0.0), size / 3) << "with the switch on the relay carried "
                                                         << r["auto"].value("committed", 0.0) << " bytes";
  EXPECT_GE(r["off"].value("committed", 0.0), size) << "with the switch off every byte crosses the relay";
}

}  // namespace
}  // namespace sealrelay::test
