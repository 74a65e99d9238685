#include "base/base64.h"

#include <gtest/gtest.h>
#include <sodium.h>

#include <string>
#include <vector>

namespace sealrelay {
namespace {

std::vector<uint8_t> random_bytes(size_t n) {
  std::vector<uint8_t> v(n);
  if (n > 0) randombytes_buf(v.data(), v.size());  // data() may be null when empty
  return v;
}

std::string sodium_encode(const std::vector<uint8_t>& v) {
  std::string out(sodium_base64_encoded_len(v.size(), sodium_base64_VARIANT_ORIGINAL), '\0');
  sodium_bin2base64(out.data(), out.size(), v.data(), v.size(), sodium_base64_VARIANT_ORIGINAL);
  out.pop_back();  // sodium counts the NUL
  return out;
}

TEST(Base64, RoundTripsEverySizeAroundGroupBoundariesAndMatchesLibsodium) {
  ASSERT_GE(sodium_init(), 0);
  for (size_t n : {0, 1, 2, 3, 4, 5, 6, 7, 47, 48, 49, 4095, 4096, 4097, 262144, 262145}) {
    auto in = random_bytes(n);
    std::string text = base64::encode(in);
    ASSERT_EQ(text.size(), base64::encoded_size(n));
    EXPECT_EQ(text, sodium_encode(in)) << n;
    std::vector<uint8_t> back;
    ASSERT_TRUE(base64::decode_into(text, back)) << n;
    EXPECT_EQ(back, in) << n;
  }
}

TEST(Base64, RoundTripsInputsLargerThanOneCodecSlice) {
  auto in = random_bytes((5u << 20) + 2);
  std::vector<uint8_t> back;
  ASSERT_TRUE(base64::decode_into(base64::encode(in), back));
  EXPECT_EQ(back, in);
}

TEST(Base64, EncodeIntoWritesNothingPastTheOutput) {
  for (size_t n = 1; n <= 7; ++n) {
    auto in = random_bytes(n);
    std::string buf(base64::encoded_size(n) + 1, '#');
    base64::encode_into(in, buf.data());
    EXPECT_EQ(buf.back(), '#') << n;
  }
}

class Base64Rejects : public testing::TestWithParam<std::string> {};

TEST_P(Base64Rejects, MalformedInputAndLeavesOutputEmpty) {
  std::vector<uint8_t> out{1, 2, 3};
  EXPECT_FALSE(base64::decode_into(GetParam(), out)) << testing::PrintToString(GetParam());
  EXPECT_TRUE(out.empty());
}

INSTANTIATE_TEST_SUITE_P(All, Base64Rejects,
                         testing::Values<std::string>("Y", "YW", "YWJ", "YWJjY", "Y===", "YQ=a", "=QQQ", " YWJj", "YWJj\n",
                                         "YW Jj", "YWJ\n", "YR==", "YWK=", "YW-j", "YW_j", "YQ==YQ==", "====",
                                         std::string("YWJj\0abc", 8)));

}  // namespace
}  // namespace sealrelay
