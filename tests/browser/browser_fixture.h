// The fixture of the browser tests (browser_test.cpp) and of the page's
// throughput measurement (browser_bench.cpp): a real redis-server, relay
// (serving web/ with --web-root) and agent, started with tests/support's Deployment;
// page_driver.mjs runs one scenario in Debian's headless chromium and writes
// a result file, which the test reads back as JSON.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>

#include "base/base64.h"
#include "base/fingerprint.h"
#include "crypto/sha256.h"
#include "tests/support/deployment.h"

namespace sealrelay::test {

namespace fs = std::filesystem;
using json = nlohmann::json;
using Store = Deployment::Store;

inline constexpr size_t kMiB = 1024 * 1024;
// web/ of this checkout, or $SEALRELAY_WEB_ROOT: another copy of the page
// (with its node_modules/ and vendor/), for browser_bench to measure two
// versions of the page's JavaScript against the same relay in turn.
inline const std::string kWeb = [] {
  const char* env = std::getenv("SEALRELAY_WEB_ROOT");
  return env && *env ? std::string(env) : std::string(SEALRELAY_SOURCE_DIR) + "/web";
}();

inline std::string chromium_path() {
  const char* env = std::getenv("SEALRELAY_CHROMIUM");
  return env && *env ? env : "/usr/bin/chromium";
}

// Why the browser tests cannot run here, or "" when they can.
inline std::string missing_prerequisite() {
  if (std::string(SEALRELAY_NODE_PATH).empty()) return "node is not installed (run scripts/setup)";
  if (access(chromium_path().c_str(), X_OK) != 0) {
    return chromium_path() + " is not installed (run scripts/setup: Debian's chromium package)";
  }
  if (!fs::exists(kWeb + "/node_modules/playwright-core/package.json")) {
    return "web/node_modules/playwright-core is missing (run scripts/setup: npm ci in web/)";
  }
  if (!fs::exists(kWeb + "/vendor/libsodium-wrappers.mjs")) return "web/vendor/ is missing (run scripts/setup)";
  return "";
}

inline std::string hex(std::span<const uint8_t> bytes) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  for (uint8_t b : bytes) {
    out += digits[b >> 4];
    out += digits[b & 15];
  }
  return out;
}

inline std::string sha256_of_file(const std::string& path) {
  std::string content = read_file(path);
  auto digest = Sha256::of(std::span(reinterpret_cast<const uint8_t*>(content.data()), content.size()));
  return hex(digest);
}

// The fingerprint of the agent's current identity key (its key file's public= line).
inline std::string agent_fingerprint(const std::string& state_dir) {
  std::smatch m;
  std::string text = read_file(state_dir + "/identity.key");
  std::vector<uint8_t> key;
  if (!std::regex_search(text, m, std::regex("public=(\\S+)")) || !base64::decode_into(m[1].str(), key) ||
      key.size() != kKeyBytes) {
    return "no key";
  }
  return fingerprint::of(std::span<const uint8_t, kKeyBytes>(key.data(), key.size()));
}

inline bool contains(const json& j, const char* field, const std::string& needle) {
  return j.contains(field) && j[field].is_string() && j[field].get<std::string>().find(needle) != std::string::npos;
}

class BrowserPage : public testing::Test {
 protected:
  void SetUp() override {
    if (auto why = missing_prerequisite(); !why.empty()) GTEST_SKIP() << "skipped: " << why;
    std::vector<std::string> relay_args{"--web-root", kWeb};
    relay_args.insert(relay_args.end(), extra_relay_args_.begin(), extra_relay_args_.end());
    auto s = Deployment::start_one_relay(Store::kRedis, relay_args);
    if (!s && s.error().code == "redis_absent") GTEST_SKIP() << "skipped: " << s.error().message;
    ASSERT_TRUE(s.ok()) << s.error().message;
    sys = std::move(*s);
    ASSERT_NO_FATAL_FAILURE(start_agent());
    // The CLI's key is authorized; the browser's is not until a scenario
    // appends it. The agent re-reads the file before each handshake.
    src = sys->share(agent_id_) + "/big.bin";
    write_random_file(src, big_bytes_, 61);
    fs::create_directories(sys->share(agent_id_) + "/sub dir");
    std::ofstream(sys->share(agent_id_) + "/sub dir/année — résumé.txt") << "bonjour\n";
    std::ofstream(sys->share(agent_id_) + "/empty.txt");
    // A requester token of the page's own (the relay re-reads its tokens
    // file; the driver waits until the token is accepted).
    auto token = sys->token({"add-requester", "browser", "--agents", "*"});
    ASSERT_TRUE(token) << token.error().message;
    token_ = *token;
    fs::create_directories(sync_dir());
  }

