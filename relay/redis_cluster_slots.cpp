#include "relay/redis_cluster_slots.h"
#include "proto/errors.h"

#include <algorithm>
#include <array>
#include <charconv>

namespace sealrelay::relay::redis {

namespace {

constexpr std::array<uint16_t, 256> crc16_table() {
  std::array<uint16_t, 256> table{};
  for (unsigned byte = 0; byte < 256; ++byte) {
    uint16_t crc = static_cast<uint16_t>(byte << 8);
    for (int bit = 0; bit < 8; ++bit) {
      crc = static_cast<uint16_t>((crc & 0x8000) ? (crc << 1) ^ 0x1021 : crc << 1);
    }
    table[byte] = crc;
  }
  return table;
}

constexpr auto kCrc16Table = crc16_table();

std::optional<long long> integer(const redisReply* r) {
  if (r == nullptr || r->type != REDIS_REPLY_INTEGER) return std::nullopt;
  return r->integer;
}

std::optional<NodeAddress> node(const redisReply* r) {
  if (r == nullptr || r->type != REDIS_REPLY_ARRAY || r->elements < 2) return std::nullopt;
  const redisReply* host = r->element[0];
  auto port = integer(r->element[1]);
  if (host == nullptr || host->type != REDIS_REPLY_STRING || !port || *port < 1 || *port > 65535) {
    return std::nullopt;
  }
  return NodeAddress{std::string(host->str, host->len), static_cast<int>(*port)};
}

std::optional<int> parse_int(std::string_view text, int low, int high) {
  int value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || value < low || value > high) {
    return std::nullopt;
  }
  return value;
}

}  // namespace

uint16_t crc16_xmodem(std::string_view bytes) {
  uint16_t crc = 0;
  for (unsigned char b : bytes) {
    crc = static_cast<uint16_t>((crc << 8) ^ kCrc16Table[((crc >> 8) ^ b) & 0xFF]);
  }
  return crc;
}

std::string_view hash_tag(std::string_view key) {
  size_t open = key.find('{');
  if (open == std::string_view::npos) return key;
  size_t close = key.find('}', open + 1);
  if (close == std::string_view::npos || close == open + 1) return key;
  return key.substr(open + 1, close - open - 1);
}

uint16_t key_slot(std::string_view key) { return crc16_xmodem(hash_tag(key)) % kClusterSlots; }

Result<SlotMap> SlotMap::from_cluster_slots(const redisReply* reply) {
  auto refuse = [](std::string why) { return make_error(ErrorCode::store_error, "CLUSTER SLOTS: " + why); };
  if (reply == nullptr || reply->type != REDIS_REPLY_ARRAY) return refuse("not an array");
  SlotMap map;
  for (size_t i = 0; i < reply->elements; ++i) {
    const redisReply* range = reply->element[i];
    if (range == nullptr || range->type != REDIS_REPLY_ARRAY || range->elements < 3) {
      return refuse("a range without start, end and master");
    }
    auto first = integer(range->element[0]);
    auto last = integer(range->element[1]);
    if (!first || !last || *first < 0 || *last >= kClusterSlots || *first > *last) {
      return refuse("a slot range outside 0..16383");
    }
    auto master = node(range->element[2]);
    if (!master) return refuse("a master without host and port");
    auto known = std::find(map.masters_.begin(), map.masters_.end(), *master);
    auto index = static_cast<uint16_t>(known - map.masters_.begin());
    if (known == map.masters_.end()) map.masters_.push_back(*master);
    std::fill(map.owner_.begin() + *first, map.owner_.begin() + *last + 1, index);
  }
  return map;
}

const NodeAddress* SlotMap::master_of(uint16_t slot) const {
  if (slot >= kClusterSlots || owner_[slot] == kNone) return nullptr;
  return &masters_[owner_[slot]];
}

std::vector<NodeAddress> SlotMap::masters() const { return masters_; }

size_t SlotMap::covered() const {
  return static_cast<size_t>(std::count_if(owner_.begin(), owner_.end(), [](uint16_t o) { return o != kNone; }));
}

std::optional<Redirection> parse_redirection(std::string_view error) {
  Redirection r{};
  if (error.starts_with("MOVED ")) {
    r.kind = Redirection::Kind::moved;
    error.remove_prefix(6);
  } else if (error.starts_with("ASK ")) {
    r.kind = Redirection::Kind::ask;
    error.remove_prefix(4);
  } else {
    return std::nullopt;
  }
  size_t space = error.find(' ');
  if (space == std::string_view::npos) return std::nullopt;
  auto slot = parse_int(error.substr(0, space), 0, kClusterSlots - 1);
  std::string_view address = error.substr(space + 1);
  size_t colon = address.rfind(':');
  if (!slot || colon == std::string_view::npos) return std::nullopt;
  auto port = parse_int(address.substr(colon + 1), 1, 65535);
  if (!port) return std::nullopt;
  r.slot = static_cast<uint16_t>(*slot);
  r.to = NodeAddress{std::string(address.substr(0, colon)), *port};
  return r;
}

}  // namespace sealrelay::relay::redis
