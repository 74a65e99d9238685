#include "relay/redis_cluster.h"
#include "proto/errors.h"

namespace sealrelay::relay {

namespace {

bool starts_with_any(std::string_view text, std::initializer_list<std::string_view> prefixes) {
  for (auto p : prefixes) {
    if (text.starts_with(p)) return true;
  }
  return false;
}

Error no_master(uint16_t slot, std::string_view why) {
  return make_error(ErrorCode::store_unavailable,
                    "redis cluster: slot " + std::to_string(slot) + " cannot be served right now (" +
                        std::string(why) + "); retry shortly");
}

}  // namespace

std::optional<Error> cluster_unstable(const redisReply* reply) {
  if (!reply_is_error(reply)) return std::nullopt;
  std::string text = reply_str(reply);
  if (!starts_with_any(text, {"TRYAGAIN", "CLUSTERDOWN", "EXECABORT"})) return std::nullopt;
  return make_error(ErrorCode::store_unavailable, "redis cluster: " + text + "; retry shortly");
}

std::optional<Error> redirection_error(const redisReply* reply) {
  if (!reply_is_error(reply)) return std::nullopt;
  std::string text = reply_str(reply);
  if (!redis::parse_redirection(text)) return std::nullopt;
  return make_error(ErrorCode::redis_moved, text);
}

Result<std::unique_ptr<ClusterRouter>> ClusterRouter::connect(std::vector<RedisEndpoint> seeds,
                                                              std::chrono::milliseconds timeout,
                                                              size_t max_open_per_node) {
  if (seeds.empty()) return make_error(ErrorCode::bad_request, "redis cluster: no seed node given");
  auto router = std::unique_ptr<ClusterRouter>(
      new ClusterRouter(std::move(seeds), timeout, max_open_per_node < 1 ? 1 : max_open_per_node));
  if (auto r = router->refresh(); !r) return r.error();
  return router;
}

RedisEndpoint ClusterRouter::endpoint_of(const redis::NodeAddress& node) const {
  RedisEndpoint ep = seeds_.front();
  ep.socket_path.clear();
  ep.host = node.host;
  ep.port = node.port;
  return ep;
}

RedisPool& ClusterRouter::pool_for(const redis::NodeAddress& node) {
  std::lock_guard lk(mu_);
  auto& pool = pools_[node.text()];
  if (!pool) pool = std::make_unique<RedisPool>(endpoint_of(node), timeout_, max_open_);
  return *pool;
}

std::shared_ptr<const redis::SlotMap> ClusterRouter::map() {
  std::lock_guard lk(mu_);
  return map_;
}

Result<void> ClusterRouter::refresh() {
  std::vector<RedisEndpoint> candidates;
  if (auto current = map()) {
    for (const auto& m : current->masters()) candidates.push_back(endpoint_of(m));
  }
  candidates.insert(candidates.end(), seeds_.begin(), seeds_.end());
  std::string last_error = "no node answered";
  for (const auto& ep : candidates) {
    auto conn = RedisConn::connect(ep, timeout_);
    if (!conn) {
      last_error = conn.error().message;
      continue;
    }
    auto reply = (*conn)->command({"CLUSTER", "SLOTS"});
    if (!reply) {
      last_error = reply.error().message;
      continue;
    }
    if (reply_is_error(reply->get())) {
      last_error = "CLUSTER SLOTS: " + reply_str(reply->get());
      continue;
    }
    auto parsed = redis::SlotMap::from_cluster_slots(reply->get());
    if (!parsed) return parsed.error();
    std::lock_guard lk(mu_);
    map_ = std::make_shared<const redis::SlotMap>(std::move(*parsed));
    ++stats_.refreshes;
    return {};
  }
  return make_error(ErrorCode::store_unavailable, "redis cluster: could not read the slot map (" + last_error +
                                             "); check that a seed node is up and runs with cluster-enabled yes");
}

Result<Reply> ClusterRouter::command(uint16_t slot, const std::vector<std::string_view>& args) {
  std::optional<redis::NodeAddress> ask_to;
  for (int attempt = 0; attempt <= kMaxRedirections; ++attempt) {
    redis::NodeAddress target;
    if (ask_to) {
      target = *ask_to;
    } else {
      auto current = map();
      const redis::NodeAddress* master = current ? current->master_of(slot) : nullptr;
      if (master == nullptr) return no_master(slot, "not in the slot map");
      target = *master;
    }
    Result<Reply> reply = [&]() -> Result<Reply> {
      auto lease = pool_for(target).acquire();
      if (!lease) return lease.error();
      if (ask_to) {
        auto asking = (*lease)->command({"ASKING"});
        if (!asking) return asking.error();
      }
      return (*lease)->command(args);
    }();
    ask_to.reset();
    if (!reply) {
      // The master is unreachable: it may have died. Read the map again so
      // the next command finds its successor, and answer 503 for now.
      (void)refresh();
      return no_master(slot, reply.error().message);
    }
    if (!reply_is_error(reply->get())) return reply;
    std::string text = reply_str(reply->get());
    if (auto redirect = redis::parse_redirection(text)) {
      std::lock_guard lk(mu_);
      if (redirect->to.host.empty()) redirect->to.host = target.host;
      if (redirect->kind == redis::Redirection::Kind::ask) {
        ++stats_.asked;
        ask_to = redirect->to;
        continue;
      }
      ++stats_.moved;
    } else if (starts_with_any(text, {"CLUSTERDOWN", "TRYAGAIN"})) {
      return no_master(slot, text);
    } else {
      return reply;
    }
    if (auto r = refresh(); !r) return r.error();
  }
  return make_error(ErrorCode::store_unavailable, "redis cluster: more than " + std::to_string(kMaxRedirections) +
                                             " redirections for slot " + std::to_string(slot));
}

Result<void> ClusterRouter::with_master(uint16_t slot, const Work& work) {
  for (int attempt = 0; attempt <= kMaxRedirections; ++attempt) {
    auto current = map();
    const redis::NodeAddress* master = current ? current->master_of(slot) : nullptr;
    if (master == nullptr) return no_master(slot, "not in the slot map");
    Result<void> done = [&]() -> Result<void> {
      auto lease = pool_for(*master).acquire();
      if (!lease) return lease.error();
      return work(**lease);
    }();
    if (done) return done;
    if (!errors::is(done.error(), ErrorCode::redis_moved)) {
      if (errors::is(done.error(), ErrorCode::store_unavailable)) (void)refresh();
      return done;
    }
    // ASK: the slot is half-migrated, and `work` is several commands (a
    // script's EVALSHA and EVAL, WATCH ... EXEC) where ASKING covers only
    // the next one. The map will not change until the migration ends, so
    // 503 now (the client retries) rather than a loop of refreshes.
    if (done.error().message.starts_with("ASK")) {
      std::lock_guard lk(mu_);
      ++stats_.asked;
      return no_master(slot, "being migrated: " + done.error().message);
    }
    {
      std::lock_guard lk(mu_);
      ++stats_.moved;
    }
    if (auto r = refresh(); !r) return r.error();
  }
  return make_error(ErrorCode::store_unavailable, "redis cluster: more than " + std::to_string(kMaxRedirections) +
                                             " redirections for slot " + std::to_string(slot));
}

std::optional<redis::NodeAddress> ClusterRouter::master_of(uint16_t slot) {
  auto current = map();
  const redis::NodeAddress* master = current ? current->master_of(slot) : nullptr;
  if (master == nullptr) return std::nullopt;
  return *master;
}

Result<void> ClusterRouter::on_node(const redis::NodeAddress& node, const Work& work) {
  auto lease = pool_for(node).acquire();
  if (!lease) return lease.error();
  auto done = work(**lease);
  if (!done && errors::is(done.error(), ErrorCode::store_unavailable)) (void)refresh();
  return done;
}

ClusterRouter::Stats ClusterRouter::stats() {
  std::lock_guard lk(mu_);
  Stats s = stats_;
  s.nodes = pools_.size();
  s.covered_slots = map_ ? map_->covered() : 0;
  return s;
}

}  // namespace sealrelay::relay
