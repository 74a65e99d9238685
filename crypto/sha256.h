// SHA-256 of a whole file for the trailer, through OpenSSL (SHA-NI: ~5x
// libsodium's speed on this hardware class).
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <span>

#include "crypto/protocol.h"

namespace sealrelay {

using Sha256Digest = std::array<uint8_t, protocol::kSha256Bytes>;

class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(Sha256&&) noexcept;
  Sha256& operator=(Sha256&&) noexcept;

  void update(std::span<const uint8_t> bytes);
  // The digest of everything given to update(); the object then starts over.
  Sha256Digest finish();

  static Sha256Digest of(std::span<const uint8_t> bytes);

 private:
  struct Ctx;
  std::unique_ptr<Ctx> ctx_;
};

}  // namespace sealrelay
