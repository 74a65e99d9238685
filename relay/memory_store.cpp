#include "relay/memory_store.h"

#include <algorithm>

#include "proto/errors.h"

namespace sealrelay::relay {
namespace {

std::string tkey(const std::string& tid) { return "t:" + tid; }
std::string akey(const std::string& agent) { return "a:" + agent; }

Error unknown_transfer(const std::string& tid) {
  return make_error(ErrorCode::unknown_transfer, "no transfer " + tid + " (it may have expired)");
}

Error conflict(const TransferInfo& t, const std::string& why) {
  return make_error(ErrorCode::conflict,
                    "transfer " + t.id + " is " + to_string(t.state) + ": " + why);
}

// The next SSE frame id a reader at `after` wants.
uint64_t next_frame_id(StreamId after) { return after.ms == 0 ? 1 : after.ms + 1; }

}  // namespace

MemoryStore::MemoryStore(StoreLimits limits, Clock clock)
    : limits_(limits), clock_(std::move(clock)) {}

void MemoryStore::touch_locked(TransferRec& t) {
  t.info.updated = now_ms() / 1000;
  t.expires = now_ms() + std::chrono::milliseconds(limits_.transfer_ttl).count();
}

AgentInfo MemoryStore::agent_view_locked(const AgentRec& a) const {
  AgentInfo v = a.info;
  v.online = !a.session.empty() && a.presence_until > now_ms();
  return v;
}

MemoryStore::TransferRec* MemoryStore::find_locked(const std::string& tid) {
  auto it = transfers_.find(tid);
  if (it == transfers_.end() || it->second.expires <= now_ms()) return nullptr;
  return &it->second;
}

Result<void> MemoryStore::agent_connect(const AgentInfo& info, const std::string& session) {
  std::lock_guard lk(mu_);
  auto& a = agents_[info.id];
  a.info.id = info.id;
  a.info.public_key = info.public_key;
  a.info.version = info.version;
  a.info.last_seen = now_ms() / 1000;
  a.session = session;
  a.presence_until = now_ms() + std::chrono::milliseconds(limits_.presence_ttl).count();
  return {};
}

Result<bool> MemoryStore::agent_heartbeat(const std::string& agent, const std::string& session) {
  std::lock_guard lk(mu_);
  auto it = agents_.find(agent);
  if (it == agents_.end() || it->second.session != session) return false;
  it->second.info.last_seen = now_ms() / 1000;
  it->second.presence_until = now_ms() + std::chrono::milliseconds(limits_.presence_ttl).count();
  return true;
}

Result<void> MemoryStore::agent_disconnect(const std::string& agent, const std::string& session) {
  std::lock_guard lk(mu_);
  auto it = agents_.find(agent);
  if (it != agents_.end() && it->second.session == session) {
    it->second.session.clear();
    it->second.info.last_seen = now_ms() / 1000;
  }
  return {};
}

Result<std::vector<AgentInfo>> MemoryStore::list_agents() {
  std::lock_guard lk(mu_);
  std::vector<AgentInfo> out;
  for (auto& [id, a] : agents_) out.push_back(agent_view_locked(a));
  return out;
}

Result<AgentInfo> MemoryStore::get_agent(const std::string& agent) {
  std::lock_guard lk(mu_);
  auto it = agents_.find(agent);
  if (it == agents_.end()) return make_error(ErrorCode::unknown_agent, "no agent " + agent);
  return agent_view_locked(it->second);
}

void MemoryStore::push_inbox_locked(AgentRec& a, const std::string& kind, const std::string& tid,
                                    const std::string& json) {
  StreamId id{static_cast<uint64_t>(now_ms()), 0};
  if (id <= a.last_inbox_id) id = {a.last_inbox_id.ms, a.last_inbox_id.seq + 1};
  a.last_inbox_id = id;
  Entry e{id, kind, tid, std::make_shared<const std::string>(json), 0};
  a.inbox.push_back(e);
  auto horizon = static_cast<uint64_t>(
      std::max<int64_t>(0, now_ms() - std::chrono::milliseconds(limits_.inbox_retention).count()));
  while (!a.inbox.empty() &&
         (a.inbox.size() > limits_.inbox_max_entries || a.inbox.front().id.ms < horizon)) {
    a.inbox.pop_front();
  }
  hub_.publish(akey(a.info.id), e);
}

Result<std::vector<Entry>> MemoryStore::inbox_read(const std::string& agent, StreamId after,
                                                   size_t limit) {
  std::lock_guard lk(mu_);
  std::vector<Entry> out;
  auto it = agents_.find(agent);
  if (it == agents_.end()) return out;
  for (auto& e : it->second.inbox) {
    if (out.size() >= limit) break;
    if (e.id > after) out.push_back(e);
  }
  return out;
}

std::unique_ptr<Subscription> MemoryStore::subscribe_inbox(const std::string& agent, StreamId) {
  auto box = std::make_shared<Mailbox>(limits_.mailbox_bytes);
  std::string key = akey(agent);
  hub_.subscribe(key, box);
  return std::make_unique<Subscription>(box, [this, key, box] { hub_.unsubscribe(key, box); });
}

Result<TransferInfo> MemoryStore::create_transfer(const std::string& tid,
                                                  const std::string& agent,
                                                  const std::string& requester,
                                                  const std::string& inbox_json) {
  std::lock_guard lk(mu_);
  auto ait = agents_.find(agent);
  if (ait == agents_.end()) return make_error(ErrorCode::unknown_agent, "no agent " + agent);
  uint64_t active = 0;
  for (auto& [id, t] : transfers_) {
    if (t.info.agent == agent && !is_terminal(t.info.state) && t.expires > now_ms()) ++active;
  }
  if (active >= limits_.max_transfers_per_agent) {
    return make_error(ErrorCode::rate_limited, "agent " + agent + " already has " +
                                                   std::to_string(active) + " active transfers");
  }
  if (transfers_.count(tid)) return make_error(ErrorCode::conflict, "transfer id exists");
  TransferRec& t = transfers_[tid];
  t.info.id = tid;
  t.info.agent = agent;
  t.info.requester = requester;
  t.info.created = now_ms() / 1000;
  touch_locked(t);
  push_inbox_locked(ait->second, "transfer", tid, inbox_json);
  return t.info;
}

Result<TransferInfo> MemoryStore::get_transfer(const std::string& tid) {
  std::lock_guard lk(mu_);
  auto* t = find_locked(tid);
  if (!t) return unknown_transfer(tid);
  return t->info;
}

Result<std::vector<TransferInfo>> MemoryStore::list_transfers(const std::string& requester) {
  std::lock_guard lk(mu_);
  std::vector<TransferInfo> out;
  for (auto& [id, t] : transfers_) {
    if (t.info.requester == requester && t.expires > now_ms()) out.push_back(t.info);
  }
  std::stable_sort(out.begin(), out.end(), [](auto& a, auto& b) { return a.created > b.created; });
  return out;
}

void MemoryStore::add_event_locked(TransferRec& t, Entry e) {
  t.events.push_back(e);
  hub_.publish(tkey(t.info.id), e);
}

void MemoryStore::trim_locked(TransferRec& t) {
  uint64_t keep_from = t.info.delivered + 1 > limits_.history_frames
                           ? t.info.delivered + 1 - limits_.history_frames
                           : 1;
  if (keep_from <= t.info.trimmed) return;
  t.info.trimmed = keep_from;
  std::erase_if(t.events, [&](const Entry& e) { return e.kind == "frame" && e.id.ms < keep_from; });
}

Result<TransferInfo> MemoryStore::answer(const std::string& tid, const std::string& answer_record) {
  std::lock_guard lk(mu_);
  auto* t = find_locked(tid);
  if (!t) return unknown_transfer(tid);
  if (t->info.state != State::requested) return conflict(t->info, "it was already answered");
  t->info.state = State::answered;
  touch_locked(*t);
  add_event_locked(*t, Entry{{0, 1}, "answer", "", std::make_shared<const std::string>(answer_record), 0});
  changed_.notify_all();
  return t->info;
}

Result<TransferInfo> MemoryStore::finish(const std::string& tid, State to, const std::string& code,
                                         const std::string& message, const std::string& error_record,
                                         std::optional<State> only_from) {
  std::lock_guard lk(mu_);
  auto* t = find_locked(tid);
  if (!t) return unknown_transfer(tid);
  State s = t->info.state;
  if (s == State::failed || s == State::cancelled || s == State::expired) return t->info;
  if (only_from && s != *only_from) return t->info;
  t->info.state = to;
  t->info.error_code = code;
  t->info.error_message = message;
  t->info.upload_session.clear();
  touch_locked(*t);
  std::erase_if(t->events, [](const Entry& e) { return e.kind == "frame"; });
  t->info.trimmed = t->info.frames + 1;
  add_event_locked(*t, Entry{{t->info.frames + 1, 1}, "error", "",
                             std::make_shared<const std::string>(error_record), 0});
  if (to == State::cancelled || to == State::expired) {
    auto ait = agents_.find(t->info.agent);
    if (ait != agents_.end()) {
      push_inbox_locked(ait->second, "cancel", tid, "{\"transfer_id\":\"" + tid + "\"}");
    }
  }
  changed_.notify_all();
  return t->info;
}

Result<TransferInfo> MemoryStore::begin_upload(const std::string& tid, const std::string& session,
                                               uint64_t first) {
  std::lock_guard lk(mu_);
  auto* t = find_locked(tid);
  if (!t) return unknown_transfer(tid);
  if (t->info.state != State::answered && t->info.state != State::uploading) {
    return conflict(t->info, "it takes no frames now");
  }
  if (t->info.frames != first) {
    return make_error(ErrorCode::conflict, "the next frame is " + std::to_string(t->info.frames));
  }
  t->info.state = State::uploading;
  t->info.upload_session = session;
  touch_locked(*t);
  changed_.notify_all();
  return t->info;
}

Result<TransferInfo> MemoryStore::append(const std::string& tid, const std::string& session,
                                         uint64_t first, const std::vector<Frame>& frames,
                                         const std::string& end_record) {
  std::lock_guard lk(mu_);
  auto* t = find_locked(tid);
  if (!t) return unknown_transfer(tid);
  if (t->info.state == State::cancelled) {
    return make_error(ErrorCode::cancelled, "the transfer was cancelled");
  }
  if (t->info.state != State::uploading || t->info.upload_session != session) {
    return conflict(t->info, "this upload no longer owns the transfer");
  }
  if (t->info.frames != first) {
    return make_error(ErrorCode::conflict, "the next frame is " + std::to_string(t->info.frames));
  }
  uint64_t bytes = t->info.bytes;
  for (auto& f : frames) bytes += f.bytes;
  if (bytes > limits_.max_transfer_bytes) {
    return make_error(
        ErrorCode::too_large,
        "the transfer exceeds " + std::to_string(limits_.max_transfer_bytes) + " bytes");
  }
  for (auto& f : frames) {
    uint64_t id = ++t->info.frames;
    add_event_locked(*t, Entry{{id, 0}, "frame", "", f.record, f.bytes});
  }
  t->info.bytes = bytes;
  if (!end_record.empty()) {
    t->info.state = State::complete;
    t->info.upload_session.clear();
    add_event_locked(*t, Entry{{t->info.frames + 1, 0}, "end", "",
                               std::make_shared<const std::string>(end_record), 0});
  }
  trim_locked(*t);
  touch_locked(*t);
  changed_.notify_all();
  return t->info;
}

Result<void> MemoryStore::mark_delivered(const std::string& tid, uint64_t n) {
  std::lock_guard lk(mu_);
  auto* t = find_locked(tid);
  if (!t) return unknown_transfer(tid);
  if (n > t->info.delivered) {
    t->info.delivered = std::min(n, t->info.frames);
    trim_locked(*t);
    touch_locked(*t);
    changed_.notify_all();
  }
  return {};
}

Result<TransferInfo> MemoryStore::wait_transfer(
    const std::string& tid, const std::function<bool(const TransferInfo&)>& pred,
    std::chrono::milliseconds timeout) {
  std::unique_lock lk(mu_);
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    auto* t = find_locked(tid);
    if (!t) return unknown_transfer(tid);
    if (pred(t->info)) return t->info;
    if (changed_.wait_until(lk, deadline) == std::cv_status::timeout) {
      t = find_locked(tid);
      if (!t) return unknown_transfer(tid);
      return t->info;
    }
  }
}

