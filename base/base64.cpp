#include "base/base64.h"

#include <openssl/evp.h>

#include <algorithm>
#include <cstring>

namespace sealrelay::base64 {
namespace {

// EVP_*Block take an int length; feed them in slices that keep whole groups.
constexpr size_t kEncodeSlice = 3 * (1u << 20);
constexpr size_t kDecodeSlice = 4 * (1u << 20);

int sextet(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

}  // namespace

void encode_into(std::span<const uint8_t> in, char* out) {
  if (in.empty()) return;
  auto* dst = reinterpret_cast<unsigned char*>(out);
  // EVP_EncodeBlock writes a NUL after its output. Every slice but the last
  // group writes it where the next output starts; the last group (1-3 bytes)
  // goes through a small buffer so nothing lands past `out`.
  const size_t last_group = (in.size() - 1) / 3 * 3;
  for (size_t done = 0; done < last_group;) {
    size_t n = std::min(kEncodeSlice, last_group - done);
    EVP_EncodeBlock(dst, in.data() + done, static_cast<int>(n));
    dst += n / 3 * 4;
    done += n;
  }
  unsigned char tail[5];
  EVP_EncodeBlock(tail, in.data() + last_group, static_cast<int>(in.size() - last_group));
  std::memcpy(dst, tail, 4);
}

std::string encode(std::span<const uint8_t> in) {
  std::string out(encoded_size(in.size()), '\0');
  encode_into(in, out.data());
  return out;
}

std::string encode(std::string_view in) {
  return encode(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(in.data()), in.size()));
}

bool decode_into(std::string_view in, std::vector<uint8_t>& out) {
  out.clear();
  if (in.size() % 4 != 0) return false;
  if (in.empty()) return true;

  size_t padding = 0;
  if (in.back() == '=') padding = in[in.size() - 2] == '=' ? 2 : 1;
  size_t body = in.size() - padding;
  // OpenSSL's decoder reads '=' anywhere as zero bits and trims surrounding
  // whitespace; both would make non-canonical input decode, so refuse them here.
  if (std::memchr(in.data(), '=', body) != nullptr) return false;
  int last = sextet(in[body - 1]);
  if (sextet(in.front()) < 0 || last < 0) return false;
  if ((padding == 1 && (last & 0x3) != 0) || (padding == 2 && (last & 0xf) != 0)) return false;

  out.resize(decoded_size_max(in.size()));
  auto* src = reinterpret_cast<const unsigned char*>(in.data());
  size_t written = 0;
  for (size_t done = 0; done < in.size();) {
    size_t n = std::min(kDecodeSlice, in.size() - done);
    int got = EVP_DecodeBlock(out.data() + written, src + done, static_cast<int>(n));
    if (got < 0) {
      out.clear();
      return false;
    }
    written += static_cast<size_t>(got);
    done += n;
  }
  out.resize(written - padding);
  return true;
}

}  // namespace sealrelay::base64
