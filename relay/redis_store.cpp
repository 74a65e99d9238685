#include "relay/redis_store.h"

#include <algorithm>

#include "proto/errors.h"
#include "relay/redis_keys.h"
#include "relay/redis_replies.h"
#include "relay/redis_scripts.h"
#include "relay/redis_slot_watcher.h"
#include "relay/redis_stream_reader.h"

namespace sealrelay::relay {
// The key schema, the scripts and the reply readers (redis_keys.h,
// redis_scripts.h, redis_replies.h) are this file's vocabulary.
using namespace redis;

namespace {

// Why append() may not add frames [first, first + n) of `added` bytes to
// transfer `now` for upload `session`; nullopt when it may.
std::optional<Error> append_refused(const std::string& tid, const TransferInfo& now,
                                    const std::string& session, uint64_t first, uint64_t added,
                                    uint64_t max_bytes) {
  if (now.state == State::cancelled) return make_error(ErrorCode::cancelled, "the transfer was cancelled");
  if (now.state != State::uploading || now.upload_session != session) {
    return make_error(ErrorCode::conflict, "transfer " + tid + " is " + to_string(now.state));
  }
  if (now.frames != first) return make_error(ErrorCode::conflict, "the first frame is not the next one");
  if (now.bytes + added > max_bytes) {
    return make_error(ErrorCode::too_large, "the transfer exceeds its byte limit");
  }
  return std::nullopt;
}

}  // namespace

RedisStore::RedisStore(const RedisConfig& cfg, std::optional<RedisEndpoint> ep,
                       std::unique_ptr<ClusterRouter> router, StoreLimits limits, Clock clock)
    : cfg_(cfg), limits_(limits), clock_(std::move(clock)),
      pool_(ep ? std::make_unique<RedisPool>(*ep, cfg.timeout,
                                             std::max(cfg.connections, RedisConfig::kReaderConnections + 1) -
                                                 RedisConfig::kReaderConnections)
               : nullptr),
      router_(std::move(router)), db_(router_ ? RedisAccess(*router_) : RedisAccess(*pool_)) {
  if (router_) {
    watcher_ = std::make_unique<SlotWatcher>(*router_, hub_);
    return;
  }
  transfer_reader_ = std::make_unique<StreamReader>(
      *ep, cfg.timeout, cfg.block, hub_, *pool_,
      [this](const std::string& key, const Entry& e) { hub_.publish(key, e); });
  // Inboxes are watched through the doorbell: one key, whatever the number
  // of idle agents; a ring pokes that agent's control streams, which re-read
  // their inbox.
  inbox_reader_ = std::make_unique<StreamReader>(
      *ep, cfg.timeout, cfg.block, hub_, *pool_,
      [this](const std::string&, const Entry& e) { hub_.poke(inbox_key(e.ref)); });
  StreamId bell_from{};
  if (auto c = pool_->acquire()) {
    auto last = (*c)->command({"XREVRANGE", kBellKey, "+", "-", "COUNT", "1"});
    if (last && (*last)->type == REDIS_REPLY_ARRAY && (*last)->elements == 1) {
      if (auto e = parse_entry((*last)->element[0])) bell_from = e->id;
    }
  }
  inbox_reader_->watch(kBellKey, bell_from);
}

RedisStore::~RedisStore() {
  hub_.close_all();
  watcher_.reset();
  inbox_reader_.reset();
  transfer_reader_.reset();
}

namespace {

// "redis://a:1,redis://b:2" -> endpoints.
Result<std::vector<RedisEndpoint>> parse_seeds(const std::string& list) {
  std::vector<RedisEndpoint> seeds;
  size_t at = 0;
  while (at <= list.size()) {
    size_t comma = std::min(list.find(',', at), list.size());
    std::string one = list.substr(at, comma - at);
    at = comma + 1;
    if (one.empty()) continue;
    auto ep = RedisEndpoint::parse(one);
    if (!ep) return ep.error();
    seeds.push_back(std::move(*ep));
  }
  if (seeds.empty()) return make_error(ErrorCode::bad_request, "redis cluster: no seed node given (redis://host:port,...)");
  return seeds;
}

}  // namespace

Result<std::unique_ptr<RedisStore>> RedisStore::open(const RedisConfig& cfg, StoreLimits limits,
                                                     Clock clock) {
  if (!cfg.cluster.empty()) {
    auto seeds = parse_seeds(cfg.cluster);
    if (!seeds) return seeds.error();
    // The watcher's subscriber takes one of each master's connections.
    size_t per_node = std::min(cfg.connections, RedisConfig::kClusterConnectionsPerNode);
    auto router = ClusterRouter::connect(std::move(*seeds), cfg.timeout, std::max<size_t>(per_node, 2) - 1);
    if (!router) return router.error();
    return std::unique_ptr<RedisStore>(
        new RedisStore(cfg, std::nullopt, std::move(*router), limits, std::move(clock)));
  }
  auto ep = RedisEndpoint::parse(cfg.url);
  if (!ep) return ep.error();
  auto c = RedisConn::connect(*ep, cfg.timeout);
  if (!c) return c.error();
  auto pong = (*c)->command({"PING"});
  if (!pong) return pong.error();
  if (reply_is_error(pong->get())) {  // NOAUTH: Redis wants a password the URL lacks
    return make_error(ErrorCode::store_unavailable, "redis: " + reply_str(pong->get()));
  }
  return std::unique_ptr<RedisStore>(new RedisStore(cfg, *ep, nullptr, limits, std::move(clock)));
}

Result<Reply> RedisStore::one(const std::string& key, const std::vector<std::string_view>& args) {
  return db_.command(key, args);
}

void RedisStore::wake(RedisConn& c, const std::string& key, const std::string& last) {
  if (watcher_) (void)c.command({"SPUBLISH", wake_channel(key), last});
}

Result<TransferInfo> RedisStore::transfer_script(const std::string& tid, const Script& script,
                                                 const std::vector<std::string>& args,
                                                 redisReply** extra_out, Reply* holder) {
  Reply r;
  const std::string mk = meta_key(tid);
  auto done = db_.on(mk, [&](RedisConn& c) -> Result<void> {
    auto got = eval(c, script, {mk, ev_key(tid), guard_key(tid)}, args);
    if (!got) return got.error();
    r = std::move(*got);
    // The answer and error entries: other nodes' watchers read them (a
    // cluster; one Redis's readers XREAD them).
    if (&script == &scripts().answer || &script == &scripts().finish) wake(c, ev_key(tid));
    return {};
  });
  if (!done) return done.error();
  const redisReply* rep = r.get();
  if (rep->type != REDIS_REPLY_ARRAY || rep->elements < 2) {
    return make_error(ErrorCode::store_error, "redis: unexpected script reply");
  }
  if (reply_str(rep->element[0]) != "ok") return script_error(rep, tid);
  TransferInfo t = parse_meta(tid, rep->element[1]);
  remember(t);
  if (extra_out && rep->elements > 2) *extra_out = rep->element[2];
  if (holder) *holder = std::move(r);
  return t;
}

void RedisStore::remember(const TransferInfo& t) {
  std::lock_guard lk(seen_mu_);
  seen_[t.id] = {t.state, now_ms()};
}

Result<void> RedisStore::ping() {
  // A cluster: the master of the agent directory (every listing needs it).
  auto r = one(kDirKey, {"PING"});
  if (!r) return r.error();
  return {};
}

std::unique_ptr<Subscription> RedisStore::subscribe_stream(const std::string& rkey, StreamId from) {
  auto box = std::make_shared<Mailbox>(limits_.mailbox_bytes);
  hub_.subscribe(rkey, box);
  if (watcher_) {
    watcher_->watch(rkey, from);
  } else {
    transfer_reader_->watch(rkey, from);
  }
  return std::make_unique<Subscription>(box, [this, rkey, box] {
    if (!hub_.unsubscribe(rkey, box)) return;
    if (watcher_) {
      watcher_->unwatch(rkey);
    } else {
      transfer_reader_->unwatch(rkey);
    }
  });
}

std::unique_ptr<Subscription> RedisStore::subscribe_transfer(const std::string& tid,
                                                             StreamId from) {
  return subscribe_stream(ev_key(tid), from);
}

Result<TransferInfo> RedisStore::create_transfer(const std::string& tid, const std::string& agent,
                                                 const std::string& requester,
                                                 const std::string& inbox_json) {
  int64_t now = now_ms();
  std::string ttl = std::to_string(limits_.transfer_ttl.count());
  std::string mk = meta_key(tid), created = std::to_string(now / 1000);
  // Three slots ({t:..}, {a:..}, {r:..}): three round trips in a row, as on
  // one Redis.
  auto meta = db_.pipeline(
      {{mk, {"HSET", mk, "agent", agent, "requester", requester, "state", "requested", "created",
             created, "updated", created, "frames", "0", "delivered", "0", "bytes", "0", "trimmed", "1"}},
       {mk, {"EXPIRE", mk, ttl}}});
  if (!meta) return meta.error();
  auto ttl_ms = std::chrono::milliseconds(limits_.transfer_ttl).count();
  auto keep_ms = std::chrono::milliseconds(limits_.inbox_retention).count();
  Reply r;
  auto ran = db_.on(info_key(agent), [&](RedisConn& c) -> Result<void> {
    auto got = eval(c, scripts().create, {info_key(agent), active_key(agent), inbox_key(agent)},
                    {tid, inbox_json, std::to_string(limits_.max_transfers_per_agent),
                     std::to_string(now), std::to_string(now - ttl_ms),
                     std::to_string(limits_.inbox_max_entries), std::to_string(now - keep_ms),
                     std::to_string(limits_.inbox_retention.count()), ttl});
    if (!got) return got.error();
    r = std::move(*got);
    if (r->type == REDIS_REPLY_ARRAY && r->elements > 0 && reply_str(r->element[0]) == "ok") ring(c, agent);
    return {};
  });
  if (!ran || r->type != REDIS_REPLY_ARRAY || reply_str(r->element[0]) != "ok") {
    (void)one(mk, {"DEL", mk});
    if (!ran) return ran.error();
    std::string code = r->elements > 1 ? reply_str(r->element[1]) : "store_error";
    auto known = errors::parse(code);
    if (known == ErrorCode::unknown_agent) return make_error(code, "no agent " + agent);
    if (known == ErrorCode::rate_limited) {
      return make_error(code, "agent " + agent + " already has " + reply_str(r->element[2]) +
                                  " active transfers");
    }
    return make_error(ErrorCode::store_error, "redis: create failed");
  }
  auto z = one(mine_key(requester), {"ZADD", mine_key(requester), created, tid});
  if (!z) return z.error();
  (void)one(mine_key(requester), {"EXPIRE", mine_key(requester), ttl});
  TransferInfo t;
  t.id = tid;
  t.agent = agent;
  t.requester = requester;
  t.created = t.updated = now / 1000;
  remember(t);
  return t;
}

Result<TransferInfo> RedisStore::get_transfer(const std::string& tid) {
  auto r = one(meta_key(tid), {"HGETALL", meta_key(tid)});
  if (!r) return r.error();
  if (auto e = unavailable(r->get())) return *e;
  if ((*r)->type != REDIS_REPLY_ARRAY || (*r)->elements == 0) {
    return make_error(ErrorCode::unknown_transfer, "no transfer " + tid + " (it may have expired)");
  }
  auto t = parse_meta(tid, r->get());
  remember(t);
  return t;
}

Result<std::vector<TransferInfo>> RedisStore::list_transfers(const std::string& requester) {
  auto ids = one(mine_key(requester), {"ZREVRANGE", mine_key(requester), "0", "499"});
  if (!ids) return ids.error();
  if (auto e = unavailable(ids->get())) return *e;
  std::vector<std::string> tids;
  std::vector<RedisAccess::Command> reads;
  for (size_t i = 0; (*ids)->type == REDIS_REPLY_ARRAY && i < (*ids)->elements; ++i) {
    tids.push_back(reply_str((*ids)->element[i]));
    reads.push_back({meta_key(tids.back()), {"HGETALL", meta_key(tids.back())}});
  }
  auto replies = db_.pipeline(reads);
  if (!replies) return replies.error();
  std::vector<TransferInfo> out;
  std::vector<std::string> vanished;
  for (size_t i = 0; i < tids.size(); ++i) {
    const redisReply* r = (*replies)[i].get();
    if (auto e = unavailable(r)) return *e;
    if (r->type != REDIS_REPLY_ARRAY || r->elements == 0) {
      vanished.push_back(tids[i]);
      continue;
    }
    out.push_back(parse_meta(tids[i], r));
  }
  for (auto& t : vanished) (void)one(mine_key(requester), {"ZREM", mine_key(requester), t});
  return out;
}

Result<TransferInfo> RedisStore::answer(const std::string& tid, const std::string& answer_record) {
  auto t = transfer_script(tid, scripts().answer,
                           {answer_record, std::to_string(limits_.transfer_ttl.count()),
                            std::to_string(now_ms() / 1000)});
  // Handed to this node's streams at once, as append() does with frames: so
  // they never get this node's frames ahead of its answer.
  if (t) hub_.publish(ev_key(tid), Entry{{0, 1}, "answer", "", std::make_shared<const std::string>(answer_record), 0});
  return t;
}

Result<TransferInfo> RedisStore::finish(const std::string& tid, State to, const std::string& code,
                                        const std::string& message, const std::string& error_record,
                                        std::optional<State> only_from) {
  redisReply* changed = nullptr;
  Reply holder;
  auto t = transfer_script(
      tid, scripts().finish,
      {to_string(to), code, message, error_record, only_from ? to_string(*only_from) : "",
       std::to_string(limits_.transfer_ttl.count()), std::to_string(now_ms() / 1000)},
      &changed, &holder);
  if (!t) return t;
  bool did = changed && changed->type == REDIS_REPLY_INTEGER && changed->integer == 1;
  if (!did) return t;
  note_change(tid);
  // The error entry reaches this node's streams at once, even while the
  // reader leaves the key to this node's own appends.
  hub_.poke(ev_key(tid));
  // The agent's keys; a failure leaves the cleanup to the keys' expiry.
  (void)db_.on(active_key(t->agent), [&](RedisConn& c) -> Result<void> {
    auto z = c.command({"ZREM", active_key(t->agent), tid});
    if (!z) return z.error();
    if (auto moved = redirection_error(z->get())) return *moved;
    if (to == State::cancelled || to == State::expired) {
      auto keep_ms = std::chrono::milliseconds(limits_.inbox_retention).count();
      std::string ik = inbox_key(t->agent);
      (void)c.command({"XADD", ik, "MAXLEN", "~", std::to_string(limits_.inbox_max_entries),
                       "*", "k", "cancel", "r", tid, "p",
                       "{\"transfer_id\":\"" + tid + "\"}"});
      (void)c.command({"XTRIM", ik, "MINID", "~", std::to_string(now_ms() - keep_ms)});
      (void)c.command({"EXPIRE", ik, std::to_string(limits_.inbox_retention.count())});
      ring(c, t->agent);
    }
    return {};
  });
  return t;
}

Result<TransferInfo> RedisStore::begin_upload(const std::string& tid, const std::string& session,
                                              uint64_t first) {
  return transfer_script(tid, scripts().begin_upload,
                         {session, std::to_string(first),
                          std::to_string(limits_.transfer_ttl.count()),
                          std::to_string(now_ms() / 1000)});
}

void RedisStore::publish_appended(const std::string& ek, uint64_t first,
                                  const std::vector<Frame>& frames, const std::string& end_record,
                                  RedisConn& c) {
  // This node's streams get the entries from here, not back from Redis
  // (StreamReader::appended_here); other nodes read them from Redis.
  StreamId last{first, 0};
  for (size_t i = 0; i < frames.size(); ++i) {
    last = StreamId{first + i + 1, 0};
    hub_.publish(ek, Entry{last, "frame", "", frames[i].record, frames[i].bytes});
  }
  if (!end_record.empty()) {
    last = StreamId{first + frames.size() + 1, 0};
    hub_.publish(ek, Entry{last, "end", "", std::make_shared<const std::string>(end_record), 0});
  }
  if (watcher_) {
    watcher_->appended_here(ek, last);
  } else {
    transfer_reader_->appended_here(ek, last, c);
  }
}

Result<TransferInfo> RedisStore::append(const std::string& tid, const std::string& session,
                                        uint64_t first, const std::vector<Frame>& frames,
                                        const std::string& end_record) {
  std::optional<Result<TransferInfo>> out;
  auto done = db_.on(meta_key(tid), [&](RedisConn& c) -> Result<void> {
    out = append_on(c, tid, session, first, frames, end_record);
    if (!*out && errors::is(out->error(), ErrorCode::redis_moved)) return out->error();
    return {};
  });
  if (!done) return done.error();
  // The agent's key, in another slot: its own round trip.
  if (*out && (*out)->state == State::complete) (void)one(active_key((*out)->agent), {"ZREM", active_key((*out)->agent), tid});
  return std::move(*out);
}

// Queues append()'s transaction on `c`: the frames' XADDs, the appended
// script and, on a cluster, the wake-up for other nodes with the last id
// written (this node's watcher skips what it published). Returns how many
// commands follow the script inside the MULTI.
size_t RedisStore::queue_append(RedisConn& c, const std::string& tid, uint64_t first,
                                const std::vector<Frame>& frames, uint64_t bytes_after,
                                const std::string& end_record) {
  const std::string mk = meta_key(tid), ek = ev_key(tid), gk = guard_key(tid);
  c.append({"MULTI"});
  for (size_t i = 0; i < frames.size(); ++i) {
    std::string id = std::to_string(first + i + 1) + "-0", bytes = std::to_string(frames[i].bytes);
    c.append({"XADD", ek, id, "k", "frame", "p", *frames[i].record, "b", bytes});
  }
  c.append({"EVAL", scripts().appended.text, "3", mk, ek, gk, std::to_string(first + frames.size()),
            std::to_string(bytes_after), end_record, std::to_string(limits_.history_frames),
            std::to_string(limits_.transfer_ttl.count()), std::to_string(now_ms() / 1000)});
  size_t woken = watcher_ ? 1 : 0;
  if (woken) {
    uint64_t last = first + frames.size() + (end_record.empty() ? 0 : 1);
    c.append({"SPUBLISH", wake_channel(ek), StreamId{last, 0}.str()});
  }
  c.append({"EXEC"});
  return woken;
}

Result<TransferInfo> RedisStore::append_on(RedisConn& c, const std::string& tid,
                                           const std::string& session, uint64_t first,
                                           const std::vector<Frame>& frames,
                                           const std::string& end_record) {
  const std::string mk = meta_key(tid), ek = ev_key(tid), gk = guard_key(tid);
  uint64_t added = 0;
  for (auto& f : frames) added += f.bytes;
  // Optimistic: read the meta under WATCH, check, then MULTI the XADDs. Only
  // a change of who may append (guard) aborts the EXEC; deliveries do not.
  for (int attempt = 0; attempt < 4; ++attempt) {
    c.append({"WATCH", gk});
    c.append({"HGETALL", mk});
    auto watched = c.next_reply();
    if (!watched) return watched.error();
    auto meta = c.next_reply();
    if (!meta) return meta.error();
    auto refuse = [&](Error e) -> Result<TransferInfo> {
      (void)c.command({"UNWATCH"});
      return e;
    };
    // A half-migrated slot may take the WATCH and send the read elsewhere
    // (ASK): the connection goes back to the pool watching nothing.
    for (const Reply* r : {&*watched, &*meta}) {
      if (auto e = unavailable(r->get())) return refuse(*e);
    }
    const redisReply* m = meta->get();
    if (m->type != REDIS_REPLY_ARRAY || m->elements == 0) {
      return refuse(
          make_error(ErrorCode::unknown_transfer, "no transfer " + tid + " (it may have expired)"));
    }
    TransferInfo now = parse_meta(tid, m);
    if (auto e = append_refused(tid, now, session, first, added, limits_.max_transfer_bytes)) {
      return refuse(*e);
    }
    size_t woken = queue_append(c, tid, first, frames, now.bytes + added, end_record);
    auto exec = read_transaction(c, frames.size() + 1 + woken);
    if (!exec) return exec.error();
    const redisReply* x = exec->get();
    if (x->type == REDIS_REPLY_NIL) continue;  // the guard moved: check again
    auto rep = appended_script_reply(x, frames.size(), woken);
    if (!rep) return rep.error();
    if (reply_str((*rep)->element[0]) != "ok") return script_error(*rep, tid);
    TransferInfo t = parse_meta(tid, (*rep)->element[1]);
    remember(t);
    publish_appended(ek, first, frames, end_record, c);
    return t;
  }
  return make_error(ErrorCode::conflict, "transfer " + tid + " kept changing during the append");
}

Result<void> RedisStore::mark_delivered(const std::string& tid, uint64_t n) {
  auto t = transfer_script(tid, scripts().delivered,
                           {std::to_string(n), std::to_string(limits_.history_frames),
                            std::to_string(limits_.transfer_ttl.count())});
  if (!t) return t.error();
  note_change(tid);
  return {};
}

void RedisStore::note_change(const std::string& tid) {
  std::lock_guard lk(waiting_mu_);
  auto it = waiting_.find(tid);
  if (it == waiting_.end()) return;
  ++it->second->changes;
  it->second->cv.notify_all();
}

Result<TransferInfo> RedisStore::wait_transfer(
    const std::string& tid, const std::function<bool(const TransferInfo&)>& pred,
    std::chrono::milliseconds timeout) {
  // Polls Redis with a growing pause (the change may come from another
  // node), and wakes early on any change made through this node (the common
  // case: the requester reads from the node the agent uploads to). Only
  // uploads facing a full window wait here, and there are few per node.
  std::shared_ptr<Waiters> w;
  {
    std::lock_guard lk(waiting_mu_);
    auto& slot = waiting_[tid];
    if (!slot) slot = std::make_shared<Waiters>();
    w = slot;
    ++w->count;
  }
  struct Leave {
    RedisStore* store;
    const std::string& tid;
    Waiters* w;
    ~Leave() {
      std::lock_guard lk(store->waiting_mu_);
      if (--w->count == 0) store->waiting_.erase(tid);
    }
  } leave{this, tid, w.get()};
  auto deadline = std::chrono::steady_clock::now() + timeout;
  auto pause = std::chrono::milliseconds(1);
  for (;;) {
    uint64_t seen;
    {
      std::lock_guard lk(waiting_mu_);
      seen = w->changes;
    }
    auto t = get_transfer(tid);
    if (!t || pred(*t)) return t;
    auto now = std::chrono::steady_clock::now();
    if (now >= deadline) return t;
    std::unique_lock lk(waiting_mu_);
    w->cv.wait_for(lk, std::min<std::chrono::steady_clock::duration>(pause, deadline - now),
                   [&] { return w->changes != seen; });
    pause = std::min(pause * 2, std::chrono::milliseconds(20));
  }
}

Result<EventsRead> RedisStore::read_events(const std::string& tid, StreamId after,
                                           size_t limit) {
  Reply exec;
  auto done = db_.on(meta_key(tid), [&](RedisConn& c) -> Result<void> {
    // A plain MULTI, not a script: the payloads must not pass through Lua
    // (see relay/redis_scripts.h).
    c.append({"MULTI"});
    c.append({"HGETALL", meta_key(tid)});
    c.append({"XRANGE", ev_key(tid), "(" + after.str(), "+", "COUNT", std::to_string(limit)});
    c.append({"EXEC"});
    auto got = read_transaction(c, 2);
    if (!got) return got.error();
    exec = std::move(*got);
    return {};
  });
  if (!done) return done.error();
  const redisReply* x = exec.get();
  if (x->type != REDIS_REPLY_ARRAY || x->elements != 2) {
    return make_error(ErrorCode::store_error, "redis: unexpected EXEC reply");
  }
  const redisReply* meta = x->element[0];
  const redisReply* entries = x->element[1];
  if (meta->type != REDIS_REPLY_ARRAY || meta->elements == 0) {
    return make_error(ErrorCode::unknown_transfer, "no transfer " + tid + " (it may have expired)");
  }
  TransferInfo t = parse_meta(tid, meta);
  remember(t);
  EventsRead r;
  bool ended = t.state == State::failed || t.state == State::cancelled ||
               t.state == State::expired;
  uint64_t want = after.ms == 0 ? 1 : after.ms + 1;
  if (!ended && want < t.trimmed && want <= t.frames) {
    r.gone = true;
    r.earliest = t.trimmed;
  }
  // The answer lives in the meta hash (stream trimming may drop its entry).
  if (after < StreamId{0, 1}) {
    std::string answer = meta_field(meta, "answer");
    if (!answer.empty()) {
      r.entries.push_back(
          Entry{{0, 1}, "answer", "", std::make_shared<const std::string>(std::move(answer)), 0});
    }
  }
  for (size_t i = 0; entries->type == REDIS_REPLY_ARRAY && i < entries->elements && r.entries.size() < limit; ++i) {
    auto e = parse_entry(entries->element[i]);
    if (!e || e->kind == "answer") continue;
    if (r.gone) break;
    r.entries.push_back(std::move(*e));
  }
  return r;
}

void RedisStore::sweep() {
  int64_t horizon = now_ms() - std::chrono::milliseconds(limits_.transfer_ttl).count();
  std::lock_guard lk(seen_mu_);
  std::erase_if(seen_, [&](auto& kv) { return kv.second.second < horizon; });
}

std::array<uint64_t, kStateCount> RedisStore::count_by_state() {
  std::array<uint64_t, kStateCount> out{};
  std::lock_guard lk(seen_mu_);
  for (auto& [tid, st] : seen_) out[static_cast<int>(st.first)]++;
  return out;
}

}  // namespace sealrelay::relay
