// Test fakes for the agent's policies: a clock moved by hand, an Rng that
// answers what the test says, and a temporary directory per test.
#pragma once

#include "base/clock.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <deque>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>

namespace sealrelay::agent::testing {

// A clock that only moves when told to.
class FakeClock final : public Clock {
 public:
  time_point now() const override { return now_; }
  void advance(duration d) { now_ += d; }

 private:
  time_point now_{std::chrono::hours(1)};
};

// An Rng returning `fraction` of the bound (0 = always the minimum, 1 =
// always the maximum), or the scripted values first, clamped to the bound.
class FakeRng final : public Rng {
 public:
  explicit FakeRng(double fraction = 0.5) : fraction_(fraction) {}
  void script(std::deque<uint64_t> values) { script_ = std::move(values); }
  uint64_t uniform(uint64_t bound) override {
    bounds.push_back(bound);
    if (!script_.empty()) {
      uint64_t v = script_.front();
      script_.pop_front();
      return std::min(v, bound);
    }
    return static_cast<uint64_t>(static_cast<long double>(bound) * fraction_);
  }
  std::vector<uint64_t> bounds;  // Every bound asked for, in order.

 private:
  double fraction_;
  std::deque<uint64_t> script_;
};

// A fresh directory under the system's temporary folder ($TMPDIR or /tmp;
// %TMP% on Windows), removed with everything in it when the test ends.
// Permissions a test took away are restored first.
class TempDir {
 public:
  TempDir() {
    std::random_device random;
    for (;;) {
      auto p = std::filesystem::temp_directory_path() / ("sealrelay-agent-" + std::to_string(random()));
      std::error_code ec;
      if (std::filesystem::create_directory(p, ec)) {
        path_ = p.generic_string();
        break;
      }
      if (ec) std::abort();
    }
  }
  ~TempDir() {
    namespace fs = std::filesystem;
    std::error_code ec;
    for (auto it = fs::recursive_directory_iterator(path_, fs::directory_options::skip_permission_denied, ec);
         !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
      if (it->is_directory(ec) && !it->is_symlink(ec)) fs::permissions(it->path(), fs::perms::owner_all, ec);
    }
    fs::permissions(path_, fs::perms::owner_all, ec);
    fs::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  std::string operator/(const std::string& rel) const { return path_ + "/" + rel; }

  // Creates the file `rel` (and its directories) holding `content`.
  std::string write(const std::string& rel, const std::string& content) const {
    std::string p = *this / rel;
    std::filesystem::create_directories(std::filesystem::path(p).parent_path());
    std::ofstream(p, std::ios::binary) << content;
    return p;
  }
  std::string mkdir(const std::string& rel) const {
    std::string p = *this / rel;
    std::filesystem::create_directories(p);
    return p;
  }
  // Creates the symbolic link `rel` whose text is `target`.
  void symlink(const std::string& target, const std::string& rel) const {
    std::filesystem::create_directories(std::filesystem::path(*this / rel).parent_path());
    std::error_code ec;
    std::filesystem::create_symlink(target, *this / rel, ec);
    if (ec) std::abort();
  }

 private:
  std::string path_;
};

}  // namespace sealrelay::agent::testing
