#include "relay/event_pump.h"

#include <spdlog/spdlog.h>

#include "base/base64.h"
#include "proto/errors.h"
#include "proto/event_stream.h"
#include "proto/sse.h"
#include "relay/records.h"

namespace sealrelay::relay {

using SteadyClock = std::chrono::steady_clock;

namespace {

// The SSE form of a stored record (docs/api.md): the same name and id, and
// for a frame its bytes in base64.
void render_sse(const event_stream::RecordView& r, std::string& out) {
  using event_stream::Type;
  out.clear();
  std::string id;
  if (r.type == Type::answer || r.type == Type::frame || r.type == Type::end) id = std::to_string(r.id);
  if (r.type != Type::frame) return sse::append_event(out, event_stream::name(r.type), id, r.data);
  size_t b64 = base64::encoded_size(r.data.size());
  out.reserve(17 + id.size() + 7 + b64 + 2);
  out.append("event: frame\nid: ").append(id).append("\ndata: ");
  size_t at = out.size();
  out.resize(at + b64);
  base64::encode_into(
      std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(r.data.data()), r.data.size()),
      out.data() + at);
  out.append("\n\n");
}

std::string sse_heartbeat() {
  std::string hb;
  sse::append_comment(hb, "hb");
  return hb;
}

}  // namespace

// ---- both streams ------------------------------------------------------------

bool Pump::write(StreamSink& sink, std::string_view bytes) {
  if (bytes.empty()) return true;
  last_write_ = SteadyClock::now();
  ++writes_;
  return sink.write(bytes);
}

Mailbox::Batch Pump::wait() {
  // Rounded up: rounded down, an idle stream woke up to 1 ms before its
  // heartbeat was due, found nothing to do and waited again (two wake-ups
  // and their polls per heartbeat: a third of an idle relay's CPU).
  auto left = std::chrono::ceil<std::chrono::milliseconds>(last_write_ + ctx_.heartbeat -
                                                           SteadyClock::now());
  return sub_->mailbox().wait(std::max(left, std::chrono::milliseconds(1)));
}

bool Pump::heartbeat_due() const { return SteadyClock::now() >= last_write_ + ctx_.heartbeat; }

void Pump::hold(std::unique_ptr<Subscription> sub) {
  sub_ = std::move(sub);
  lease_->wake_through(sub_->watch());
}

// ---- requester event stream --------------------------------------------------

std::optional<StreamId> TransferEvents::cursor_of(const std::string& h) {
  if (h.empty()) return StreamId{0, 0};
  auto id = StreamId::parse(h);
  if (!id || id->seq != 0 || h.find('-') != std::string::npos) return std::nullopt;
  if (id->ms == 0) return StreamId{0, 1};
  return StreamId{id->ms, 0};
}

TransferEvents::TransferEvents(StreamContext ctx, std::string tid, StreamId cursor, bool binary,
                               std::shared_ptr<Leases::Lease> lease)
    : Pump(ctx, std::move(lease)), tid_(std::move(tid)), binary_(binary) {
  cursor_ = cursor;
  ++ctx_.metrics.event_streams;
}

void TransferEvents::close() {
  sub_.reset();
  --ctx_.metrics.event_streams;
}

bool TransferEvents::pump(StreamSink& sink) {
  if (cut()) return false;
  if (!started_) return start(sink);
  auto batch = wait();
  if (batch.closed || cut()) return false;
  uint64_t writes = writes_;
  // Entries reach a mailbox from two sources (this node's own appends, the
  // Redis reader), so one may come ahead of an entry still on its way: a
  // frame or end that is not the next one sends the stream to the store.
  auto ahead = [&](const Entry& e) {
    bool answered = cursor_ >= StreamId{0, 1};
    return (e.kind == "frame" || e.kind == "end") && (!answered || e.id.ms > cursor_.ms + 1);
  };
  bool again = batch.lagged || batch.poked;
  for (size_t i = 0; !again && !done_ && i < batch.entries.size(); ++i) {
    if (ahead(batch.entries[i])) again = true;
    else if (!emit(batch.entries[i], sink)) return false;
  }
  if (!batch.lagged && !batch.poked) mark_delivered();
  if (again && !done_ && !catch_up(sink)) return false;
  if (done_) return finish(sink);
  if (writes_ != writes) return true;
  if (!heartbeat_due()) return sink.alive();
  return idle(sink);
}

