// Fingerprints: the short, human-comparable name of an X25519 public key
// (docs/protocol.md §Fingerprint). Shared by relay (agent directory), agent
// and requester, so it lives here rather than in crypto/.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "base/key_bytes.h"

namespace sealrelay::fingerprint {

// Hashed before the key, so a fingerprint is never another protocol's hash.
constexpr std::string_view kDomain = "sealrelay fingerprint v1";
// 15 bytes of BLAKE2b = 120 bits = 24 base32 characters in 6 groups of 4.
constexpr size_t kDigestBytes = 15;
constexpr size_t kGroups = 6;

// "XXXX-XXXX-XXXX-XXXX-XXXX-XXXX" (RFC 4648 base32 alphabet, upper case) of
// BLAKE2b-256("sealrelay fingerprint v1" || public_key), first 15 bytes.
std::string of(std::span<const uint8_t, kKeyBytes> public_key);

// Canonical form of a fingerprint a person typed or pasted: case-insensitive,
// dashes and spaces ignored. nullopt when it is not 24 base32 characters.
std::optional<std::string> normalize(std::string_view typed);

}  // namespace sealrelay::fingerprint
