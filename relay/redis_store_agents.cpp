// RedisStore's agent side: the directory, presence and inboxes (the
// transfer side is in redis_store.cpp; the class: redis_store.h).
#include <algorithm>

#include "proto/errors.h"
#include "relay/redis_keys.h"
#include "relay/redis_replies.h"
#include "relay/redis_scripts.h"
#include "relay/redis_slot_watcher.h"
#include "relay/redis_store.h"

namespace sealrelay::relay {
using namespace redis;

Result<void> RedisStore::agent_connect(const AgentInfo& info, const std::string& session) {
  std::string now = std::to_string(now_ms() / 1000);
  std::string ttl = std::to_string(limits_.agent_ttl.count());
  std::string presence = std::to_string(std::chrono::milliseconds(limits_.presence_ttl).count());
  std::string ik = info_key(info.id), ok = online_key(info.id);
  // One pipeline on one Redis; on a cluster one per node ({a:...} and {dir}).
  auto replies = db_.pipeline({
      {ik, {"HSET", ik, "pk", info.public_key, "version", info.version, "last_seen", now, "session", session}},
      {ik, {"EXPIRE", ik, ttl}},
      {ok, {"SET", ok, session, "PX", presence}},
      {kDirKey, {"ZADD", kDirKey, now, info.id}},
      {kDirKey, {"EXPIRE", kDirKey, ttl}}});
  if (!replies) return replies.error();
  for (auto& r : *replies) {
    if (reply_is_error(r.get())) return make_error(ErrorCode::store_error, reply_str(r.get()));
  }
  return {};
}

Result<bool> RedisStore::agent_heartbeat(const std::string& agent, const std::string& session) {
  std::string now = std::to_string(now_ms() / 1000);
  bool alive = false;
  auto done = db_.on(online_key(agent), [&](RedisConn& c) -> Result<void> {
    auto r = eval(c, scripts().heartbeat, {online_key(agent), info_key(agent)},
                  {session, std::to_string(std::chrono::milliseconds(limits_.presence_ttl).count()),
                   now, std::to_string(limits_.agent_ttl.count())});
    if (!r) return r.error();
    alive = (*r)->type == REDIS_REPLY_INTEGER && (*r)->integer == 1;
    return {};
  });
  if (!done) return done.error();
  if (alive) {
    auto z = one(kDirKey, {"ZADD", kDirKey, now, agent});
    if (!z) return z.error();
  }
  return alive;
}

// One pipeline of the heartbeat script (per master on a cluster), then one
// ZADD of every agent still present: two round trips for the whole batch
// where agent_heartbeat() takes two per agent.
Result<std::vector<bool>> RedisStore::agent_heartbeats(const std::vector<Heartbeat>& batch) {
  std::string now = std::to_string(now_ms() / 1000);
  std::string presence = std::to_string(std::chrono::milliseconds(limits_.presence_ttl).count());
  std::string ttl = std::to_string(limits_.agent_ttl.count());
  const redis::Script& script = scripts().heartbeat;
  std::vector<RedisAccess::Command> calls;
  calls.reserve(batch.size());
  for (auto& h : batch) {
    std::string ok = online_key(h.agent);
    calls.push_back({ok, {"EVALSHA", script.sha, "2", ok, info_key(h.agent), h.session, presence, now, ttl}});
  }
  auto replies = db_.pipeline(calls);
  if (!replies) return replies.error();
  std::vector<bool> alive(batch.size());
  std::vector<std::string_view> zadd = {"ZADD", kDirKey};
  for (size_t i = 0; i < batch.size(); ++i) {
    const redisReply* r = (*replies)[i].get();
    if (reply_is_error(r) && reply_str(r).starts_with("NOSCRIPT")) {
      // A server that lost its script cache (restarted, or a promoted
      // replica): the single call sends the script's text.
      auto one = agent_heartbeat(batch[i].agent, batch[i].session);
      if (!one) return one.error();
      alive[i] = *one;
      continue;
    }
    if (auto e = unavailable(r)) return *e;
    alive[i] = r->type == REDIS_REPLY_INTEGER && r->integer == 1;
    if (alive[i]) zadd.insert(zadd.end(), {now, batch[i].agent});
  }
  if (zadd.size() > 2) {
    auto z = one(kDirKey, zadd);
    if (!z) return z.error();
    if (auto e = unavailable(z->get())) return *e;
  }
  return alive;
}

Result<void> RedisStore::agent_disconnect(const std::string& agent, const std::string& session) {
  return db_.on(online_key(agent), [&](RedisConn& c) -> Result<void> {
    auto r = eval(c, scripts().disconnect, {online_key(agent), info_key(agent)},
                  {session, std::to_string(now_ms() / 1000)});
    if (!r) return r.error();
    return {};
  });
}

Result<std::vector<AgentInfo>> RedisStore::list_agents() {
  auto ids = one(kDirKey, {"ZRANGE", kDirKey, "0", "-1"});
  if (!ids) return ids.error();
  if (auto e = unavailable(ids->get())) return *e;
  std::vector<std::string> names;
  for (size_t i = 0; (*ids)->type == REDIS_REPLY_ARRAY && i < (*ids)->elements; ++i) {
    names.push_back(reply_str((*ids)->element[i]));
  }
  std::vector<RedisAccess::Command> reads;
  for (auto& n : names) {
    reads.push_back({info_key(n), {"HGETALL", info_key(n)}});
    reads.push_back({online_key(n), {"EXISTS", online_key(n)}});
  }
  auto replies = db_.pipeline(reads);
  if (!replies) return replies.error();
  std::vector<AgentInfo> out;
  std::vector<std::string> vanished;
  for (size_t i = 0; i < names.size(); ++i) {
    const std::string& n = names[i];
    const Reply* info = &(*replies)[2 * i];
    const Reply* online = &(*replies)[2 * i + 1];
    if (auto e = unavailable(info->get())) return *e;
    if ((*info)->type != REDIS_REPLY_ARRAY || (*info)->elements == 0) {
      vanished.push_back(n);
      continue;
    }
    AgentInfo a;
    a.id = n;
    a.public_key = meta_field(info->get(), "pk");
    a.version = meta_field(info->get(), "version");
    a.last_seen = static_cast<int64_t>(to_u64(meta_field(info->get(), "last_seen")));
    a.online = (*online)->type == REDIS_REPLY_INTEGER && (*online)->integer == 1;
    out.push_back(std::move(a));
  }
  for (auto& n : vanished) (void)one(kDirKey, {"ZREM", kDirKey, n});
  std::sort(out.begin(), out.end(), [](auto& a, auto& b) { return a.id < b.id; });
  return out;
}

Result<AgentInfo> RedisStore::get_agent(const std::string& agent) {
  auto replies = db_.pipeline({{info_key(agent), {"HGETALL", info_key(agent)}},
                               {online_key(agent), {"EXISTS", online_key(agent)}}});
  if (!replies) return replies.error();
  const Reply* info = &(*replies)[0];
  const Reply* online = &(*replies)[1];
  if (auto e = unavailable(info->get())) return *e;
  if ((*info)->type != REDIS_REPLY_ARRAY || (*info)->elements == 0) {
    return make_error(ErrorCode::unknown_agent, "no agent " + agent);
  }
  AgentInfo a;
  a.id = agent;
  a.public_key = meta_field(info->get(), "pk");
  a.version = meta_field(info->get(), "version");
  a.last_seen = static_cast<int64_t>(to_u64(meta_field(info->get(), "last_seen")));
  a.online = (*online)->type == REDIS_REPLY_INTEGER && (*online)->integer == 1;
  return a;
}

Result<std::vector<Entry>> RedisStore::inbox_read(const std::string& agent, StreamId after,
                                                  size_t limit) {
  auto r = one(inbox_key(agent), {"XRANGE", inbox_key(agent), "(" + after.str(), "+", "COUNT",
                                  std::to_string(limit)});
  if (!r) return r.error();
  std::vector<Entry> out;
  for (size_t i = 0; (*r)->type == REDIS_REPLY_ARRAY && i < (*r)->elements; ++i) {
    if (auto e = parse_entry((*r)->element[i])) out.push_back(std::move(*e));
  }
  return out;
}

std::unique_ptr<Subscription> RedisStore::subscribe_inbox(const std::string& agent, StreamId) {
  auto box = std::make_shared<Mailbox>(limits_.mailbox_bytes);
  std::string key = inbox_key(agent);
  // One Redis: the doorbell reader pokes it. A cluster: a subscription to
  // this agent's wake channel (no connection of its own).
  if (hub_.subscribe(key, box) && watcher_) watcher_->watch_poke(key);
  return std::make_unique<Subscription>(box, [this, key, box] {
    if (hub_.unsubscribe(key, box) && watcher_) watcher_->unwatch(key);
  });
}

void RedisStore::ring(RedisConn& c, const std::string& agent) {
  if (watcher_) {
    wake(c, inbox_key(agent));
    return;
  }
  (void)c.command({"XADD", kBellKey, "MAXLEN", "~", "10000", "*", "r", agent});
  (void)c.command({"EXPIRE", kBellKey, std::to_string(limits_.inbox_retention.count())});
}

}  // namespace sealrelay::relay
