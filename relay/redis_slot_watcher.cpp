#include "relay/redis_slot_watcher.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "relay/redis_keys.h"
#include "relay/redis_replies.h"

namespace sealrelay::relay {
using namespace redis;

namespace {
constexpr size_t kReadBatch = 64;
constexpr auto kMaxBackoff = std::chrono::milliseconds(1000);
// A subscriber connection to a master cut off without a close (a network
// partition) never reports an error: the map is checked this often, and
// keys whose slot has a new master subscribe there.
constexpr auto kRecheck = std::chrono::seconds(5);
}  // namespace

SlotWatcher::SlotWatcher(ClusterRouter& router, Hub& hub)
    : router_(router), hub_(hub), wake_fd_(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)),
      thread_([this] { run(); }) {}

SlotWatcher::~SlotWatcher() {
  {
    std::lock_guard lk(mu_);
    stop_ = true;
  }
  wake_thread();
  thread_.join();
  if (wake_fd_ >= 0) ::close(wake_fd_);
}

void SlotWatcher::wake_thread() {
  uint64_t one = 1;
  (void)!::write(wake_fd_, &one, sizeof one);
}

void SlotWatcher::add(const std::string& key, Watch w) {
  {
    std::lock_guard lk(mu_);
    if (!keys_.emplace(key, w).second) return;
    added_.push_back(key);
  }
  wake_thread();
}

void SlotWatcher::watch(const std::string& key, StreamId from) { add(key, Watch{from, true}); }
void SlotWatcher::watch_poke(const std::string& key) { add(key, Watch{{}, false}); }

void SlotWatcher::unwatch(const std::string& key) {
  {
    std::lock_guard lk(mu_);
    if (keys_.erase(key) == 0) return;
    removed_.push_back(key);
  }
  wake_thread();
}

void SlotWatcher::appended_here(const std::string& key, StreamId last) {
  std::lock_guard lk(mu_);
  auto it = keys_.find(key);
  if (it != keys_.end() && it->second.last < last) it->second.last = last;
}

void SlotWatcher::schedule_resync(std::chrono::milliseconds after) {
  auto at = std::chrono::steady_clock::now() + after;
  if (!resync_due_ || at < resync_at_) resync_at_ = at;
  resync_due_ = true;
}

bool SlotWatcher::send(Node& node, const std::vector<std::string_view>& args) {
  std::vector<const char*> argv;
  std::vector<size_t> lens;
  for (auto a : args) {
    argv.push_back(a.data());
    lens.push_back(a.size());
  }
  redisContext* ctx = node.conn->raw();
  if (redisAppendCommandArgv(ctx, static_cast<int>(argv.size()), argv.data(), lens.data()) != REDIS_OK) {
    return false;
  }
  int done = 0;
  while (!done) {
    if (redisBufferWrite(ctx, &done) == REDIS_ERR) return false;
  }
  return true;
}

bool SlotWatcher::subscribe(const std::string& key, const NodeAddress& master) {
  std::string name = master.text();
  auto it = nodes_.find(name);
  if (it == nodes_.end()) {
    auto conn = RedisConn::connect(router_.endpoint_of(master), router_.timeout());
    if (!conn) return false;
    it = nodes_.emplace(name, Node{master, std::move(*conn)}).first;
  }
  if (!send(it->second, {"SSUBSCRIBE", wake_channel(key)})) {
    node_lost(name);
    return false;
  }
  subscribed_[key] = name;
  return true;
}

// The subscriber connection to `name` is gone: its keys subscribe again
// wherever they live now, and their streams re-read meanwhile.
void SlotWatcher::node_lost(const std::string& name) {
  nodes_.erase(name);
  for (auto it = subscribed_.begin(); it != subscribed_.end();) {
    if (it->second == name) {
      hub_.poke(it->first);
      it = subscribed_.erase(it);
    } else {
      ++it;
    }
  }
  schedule_resync(std::chrono::milliseconds(0));
}

void SlotWatcher::resync() {
  resync_due_ = false;
  last_resync_ = std::chrono::steady_clock::now();
  (void)router_.refresh();
  std::vector<std::string> keys;
  {
    std::lock_guard lk(mu_);
    for (auto& [k, w] : keys_) keys.push_back(k);
  }
  bool failed = false;
  for (const auto& key : keys) {
    auto master = router_.master_of(key_slot(key));
    if (!master) {
      failed = true;
      continue;
    }
    auto at = subscribed_.find(key);
    if (at != subscribed_.end() && at->second == master->text() && nodes_.contains(at->second)) continue;
    if (!subscribe(key, *master)) failed = true;
  }
  if (failed) {
    schedule_resync(backoff_);
    backoff_ = std::min(backoff_ * 2, kMaxBackoff);
  } else {
    backoff_ = std::chrono::milliseconds(50);
  }
}