bool TransferEvents::start(StreamSink& sink) {
  started_ = true;
  // A resuming client holds every frame up to its cursor, even frames the
  // store no longer has (a Redis failover may lose the last writes the old
  // master acknowledged): delivered, so the upload window has room for the
  // agent to send them again (the store caps it at the frames it holds).
  if (cursor_.ms > 0) (void)ctx_.store.mark_delivered(tid_, cursor_.ms);
  // Read what is there, subscribe from where that left off, read again
  // (covers entries published between the two, see mailbox.h).
  if (!catch_up(sink)) return false;
  if (!done_) {
    hold(ctx_.store.subscribe_transfer(tid_, cursor_));
    if (!catch_up(sink)) return false;
  }
  if (!done_) {
    // Resumed after the end event itself: nothing is left to send.
    auto t = ctx_.store.get_transfer(tid_);
    done_ = t && t->state == State::complete && cursor_ >= StreamId{t->frames + 1, 0};
  }
  return done_ ? finish(sink) : true;
}

// Nothing to send and a heartbeat due: notice an overdue answer or a
// transfer that vanished, else beat.
bool TransferEvents::idle(StreamSink& sink) {
  auto t = ctx_.store.get_transfer(tid_);
  if (!t && errors::is(t.error(), ErrorCode::unknown_transfer)) {
    expired(sink);
    return finish(sink);
  }
  if (t && t->state == State::requested &&
      ctx_.transfers.expire_if_overdue(*t).state == State::expired) {
    if (!catch_up(sink)) return false;
    return done_ ? finish(sink) : true;
  }
  return write_heartbeat(sink);
}

bool TransferEvents::catch_up(StreamSink& sink) {
  constexpr size_t kPage = 16;
  for (;;) {
    auto r = ctx_.store.read_events(tid_, cursor_, kPage);
    if (!r) {
      // The store is down: end the stream, the client resumes.
      if (!errors::is(r.error(), ErrorCode::unknown_transfer)) return false;
      return expired(sink);
    }
    for (auto& e : r->entries) {
      if (!emit(e, sink)) return false;
      if (done_) break;
    }
    mark_delivered();
    if (done_) return true;
    if (r->gone) {
      done_ = true;
      return write_event(sink, event_stream::record(event_stream::Type::gone, 0,
                                                    json_text({{"earliest", r->earliest}})));
    }
    if (r->entries.size() < kPage || ctx_.stopping) return !ctx_.stopping;
  }
}

bool TransferEvents::emit(const Entry& e, StreamSink& sink) {
  if (e.id <= cursor_) {
    // Sent again after a failover lost it (see start()): the client has it.
    if (e.kind == "frame") delivered_ = std::max(delivered_, e.id.ms);
    return true;
  }
  if (!write_event(sink, *e.payload)) return false;
  cursor_ = e.id;
  if (e.kind == "frame") {
    delivered_ = e.id.ms;
    ++ctx_.metrics.frames_streamed;
    ctx_.metrics.bytes_streamed += e.payload->size();
  } else if (e.kind == "end" || e.kind == "error") {
    done_ = true;
  }
  return true;
}

// Writes an event, given as its record, in the stream's format.
bool TransferEvents::write_event(StreamSink& sink, std::string_view record) {
  if (binary_) return write(sink, record);
  auto r = event_stream::read_record(record);
  if (!r) {
    // Only a corrupted store holds such a thing: end the stream, the client resumes.
    spdlog::error("transfer {}: a stored event is not a record; ending the stream", tid_);
    return false;
  }
  render_sse(*r, rendered_);
  return write(sink, rendered_);
}

bool TransferEvents::write_heartbeat(StreamSink& sink) {
  if (binary_) return write(sink, event_stream::record(event_stream::Type::heartbeat, 0, ""));
  return write(sink, sse_heartbeat());
}

// The transfer is gone from the store: its TTL passed.
bool TransferEvents::expired(StreamSink& sink) {
  done_ = true;
  return write_event(sink, error_event("expired", "the transfer expired"));
}

