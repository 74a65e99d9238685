#include "crypto/sha256.h"

#include <openssl/evp.h>

#include <cstdlib>

namespace sealrelay {

struct Sha256::Ctx {
  EVP_MD_CTX* md = EVP_MD_CTX_new();
  ~Ctx() { EVP_MD_CTX_free(md); }
};

namespace {
void init(EVP_MD_CTX* md) {
  // Failure here means OpenSSL is broken or out of memory: nothing to recover.
  if (md == nullptr || EVP_DigestInit_ex(md, EVP_sha256(), nullptr) != 1) std::abort();
}
}  // namespace

Sha256::Sha256() : ctx_(std::make_unique<Ctx>()) { init(ctx_->md); }
Sha256::~Sha256() = default;
Sha256::Sha256(Sha256&&) noexcept = default;
Sha256& Sha256::operator=(Sha256&&) noexcept = default;

void Sha256::update(std::span<const uint8_t> bytes) {
  if (!bytes.empty() && EVP_DigestUpdate(ctx_->md, bytes.data(), bytes.size()) != 1) std::abort();
}

Sha256Digest Sha256::finish() {
  Sha256Digest out{};
  unsigned int n = 0;
  if (EVP_DigestFinal_ex(ctx_->md, out.data(), &n) != 1 || n != out.size()) std::abort();
  init(ctx_->md);
  return out;
}

Sha256Digest Sha256::of(std::span<const uint8_t> bytes) {
  Sha256 h;
  h.update(bytes);
  return h.finish();
}

}  // namespace sealrelay