  // Agent agent_id_ with share "demo" = sys->share(agent_id_), online.
  virtual void start_agent() { ASSERT_TRUE(sys->start_agent_online(agent_id_).ok()); }

  // While the page holds its reading: waits until the download's frames stop
  // arriving in Redis (the relay's window is full, so Chromium has read as far
  // ahead as it will) and sets `key` to the download's stream. False after 30 s.
  bool wait_for_full_window(std::string& key) {
    std::string previous;
    return wait_until(
        [&] {
          // The download's stream: the longest (the listings' streams are still there).
          auto keys = sys->redis()->command({"KEYS", "sr:{t:*}:ev"});
          if (!keys || keys->empty()) return false;
          size_t longest = 0;
          std::istringstream lines(*keys);
          for (std::string k; std::getline(lines, k);) {
            auto n = sys->redis()->command({"XLEN", k});
            if (n && std::stoul(*n) > longest) longest = std::stoul(*n), key = k;
          }
          auto top = sys->redis()->command({"XREVRANGE", key, "+", "-", "COUNT", "1"});
          if (!top) return false;
          std::string id = top->substr(0, top->find('\n'));
          bool settled = id == previous;
          previous = id;
          return settled;
        },
        std::chrono::seconds(30), std::chrono::milliseconds(300));
  }

  std::string sync_dir() const { return sys->dir() + "/sync"; }
  std::string out_dir() const { return sys->dir() + "/out"; }

  // Starts page_driver.mjs SCENARIO in the background.
  std::unique_ptr<Process> start_driver(const std::string& scenario) {
    std::vector<std::string> env{
        "SEALRELAY_URL=" + sys->url(),
        "SEALRELAY_TOKEN=" + token_,
        "SEALRELAY_AGENT=" + agent_id_,
        "SEALRELAY_AUTHORIZED=" + sys->agent_state(agent_id_) + "/authorized_requesters",
        "SEALRELAY_SYNC=" + sync_dir(),
        "SEALRELAY_OUT=" + out_dir(),
        "SEALRELAY_RESULT=" + sys->dir() + "/result.json",
        "SEALRELAY_SCREENSHOTS=" + screenshots_,
        "SEALRELAY_CHROMIUM=" + chromium_path(),
        "SEALRELAY_WEB=" + kWeb,
    };
    auto p = Process::spawn({SEALRELAY_NODE_PATH, std::string(SEALRELAY_SOURCE_DIR) + "/tests/browser/page_driver.mjs",
                             scenario},
                            sys->dir() + "/driver.log", Process::Options{env, ""});
    EXPECT_TRUE(p.ok()) << p.error().message;
    return p ? std::move(*p) : nullptr;
  }

  // Waits for the driver and returns its result (with "driver_log").
  json finish_driver(Process& driver) {
    auto status = driver.wait_exit(std::chrono::seconds(240));
    json r = json::parse(read_file(sys->dir() + "/result.json"), nullptr, false);
    if (r.is_discarded()) r = json{{"ok", false}, {"error", "the driver wrote no result"}};
    r["driver_log"] = driver.log();
    if (!status) r["ok"] = false;
    return r;
  }

  json run_driver(const std::string& scenario) {
    auto driver = start_driver(scenario);
    if (!driver) return json{{"ok", false}};
    return finish_driver(*driver);
  }

  bool wait_signal(const std::string& name, std::chrono::milliseconds timeout = std::chrono::seconds(120)) {
    return wait_until([&] { return fs::exists(sync_dir() + "/" + name); }, timeout, std::chrono::milliseconds(50));
  }
  void signal(const std::string& name) { std::ofstream(sync_dir() + "/" + name); }

