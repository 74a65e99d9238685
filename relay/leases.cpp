#include "relay/leases.h"

namespace sealrelay::relay {

void Leases::Lease::wake_through(std::weak_ptr<Mailbox> box) {
  std::lock_guard lk(mu_);
  box_ = std::move(box);
}

std::shared_ptr<Leases::Lease> Leases::take(const std::string& token_id) {
  auto* lease = new Lease;
  std::lock_guard lk(mu_);
  auto at = held_.emplace(token_id, lease);
  return std::shared_ptr<Lease>(lease, [this, at](Lease* l) {
    {
      std::lock_guard lk(mu_);
      held_.erase(at);
    }
    delete l;
  });
}

size_t Leases::revoke(const std::vector<std::string>& token_ids) {
  size_t n = 0;
  std::lock_guard lk(mu_);
  for (auto& id : token_ids) {
    auto [from, to] = held_.equal_range(id);
    for (auto it = from; it != to; ++it, ++n) {
      Lease& l = *it->second;
      l.revoked_.store(true, std::memory_order_release);
      std::shared_ptr<Mailbox> box;
      {
        std::lock_guard wake(l.mu_);
        box = l.box_.lock();
      }
      if (box) box->poke();
    }
  }
  return n;
}

}  // namespace sealrelay::relay
