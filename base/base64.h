// Base64 for the data path: standard alphabet with padding (RFC 4648 §4),
// strict on decode. Backed by OpenSSL's block codec, which is ~10x faster
// than libsodium's constant-time one. NOT constant time: use it for
// ciphertext and public values only; keys and secrets go through
// crypto/keys.h, which uses libsodium's codec.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace sealrelay::base64 {

// Number of characters encode() produces for n input bytes.
constexpr size_t encoded_size(size_t n) { return (n + 2) / 3 * 4; }

// Upper bound on the bytes decode() produces for n characters.
constexpr size_t decoded_size_max(size_t n) { return n / 4 * 3; }

// Encodes `in` into `out`, which must hold encoded_size(in.size()) chars.
void encode_into(std::span<const uint8_t> in, char* out);

std::string encode(std::span<const uint8_t> in);
std::string encode(std::string_view in);

// Decodes canonical base64 (length a multiple of 4, padding only at the end,
// no whitespace, unused bits zero) into `out`, replacing its contents.
// Returns false and leaves `out` empty on any malformed input.
[[nodiscard]] bool decode_into(std::string_view in, std::vector<uint8_t>& out);

}  // namespace sealrelay::base64
