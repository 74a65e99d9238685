#include "base/fingerprint.h"

#include <gtest/gtest.h>
#include <sodium.h>

#include <array>
#include <regex>

namespace sealrelay {
namespace {

TEST(Fingerprint, IsSixGroupsOfFourBase32Characters) {
  std::array<uint8_t, 32> key{};
  randombytes_buf(key.data(), key.size());
  std::string fp = fingerprint::of(key);
  EXPECT_TRUE(std::regex_match(fp, std::regex("([A-Z2-7]{4}-){5}[A-Z2-7]{4}"))) << fp;
}

TEST(Fingerprint, IsStableForAKnownKey) {
  std::array<uint8_t, 32> zero{};
  // Pinned (computed independently with Python's hashlib.blake2b) so a change
  // to the definition in docs/protocol.md cannot slip through unnoticed.
  EXPECT_EQ(fingerprint::of(zero), "AQOA-7EMW-SAUE-QMV4-GRLR-X5KO");
}

TEST(Fingerprint, DiffersWhenOneBitOfTheKeyDiffers) {
  std::array<uint8_t, 32> a{}, b{};
  b[31] = 1;
  EXPECT_NE(fingerprint::of(a), fingerprint::of(b));
}

TEST(Fingerprint, NormalizeAcceptsWhatPeopleTypeAndRejectsTheRest) {
  std::array<uint8_t, 32> key{};
  key[0] = 7;
  std::string fp = fingerprint::of(key);
  std::string sloppy;
  for (char c : fp) sloppy.push_back(c == '-' ? ' ' : static_cast<char>(std::tolower(c)));
  EXPECT_EQ(fingerprint::normalize(sloppy), fp);
  EXPECT_EQ(fingerprint::normalize(fp), fp);
  EXPECT_FALSE(fingerprint::normalize(fp.substr(0, 28)));
  EXPECT_FALSE(fingerprint::normalize(fp + "A"));
  EXPECT_FALSE(fingerprint::normalize("0000-0000-0000-0000-0000-0000"));  // 0 is not base32
  EXPECT_FALSE(fingerprint::normalize(""));
}

}  // namespace
}  // namespace sealrelay
