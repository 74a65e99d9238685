// Long-term identities: X25519 key pairs (the Noise static keys) of agents
// and requesters, and the key file they live in (docs/protocol.md §Identity).
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

#include "base/result.h"
#include "crypto/protocol.h"
#include "crypto/secret.h"

namespace sealrelay {

using PublicKey = std::array<uint8_t, protocol::kKeyBytes>;
using PrivateKey = Secret<protocol::kKeyBytes>;

struct Identity {
  PrivateKey private_key;
  PublicKey public_key{};
};

// A fresh random key pair.
Identity generate_identity();

// The public key that belongs to `private_key`.
PublicKey public_key_of(const PrivateKey& private_key);

// Standard base64 (with padding) of a public key, as on the wire and in files.
std::string encode_public_key(const PublicKey& key);
// nullopt unless `text` is exactly the base64 of 32 bytes.
std::optional<PublicKey> decode_public_key(std::string_view text);

// The human fingerprint of a public key (base/fingerprint.h).
std::string fingerprint_of(const PublicKey& key);

// Writes `identity` to `path` atomically (temp file, fsync, rename, fsync of
// the directory) with mode 0600, creating the parent directory with mode
// 0700 if missing. Refuses to replace an existing file unless `overwrite`.
Result<void> save_identity(const std::filesystem::path& path, const Identity& identity,
                           bool overwrite = false);

// Loads a key file written by save_identity. Refuses, with the fix in the
// message: a missing file, one that is not a regular file, one readable or
// writable by group/others or owned by another user, malformed content, and a
// public key that does not match the private key.
Result<Identity> load_identity(const std::filesystem::path& path);

}  // namespace sealrelay