void SlotWatcher::apply_changes() {
  std::vector<std::string> added, removed;
  {
    std::lock_guard lk(mu_);
    added.swap(added_);
    removed.swap(removed_);
  }
  for (const auto& key : removed) {
    {
      std::lock_guard lk(mu_);
      if (keys_.contains(key)) continue;  // watched again since
    }
    auto at = subscribed_.find(key);
    if (at == subscribed_.end()) continue;
    auto node = nodes_.find(at->second);
    std::string name = at->second;
    subscribed_.erase(at);
    if (node != nodes_.end() && !send(node->second, {"SUNSUBSCRIBE", wake_channel(key)})) node_lost(name);
  }
  for (const auto& key : added) {
    if (subscribed_.contains(key)) {
      read_key(key);  // still subscribed from before: only the gap to close
      continue;
    }
    auto master = router_.master_of(key_slot(key));
    if (!master || !subscribe(key, *master)) schedule_resync(backoff_);
  }
}

void SlotWatcher::run() {
  for (;;) {
    {
      std::lock_guard lk(mu_);
      if (stop_) break;
    }
    apply_changes();
    if (!nodes_.empty() && std::chrono::steady_clock::now() - last_resync_ >= kRecheck) {
      schedule_resync(std::chrono::milliseconds(0));
    }
    if (resync_due_ && std::chrono::steady_clock::now() >= resync_at_) resync();
    std::vector<pollfd> fds{{wake_fd_, POLLIN, 0}};
    std::vector<std::string> names;
    for (auto& [name, node] : nodes_) {
      fds.push_back({node.conn->raw()->fd, POLLIN, 0});
      names.push_back(name);
    }
    auto wait = std::chrono::milliseconds(1000);
    if (resync_due_) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(resync_at_ - std::chrono::steady_clock::now());
      wait = std::clamp(left, std::chrono::milliseconds(0), wait);
    }
    if (::poll(fds.data(), fds.size(), static_cast<int>(wait.count())) <= 0) continue;
    if (fds[0].revents) {
      uint64_t n;
      (void)!::read(wake_fd_, &n, sizeof n);
    }
    for (size_t i = 1; i < fds.size(); ++i) {
      if (fds[i].revents) drain(names[i - 1]);
    }
  }
}

void SlotWatcher::drain(const std::string& name) {
  auto it = nodes_.find(name);
  if (it == nodes_.end()) return;
  redisContext* ctx = it->second.conn->raw();
  if (redisBufferRead(ctx) == REDIS_ERR) {
    node_lost(name);
    return;
  }
  for (;;) {
    void* raw = nullptr;
    if (redisGetReplyFromReader(ctx, &raw) == REDIS_ERR) {
      node_lost(name);
      return;
    }
    if (raw == nullptr) return;
    Reply reply(static_cast<redisReply*>(raw));
    on_reply(name, reply.get());
    if (!nodes_.contains(name)) return;
  }
}

void SlotWatcher::on_reply(const std::string& name, const redisReply* r) {
  if (r->type == REDIS_REPLY_ERROR) {
    // MOVED for an SSUBSCRIBE: our map was stale. Subscribe where the map says now.
    schedule_resync(std::chrono::milliseconds(0));
    return;
  }
  if (r->type != REDIS_REPLY_ARRAY || r->elements < 3) return;
  std::string kind = reply_str(r->element[0]);
  std::string key = woken_key(reply_str(r->element[1]));
  if (kind == "ssubscribe") {
    read_key(key);  // the gap before the subscription
  } else if (kind == "smessage") {
    std::optional<StreamId> id = StreamId::parse(reply_str(r->element[2]));
    {
      std::lock_guard lk(mu_);
      auto it = keys_.find(key);
      if (it == keys_.end()) return;
      if (it->second.read && id && *id <= it->second.last) return;  // this node published it
    }
    read_key(key);
  } else if (kind == "sunsubscribe") {
    auto at = subscribed_.find(key);
    bool ours = at != subscribed_.end() && at->second == name;
    bool watched;
    {
      std::lock_guard lk(mu_);
      watched = keys_.contains(key);
    }
    if (ours && watched) {  // the server ended it: the slot moved away
      subscribed_.erase(at);
      hub_.poke(key);
      schedule_resync(std::chrono::milliseconds(0));
    }
  }
}

void SlotWatcher::read_key(const std::string& key) {
  for (;;) {
    StreamId from;
    {
      std::lock_guard lk(mu_);
      auto it = keys_.find(key);
      if (it == keys_.end()) return;
      if (!it->second.read) {
        hub_.poke(key);
        return;
      }
      from = it->second.last;
    }
    auto r = router_.command(key_slot(key), {"XRANGE", key, "(" + from.str(), "+", "COUNT",
                                             std::to_string(kReadBatch)});
    if (!r || (*r)->type != REDIS_REPLY_ARRAY) {
      // The slot has no master now: read again once it has one.
      hub_.poke(key);
      subscribed_.erase(key);
      schedule_resync(backoff_);
      return;
    }
    StreamId last = from;
    for (size_t i = 0; i < (*r)->elements; ++i) {
      auto e = parse_entry((*r)->element[i]);
      if (!e) continue;
      last = e->id;
      hub_.publish(key, *e);
    }
    {
      std::lock_guard lk(mu_);
      auto it = keys_.find(key);
      if (it != keys_.end() && it->second.last < last) it->second.last = last;
    }
    if ((*r)->elements < kReadBatch) return;
  }
}

}  // namespace sealrelay::relay
