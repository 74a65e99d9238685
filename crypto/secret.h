// Secret<N>: N bytes of secret material in sodium_malloc'd memory (guard
// pages, mlock'd, wiped on free). Move-only; compare with sodium_memcmp only.
#pragma once

#include <sodium.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>
#include <utility>

namespace sealrelay {

template <size_t N>
class Secret {
 public:
  // Zero-filled. Aborts if the allocator fails: there is no sane way to go on
  // without memory for a key. sodium_malloc needs sodium_init(), which is
  // idempotent: calling it here makes forgetting it in a main harmless.
  Secret() : p_(init_and_allocate()) {
    sodium_memzero(p_, N);
  }
  ~Secret() { sodium_free(p_); }
  Secret(Secret&& o) noexcept : p_(std::exchange(o.p_, nullptr)) {}
  Secret& operator=(Secret&& o) noexcept {
    if (this != &o) {
      sodium_free(p_);
      p_ = std::exchange(o.p_, nullptr);
    }
    return *this;
  }
  Secret(const Secret&) = delete;
  Secret& operator=(const Secret&) = delete;

  static constexpr size_t size() { return N; }
  uint8_t* data() { return p_; }
  const uint8_t* data() const { return p_; }
  std::span<uint8_t, N> span() { return std::span<uint8_t, N>(p_, N); }
  std::span<const uint8_t, N> span() const { return std::span<const uint8_t, N>(p_, N); }

  // A copy in fresh secret memory (for the rare owner that must keep its own).
  Secret clone() const {
    Secret c;
    std::copy(p_, p_ + N, c.p_);
    return c;
  }

 private:
  static uint8_t* init_and_allocate() {
    if (sodium_init() < 0) std::abort();
    auto* p = static_cast<uint8_t*>(sodium_malloc(N));
    if (p == nullptr) std::abort();
    return p;
  }
  uint8_t* p_;
};

}  // namespace sealrelay