Result<EventsRead> MemoryStore::read_events(const std::string& tid, StreamId after, size_t limit) {
  std::lock_guard lk(mu_);
  auto* t = find_locked(tid);
  if (!t) return unknown_transfer(tid);
  EventsRead r;
  uint64_t want = next_frame_id(after);
  State s = t->info.state;
  bool ended = s == State::failed || s == State::cancelled || s == State::expired;
  if (!ended && want < t->info.trimmed && want <= t->info.frames) {
    r.gone = true;
    r.earliest = t->info.trimmed;
  }
  for (auto& e : t->events) {
    if (r.entries.size() >= limit) break;
    if (e.id <= after) continue;
    if (r.gone && e.kind != "answer") break;
    r.entries.push_back(e);
  }
  return r;
}

std::unique_ptr<Subscription> MemoryStore::subscribe_transfer(const std::string& tid, StreamId) {
  auto box = std::make_shared<Mailbox>(limits_.mailbox_bytes);
  std::string key = tkey(tid);
  hub_.subscribe(key, box);
  return std::make_unique<Subscription>(box, [this, key, box] { hub_.unsubscribe(key, box); });
}

void MemoryStore::sweep() {
  std::lock_guard lk(mu_);
  int64_t now = now_ms();
  std::vector<std::string> gone;
  for (auto it = transfers_.begin(); it != transfers_.end();) {
    if (it->second.expires <= now) {
      gone.push_back(it->first);
      it = transfers_.erase(it);
    } else {
      ++it;
    }
  }
  auto agent_ttl = std::chrono::milliseconds(limits_.agent_ttl).count();
  for (auto it = agents_.begin(); it != agents_.end();) {
    bool online = !it->second.session.empty() && it->second.presence_until > now;
    if (!online && it->second.info.last_seen * 1000 + agent_ttl <= now) {
      it = agents_.erase(it);
    } else {
      ++it;
    }
  }
  for (auto& tid : gone) hub_.poke(tkey(tid));
}

std::array<uint64_t, kStateCount> MemoryStore::count_by_state() {
  std::lock_guard lk(mu_);
  std::array<uint64_t, kStateCount> out{};
  for (auto& [id, t] : transfers_) out[static_cast<int>(t.info.state)]++;
  return out;
}

}  // namespace sealrelay::relay
