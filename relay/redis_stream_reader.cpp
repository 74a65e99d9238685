#include "relay/redis_stream_reader.h"

#include <algorithm>

#include "relay/redis_replies.h"

namespace sealrelay::relay {
using namespace redis;

StreamReader::StreamReader(RedisEndpoint ep, std::chrono::milliseconds timeout,
                           std::chrono::milliseconds block, Hub& hub, RedisPool& pool,
                           Deliver deliver)
    : ep_(std::move(ep)), timeout_(timeout), block_(block), hub_(hub), pool_(pool),
      deliver_(std::move(deliver)), thread_([this] { run(); }) {}

StreamReader::~StreamReader() {
  {
    std::lock_guard lk(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  unblock();
  thread_.join();
}

void StreamReader::watch(const std::string& key, StreamId from) {
  bool added;
  {
    std::lock_guard lk(mu_);
    added = keys_.emplace(key, from).second;
  }
  if (added) {
    cv_.notify_all();
    if (!restart_pending_.exchange(true)) unblock();
  }
}

void StreamReader::unwatch(const std::string& key) {
  std::lock_guard lk(mu_);
  keys_.erase(key);
  local_.erase(key);
}

void StreamReader::appended_here(const std::string& key, StreamId last, RedisConn& via) {
  bool newly_held = false;
  {
    std::lock_guard lk(mu_);
    auto it = keys_.find(key);
    if (it == keys_.end()) return;  // no stream of this node reads it
    if (it->second < last) it->second = last;
    newly_held = local_.insert_or_assign(key, std::chrono::steady_clock::now() + kLocalHold).second;
  }
  if (newly_held && !restart_pending_.exchange(true)) unblock(&via);
}

void StreamReader::unblock(RedisConn* via) {
  long long id = client_id_.load();
  if (id <= 0) return;
  std::string sid = std::to_string(id);
  if (via) {
    (void)via->command({"CLIENT", "UNBLOCK", sid});
    return;
  }
  auto c = pool_.acquire();
  if (!c) return;
  (void)(*c)->command({"CLIENT", "UNBLOCK", sid});
}

bool StreamReader::connect() {
  auto c = RedisConn::connect(ep_, timeout_ + block_);
  if (!c) return false;
  auto id = (*c)->command({"CLIENT", "ID"});
  if (!id || (*id)->type != REDIS_REPLY_INTEGER) return false;
  conn_ = std::move(*c);
  client_id_ = (*id)->integer;
  return true;
}

void StreamReader::run() {
  bool was_down = false;
  auto backoff = std::chrono::milliseconds(50);
  for (;;) {
    std::map<std::string, StreamId> snapshot;
    {
      std::unique_lock lk(mu_);
      if (stop_) return;
      if (!conn_ || conn_->dead()) {
        client_id_ = 0;
        conn_.reset();
        lk.unlock();
        if (!connect()) {
          was_down = true;
          lk.lock();
          cv_.wait_for(lk, backoff, [&] { return stop_; });
          backoff = std::min(backoff * 2, std::chrono::milliseconds(2000));
          continue;
        }
        backoff = std::chrono::milliseconds(50);
        if (was_down) {
          // Entries may have been missed while down: every stream re-reads.
          for (auto& k : hub_.keys()) hub_.poke(k);
          was_down = false;
        }
        lk.lock();
      }
      cv_.wait(lk, [&] { return stop_ || !keys_.empty(); });
      if (stop_) return;
      restart_pending_ = false;
      auto now = std::chrono::steady_clock::now();
      std::erase_if(local_, [&](const auto& kv) { return kv.second <= now; });
      for (const auto& [k, id] : keys_) {
        if (!local_.contains(k)) snapshot.emplace(k, id);
      }
      if (snapshot.empty()) {
        // Every key is fed by this node's own uploads: look again when the
        // first hold ends (or when a key is added).
        auto first = std::min_element(local_.begin(), local_.end(), [](const auto& a, const auto& b) {
                       return a.second < b.second;
                     })->second;
        cv_.wait_until(lk, first, [&] { return stop_ || restart_pending_.load(); });
        continue;
      }
    }
    read_once(snapshot);
    if (conn_->dead()) was_down = true;
  }
}

void StreamReader::read_once(const std::map<std::string, StreamId>& keys) {
  std::vector<std::string> ids;
  ids.reserve(keys.size());
  for (auto& [k, id] : keys) ids.push_back(id.str());
  std::string block = std::to_string(block_.count());
  std::vector<std::string_view> args = {"XREAD", "COUNT", "64", "BLOCK", block, "STREAMS"};
  for (auto& [k, id] : keys) args.push_back(k);
  for (auto& id : ids) args.push_back(id);
  auto r = conn_->command(args);
  if (!r || (*r)->type != REDIS_REPLY_ARRAY) return;  // nil: timeout or unblocked
  for (size_t s = 0; s < (*r)->elements; ++s) {
    const redisReply* stream = (*r)->element[s];
    if (stream->type != REDIS_REPLY_ARRAY || stream->elements != 2) continue;
    std::string key(stream->element[0]->str, stream->element[0]->len);
    const redisReply* entries = stream->element[1];
    StreamId last{};
    for (size_t i = 0; i < entries->elements; ++i) {
      auto e = parse_entry(entries->element[i]);
      if (!e) continue;
      last = e->id;
      deliver_(key, *e);
    }
    std::lock_guard lk(mu_);
    auto it = keys_.find(key);
    if (it != keys_.end() && it->second < last) it->second = last;
  }
}

}  // namespace sealrelay::relay
