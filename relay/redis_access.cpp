#include "relay/redis_access.h"

#include <map>

#include "proto/errors.h"
#include "relay/redis_cluster_slots.h"

namespace sealrelay::relay {

namespace {

// Sends `which` of `commands` on `c` in one pipeline; the replies land in
// `out` at the commands' places.
Result<void> send_batch(RedisConn& c, const std::vector<RedisAccess::Command>& commands,
                        const std::vector<size_t>& which, std::vector<Reply>& out) {
  for (size_t i : which) {
    std::vector<std::string_view> argv(commands[i].args.begin(), commands[i].args.end());
    c.append(argv);
  }
  for (size_t i : which) {
    auto r = c.next_reply();
    if (!r) return r.error();
    out[i] = std::move(*r);
  }
  return {};
}

}  // namespace

Result<void> RedisAccess::on(std::string_view key, const Work& work) {
  if (router_) return router_->with_master(redis::key_slot(key), work);
  auto lease = pool_->acquire();
  if (!lease) return lease.error();
  return work(**lease);
}

Result<Reply> RedisAccess::command(std::string_view key, const std::vector<std::string_view>& args) {
  if (router_) return router_->command(redis::key_slot(key), args);
  auto lease = pool_->acquire();
  if (!lease) return lease.error();
  return (*lease)->command(args);
}

Result<std::vector<Reply>> RedisAccess::pipeline(const std::vector<Command>& commands) {
  if (router_) return cluster_pipeline(commands);
  std::vector<Reply> out(commands.size());
  std::vector<size_t> all(commands.size());
  for (size_t i = 0; i < all.size(); ++i) all[i] = i;
  auto lease = pool_->acquire();
  if (!lease) return lease.error();
  if (auto r = send_batch(**lease, commands, all, out); !r) return r.error();
  return out;
}

Result<std::vector<Reply>> RedisAccess::cluster_pipeline(const std::vector<Command>& commands) {
  std::vector<Reply> out(commands.size());
  std::vector<size_t> pending(commands.size());
  for (size_t i = 0; i < pending.size(); ++i) pending[i] = i;
  for (int attempt = 0; attempt <= ClusterRouter::kMaxRedirections; ++attempt) {
    // Grouped by the master that serves each command's slot: one pipeline
    // (one lease at a time) per node, whatever the number of slots.
    std::map<std::string, std::pair<redis::NodeAddress, std::vector<size_t>>> by_node;
    for (size_t i : pending) {
      uint16_t slot = redis::key_slot(commands[i].key);
      auto master = router_->master_of(slot);
      if (!master) {
        return make_error(ErrorCode::store_unavailable, "redis cluster: slot " + std::to_string(slot) +
                                                   " has no master right now; retry shortly");
      }
      auto& group = by_node[master->text()];
      group.first = *master;
      group.second.push_back(i);
    }
    for (auto& [name, group] : by_node) {
      auto sent = router_->on_node(group.first, [&](RedisConn& c) {
        return send_batch(c, commands, group.second, out);
      });
      if (!sent) return sent.error();
    }
    pending.clear();
    for (size_t i = 0; i < commands.size(); ++i) {
      if (out[i] && redirection_error(out[i].get())) pending.push_back(i);
    }
    if (pending.empty()) return out;
    if (auto r = router_->refresh(); !r) return r.error();
  }
  return make_error(ErrorCode::store_unavailable, "redis cluster: the slot map kept changing; retry shortly");
}

}  // namespace sealrelay::relay
