#include "base/fingerprint.h"

#include <sodium.h>

#include <array>
#include <cctype>

namespace sealrelay::fingerprint {
namespace {

constexpr std::string_view kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
constexpr size_t kChars = kDigestBytes * 8 / 5;
static_assert(kDigestBytes * 8 % 5 == 0, "digest must fill whole base32 characters");
static_assert(kChars == kGroups * 4);

std::string grouped(std::string_view chars) {
  std::string out;
  for (size_t i = 0; i < chars.size(); ++i) {
    if (i > 0 && i % 4 == 0) out.push_back('-');
    out.push_back(chars[i]);
  }
  return out;
}

}  // namespace

std::string of(std::span<const uint8_t, kKeyBytes> public_key) {
  crypto_generichash_state state;
  std::array<uint8_t, 32> digest{};
  crypto_generichash_init(&state, nullptr, 0, digest.size());
  crypto_generichash_update(&state, reinterpret_cast<const uint8_t*>(kDomain.data()), kDomain.size());
  crypto_generichash_update(&state, public_key.data(), public_key.size());
  crypto_generichash_final(&state, digest.data(), digest.size());

  std::string chars;
  uint32_t buffer = 0;
  int bits = 0;
  for (size_t i = 0; i < kDigestBytes; ++i) {
    buffer = (buffer << 8) | digest[i];
    bits += 8;
    while (bits >= 5) {
      chars.push_back(kAlphabet[(buffer >> (bits - 5)) & 0x1f]);
      bits -= 5;
    }
  }
  return grouped(chars);
}

std::optional<std::string> normalize(std::string_view typed) {
  std::string chars;
  for (char c : typed) {
    if (c == '-' || c == ' ') continue;
    char upper = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    if (kAlphabet.find(upper) == std::string_view::npos) return std::nullopt;
    chars.push_back(upper);
  }
  if (chars.size() != kChars) return std::nullopt;
  return grouped(chars);
}

}  // namespace sealrelay::fingerprint
