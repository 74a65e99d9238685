// Test fakes for the agent's policies: a clock moved by hand, an Rng that
// answers what the test says, and a temporary directory per test.
#pragma once

#include "base/clock.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <deque>
#include <filesystem>
#include <fstream>
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

// A fresh directory under $TMPDIR (or /tmp), removed with everything in it
// when the test ends. Permissions a test took away are restored first.
class TempDir {
 public:
  TempDir() {
    const char* base = std::getenv("TMPDIR");
    std::string tmpl = std::string(base && *base ? base : "/tmp") + "/sealrelay-agent-XXXXXX";
    if (!::mkdtemp(tmpl.data())) std::abort();
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    for (auto it = std::filesystem::recursive_directory_iterator(
             path_, std::filesystem::directory_options::skip_permission_denied, ec);
         !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
      if (it->is_directory(ec) && !it->is_symlink(ec)) ::chmod(it->path().c_str(), 0700);
    }
    ::chmod(path_.c_str(), 0700);
    std::filesystem::remove_all(path_, ec);
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
    if (::symlink(target.c_str(), (*this / rel).c_str()) != 0) std::abort();
  }

 private:
  std::string path_;
};

}  // namespace sealrelay::agent::testing
