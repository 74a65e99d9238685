#include "crypto/sha256.h"

#include <gtest/gtest.h>
#include <sodium.h>

namespace sealrelay {
namespace {

std::string hex(const Sha256Digest& d) {
  char out[65];
  sodium_bin2hex(out, sizeof out, d.data(), d.size());
  return out;
}

TEST(Sha256, KnownAnswers) {
  EXPECT_EQ(hex(Sha256::of({})), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  const uint8_t abc[] = {'a', 'b', 'c'};
  EXPECT_EQ(hex(Sha256::of(abc)), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(Sha256, IncrementalEqualsOneShotAndStartsOverAfterFinish) {
  std::vector<uint8_t> data(100'000);
  randombytes_buf(data.data(), data.size());
  Sha256 h;
  h.update(std::span(data).first(1));
  h.update(std::span(data).subspan(1, 65536));
  h.update(std::span(data).subspan(65537));
  EXPECT_EQ(h.finish(), Sha256::of(data));
  EXPECT_EQ(h.finish(), Sha256::of({}));
}

}  // namespace
}  // namespace sealrelay
