// What each token holds open on this node, so revoking the token ends it.
//
// Every long-lived request authenticated by a token (an agent's control
// stream and uploads, a requester's event streams) takes a lease on the
// token id. When the tokens file drops the token (TokenVerifier::take_revoked,
// polled each second by the server's housekeeping), revoke() marks its
// leases and wakes the streams waiting on a mailbox; each stream and upload
// checks its lease and ends itself. With several relay nodes every node
// re-reads the file and ends its own. A client-certificate agent has no
// token and takes no lease: revoking tokens does not touch it.
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "relay/mailbox.h"

namespace sealrelay::relay {

class Leases {
 public:
  class Lease {
   public:
    bool revoked() const { return revoked_.load(std::memory_order_acquire); }
    // The mailbox the holder waits on; revoke() pokes it. Optional.
    void wake_through(std::weak_ptr<Mailbox> box);

   private:
    friend class Leases;
    std::atomic<bool> revoked_{false};
    std::mutex mu_;
    std::weak_ptr<Mailbox> box_;  // guarded by mu_
  };

  // A lease on `token_id`, held until the last copy of the pointer goes.
  // The Leases must outlive it.
  std::shared_ptr<Lease> take(const std::string& token_id);
  // Marks every lease on these ids revoked and wakes their holders.
  // Returns how many there were.
  size_t revoke(const std::vector<std::string>& token_ids);

 private:
  std::mutex mu_;
  // Guarded by mu_; a multimap's iterators stay valid, so each lease's
  // deleter erases its own entry.
  std::multimap<std::string, Lease*> held_;
};

}  // namespace sealrelay::relay