  // What every scenario checks: it ran, and the page logged no error (a CSP
  // violation or an uncaught exception shows up here).
  void expect_clean(const json& r) {
    ASSERT_TRUE(r.value("ok", false)) << r.value("error", "") << "\n" << r.value("driver_log", "");
    EXPECT_TRUE(r["pageErrors"].empty()) << r["pageErrors"].dump(2);
    EXPECT_TRUE(contains(r, "badTokenMessage", "not a requester token")) << r.dump(2);
    EXPECT_FALSE(r.value("tokenInUrl", true));
    EXPECT_TRUE(r.value("tokenInSessionStorage", false));
    EXPECT_TRUE(std::regex_match(r.value("authLine", ""),
                                 std::regex("[A-Za-z0-9+/]{43}= browser 127\\.0\\.0\\.1:[0-9]+ [0-9]{4}-[0-9]{2}-[0-9]{2}")))
        << r.value("authLine", "");
    EXPECT_TRUE(contains(r, "agentRow", "online")) << r.value("agentRow", "");
    for (const char* path : {"/", "/js/app.js", "/vendor/libsodium.mjs", "/css/app.css"}) {
      const json& s = r["served"][path];
      EXPECT_EQ(s.value("status", 0), 200) << path;
      EXPECT_TRUE(contains(s, "csp", "frame-ancestors 'none'")) << path << ": " << s.dump();
      EXPECT_EQ(s.value("nosniff", ""), "nosniff") << path;
    }
    EXPECT_TRUE(contains(r["served"]["/"], "type", "text/html")) << r["served"].dump();
    EXPECT_TRUE(contains(r["served"]["/js/app.js"], "type", "javascript")) << r["served"].dump();
    EXPECT_TRUE(contains(r["served"]["/vendor/libsodium.mjs"], "type", "javascript")) << r["served"].dump();
    EXPECT_TRUE(contains(r["served"]["/css/app.css"], "type", "text/css")) << r["served"].dump();
  }

  // The "download" scenario's result: the agent's fingerprint shown and
  // pinned, the listing (big.bin's size as `size_text`), big.bin saved
  // bit-identical through the page's Workers and binary event streams.
  void expect_browsed_and_downloaded(const json& r, const std::string& size_text) {
    std::string agent_fp = agent_fingerprint(sys->agent_state(agent_id_));
    EXPECT_TRUE(contains(r, "agentRow", agent_fp)) << r.value("agentRow", "");
    EXPECT_TRUE(contains(r, "agentRow", "not pinned")) << r.value("agentRow", "");
    EXPECT_TRUE(contains(r, "pinNote", "First contact")) << r.value("pinNote", "");
    EXPECT_TRUE(contains(r, "pinNote", agent_fp)) << r.value("pinNote", "");
    std::string listing = r["listing"].dump();
    EXPECT_NE(listing.find(R"("name":"sub dir","text":"sub dir/)"), std::string::npos) << listing;
    EXPECT_NE(listing.find(size_text), std::string::npos) << listing;
    EXPECT_NE(listing.find(R"("name":"empty.txt")"), std::string::npos) << listing;
    EXPECT_EQ(r["subListing"], json::array({"année — résumé.txt"})) << "a UTF-8 name, as on disk";
    EXPECT_TRUE(contains(r, "crumbs", "sub dir")) << r.value("crumbs", "");
    EXPECT_EQ(r.value("focusAfterListing", ""), "browse-title") << "focus moves to the listing it opened";
    EXPECT_EQ(r["download"].value("state", ""), "done") << r["download"].dump(2);
    EXPECT_TRUE(contains(r["download"], "result", "Verified")) << r["download"].dump(2);
    ASSERT_TRUE(r["disk"].is_object()) << r.dump(2);
    EXPECT_EQ(r["disk"].value("size", uint64_t{0}), big_bytes_);
    EXPECT_EQ(r["disk"].value("sha256", ""), sha256_of_file(src));
    // Decryption in one Worker, the running SHA-256 in another (docs/web.md).
    EXPECT_EQ(r["workers"], json::array({"/js/hash_worker.js", "/js/transfer_worker.js"})) << r["workers"].dump();
    // The page asks for the binary event stream and the relay answers it
    // (docs/api.md): the listings' streams and the download's.
    ASSERT_FALSE(r["eventStreams"].empty()) << r.dump(2);
    for (const auto& type : r["eventStreams"]) EXPECT_EQ(type, "application/vnd.sealrelay.events") << r["eventStreams"];
    EXPECT_TRUE(contains(r, "agentRowAfter", "pinned")) << r.value("agentRowAfter", "");
    EXPECT_FALSE(contains(r, "agentRowAfter", "not pinned")) << r.value("agentRowAfter", "");
  }

  std::unique_ptr<Deployment> sys;
  std::string src;
  std::string token_;
  // Set by derived fixtures before SetUp.
  std::vector<std::string> extra_relay_args_;
  std::string agent_id_ = "shop-1";
  uint64_t big_bytes_ = 32 * kMiB;  // big.bin's size
  std::string screenshots_ = SEALRELAY_SCREENSHOT_DIR;
};

}  // namespace sealrelay::test
