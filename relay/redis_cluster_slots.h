// Redis Cluster's addressing, as pure functions: which slot a key lives in,
// which node serves a slot (the slot map read from CLUSTER SLOTS), and what a
// MOVED or ASK redirection says. No I/O: the connection side (one pool per
// node, following redirections, refreshing the map) builds on this.
//
// The rules are Redis Cluster's (its specification, "Keys distribution
// model"): slot = CRC16-XMODEM(k) mod 16384, where k is the hash tag -- the
// bytes between the first '{' and the first '}' after it -- when that is
// non-empty, and the whole key otherwise. relay/redis_keys.h relies on them:
// every key one script or transaction touches carries the same tag.
#pragma once

#include <hiredis.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"

namespace sealrelay::relay::redis {

inline constexpr uint16_t kClusterSlots = 16384;

// CRC16 with the XMODEM parameters (polynomial 0x1021, initial value 0, no
// reflection): "123456789" gives 0x31C3.
uint16_t crc16_xmodem(std::string_view bytes);

// The part of `key` that picks its slot: the hash tag, or the whole key.
std::string_view hash_tag(std::string_view key);

// The slot of `key`, in [0, kClusterSlots).
uint16_t key_slot(std::string_view key);

// A node as the cluster names it. `host` may be empty: Redis says so when it
// does not know the address it is reached by, and the caller then uses the
// host it asked.
struct NodeAddress {
  std::string host;
  int port = 0;
  bool operator==(const NodeAddress&) const = default;
  std::string text() const { return host + ":" + std::to_string(port); }
};

// Which master serves each slot. Built from a CLUSTER SLOTS reply; a slot no
// master serves (a cluster mid-failover, or not fully set up) has none.
class SlotMap {
 public:
  // Refuses a reply that is not CLUSTER SLOTS' shape (ranges out of order
  // are fine; a range outside [0, 16383], a first > last, a port outside
  // 1..65535 or a node entry without a host string and a port are not).
  static Result<SlotMap> from_cluster_slots(const redisReply* reply);

  const NodeAddress* master_of(uint16_t slot) const;
  // Every master that serves at least one slot, each once.
  std::vector<NodeAddress> masters() const;
  // How many of the 16384 slots have a master.
  size_t covered() const;

 private:
  // slot -> index into masters_; kNone where no master serves it.
  static constexpr uint16_t kNone = 0xFFFF;
  std::vector<uint16_t> owner_ = std::vector<uint16_t>(kClusterSlots, kNone);
  std::vector<NodeAddress> masters_;
};

// "MOVED 3999 127.0.0.1:6381" or "ASK 3999 127.0.0.1:6381", as the error
// reply's text. MOVED: the slot lives there now (refresh the map); ASK: ask
// that node once, after ASKING, for this command only (a slot in migration).
struct Redirection {
  enum class Kind { moved, ask };
  Kind kind;
  uint16_t slot;
  NodeAddress to;
};
// nullopt when `error` is not a well-formed redirection (any other error).
std::optional<Redirection> parse_redirection(std::string_view error);

}  // namespace sealrelay::relay::redis