void TransferEvents::mark_delivered() {
  if (delivered_ <= delivered_marked_) return;
  (void)ctx_.store.mark_delivered(tid_, delivered_);
  delivered_marked_ = delivered_;
}

bool TransferEvents::finish(StreamSink& sink) {
  sink.end();
  return true;
}

// ---- agent control stream ----------------------------------------------------

Result<std::unique_ptr<ControlEvents>> ControlEvents::open(StreamContext ctx,
                                                           const AgentInfo& agent,
                                                           const std::string& last_event_id,
                                                           std::shared_ptr<Leases::Lease> lease) {
  std::unique_ptr<ControlEvents> c(new ControlEvents(ctx, agent.id, std::move(lease)));
  if (last_event_id.empty()) {
    c->only_pending_ = true;
  } else {
    auto id = StreamId::parse(last_event_id);
    if (!id) return make_error(ErrorCode::bad_request, "Last-Event-ID is not a control event id");
    c->cursor_ = *id;
  }
  auto connected = ctx.store.agent_connect(agent, c->session_);
  if (!connected) return connected.error();
  c->presence_ = ctx.presence.add(agent.id, c->session_);
  ++ctx.metrics.control_streams;
  ++ctx.metrics.agents_online;
  return c;
}

ControlEvents::ControlEvents(StreamContext ctx, std::string agent,
                             std::shared_ptr<Leases::Lease> lease)
    : Pump(ctx, std::move(lease)), agent_(std::move(agent)), session_(random_hex(12)) {}

void ControlEvents::close() {
  sub_.reset();
  presence_.reset();
  (void)ctx_.store.agent_disconnect(agent_, session_);
  --ctx_.metrics.control_streams;
  --ctx_.metrics.agents_online;
  spdlog::info("agent {} disconnected", agent_);
}

bool ControlEvents::pump(StreamSink& sink) {
  if (cut()) return false;
  if (!started_) {
    started_ = true;
    // Subscribe, then read once: an inbox subscription wakes the mailbox on
    // every write after it (both stores ignore the cursor; the entries it
    // may carry that the read already sent are skipped below by cursor_), so
    // the read misses nothing. One Redis round trip fewer per connect than
    // read, subscribe, read: a reconnect storm is bound by them (the pool's
    // connections handed from thread to thread, docs/performance.md).
    hold(ctx_.store.subscribe_inbox(agent_, cursor_));
    presence_->wake_through(sub_->watch());
    return catch_up(sink, only_pending_);
  }
  auto batch = wait();
  // A revoked token's stream is cut: the agent reconnects and meets a 401,
  // and its presence ends (close()).
  if (batch.closed || cut()) return false;
  // The presence refresher found another session holding the agent (and
  // poked the mailbox): the newer stream reads the inbox from here on.
  if (presence_->superseded()) {
    spdlog::info("agent {}: a newer control stream took over", agent_);
    sink.end();
    return true;
  }
  uint64_t writes = writes_;
  if (batch.lagged || batch.poked) {
    if (!catch_up(sink, false)) return false;
  } else {
    for (auto& e : batch.entries) {
      if (e.id <= cursor_) continue;
      if (!write(sink, sse::event(e.kind, e.id.str(), *e.payload))) return false;
      cursor_ = e.id;
    }
  }
  if (writes_ != writes) return true;
  if (!heartbeat_due()) return sink.alive();
  return write(sink, sse_heartbeat());
}

bool ControlEvents::catch_up(StreamSink& sink, bool only_pending) {
  constexpr size_t kPage = 100;
  for (;;) {
    auto r = ctx_.store.inbox_read(agent_, cursor_, kPage);
    if (!r) return false;
    for (auto& e : *r) {
      bool send = !only_pending || pending(e);
      if (send && !write(sink, sse::event(e.kind, e.id.str(), *e.payload))) return false;
      cursor_ = e.id;
    }
    if (r->size() < kPage || ctx_.stopping) return !ctx_.stopping;
  }
}

// A transfer event whose transfer still waits for its answer.
bool ControlEvents::pending(const Entry& e) {
  if (e.kind != "transfer") return false;
  auto t = ctx_.store.get_transfer(e.ref);
  return t.ok() && ctx_.transfers.expire_if_overdue(*t).state == State::requested;
}

}  // namespace sealrelay::relay
