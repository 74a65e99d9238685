// The relay's two long-lived streams, without HTTP: a requester's transfer
// events (rendered as SSE or as binary records, docs/api.md) and an agent's
// control stream (SSE). Each is a pump: the transport calls pump() again
// and again with a sink, and each call writes what is new, blocking at most
// until the next heartbeat is due.
//
//   TransferEvents ev(ctx, tid, cursor, binary, lease);
//   while (ev.pump(sink)) {}   // false: cut the stream; the client resumes
//   ev.close();
//
// A pump catches up from the store, subscribes, and catches up again
// (entries published in between, mailbox.h); it falls back to the store
// whenever its mailbox lagged, was poked, or shows a gap. Each idle wake
// writes a heartbeat or asks the sink whether the peer is still there.
// A revoked lease, stop, or a closed mailbox ends the stream.
//
// Thread safety: one thread at a time pumps a stream; the Context's parts
// are thread-safe.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "base/result.h"
#include "relay/leases.h"
#include "relay/presence.h"
#include "relay/metrics.h"
#include "relay/store.h"
#include "relay/transfers.h"

namespace sealrelay::relay {

// Where a stream's bytes go. Each write is one event (or heartbeat).
class StreamSink {
 public:
  virtual ~StreamSink() = default;
  // False when the peer is gone.
  virtual bool write(std::string_view bytes) = 0;
  // The last event was written: end the stream cleanly.
  virtual void end() = 0;
  // Is the peer still there? Asked on an idle wake with no heartbeat due.
  virtual bool alive() = 0;
};

// What every stream of a server shares; all of it outlives the streams.
struct StreamContext {
  Store& store;
  Transfers& transfers;
  Metrics& metrics;
  Presence& presence;  // refreshes the control streams' presence
  std::chrono::milliseconds heartbeat;
  const std::atomic<bool>& stopping;
};

// What both pumps keep of a stream.
class Pump {
 protected:
  Pump(StreamContext ctx, std::shared_ptr<Leases::Lease> lease)
      : ctx_(ctx), lease_(std::move(lease)) {}
  bool write(StreamSink& sink, std::string_view bytes);
  // Stop, revocation or shutdown: end the stream.
  bool cut() const { return ctx_.stopping || lease_->revoked(); }
  // Waits for the mailbox at most until the next heartbeat is due.
  Mailbox::Batch wait();
  bool heartbeat_due() const;
  // Subscribes through `sub`, waking it when the lease is revoked.
  void hold(std::unique_ptr<Subscription> sub);

  StreamContext ctx_;
  std::shared_ptr<Leases::Lease> lease_;  // on the token that opened the stream
  std::unique_ptr<Subscription> sub_;
  StreamId cursor_;
  bool started_ = false;
  uint64_t writes_ = 0;
  std::chrono::steady_clock::time_point last_write_ = std::chrono::steady_clock::now();
};

// GET /v1/transfers/{tid}/events: answer, frames, end or error.
class TransferEvents : public Pump {
 public:
  // Last-Event-ID of the requester stream: "" (from the start), "0" (after
  // the answer), "K" (after frame K-1); nullopt when malformed.
  static std::optional<StreamId> cursor_of(const std::string& last_event_id);

  TransferEvents(StreamContext ctx, std::string tid, StreamId cursor, bool binary,
                 std::shared_ptr<Leases::Lease> lease);
  bool pump(StreamSink& sink);
  void close();

 private:
  bool start(StreamSink& sink);
  bool idle(StreamSink& sink);
  bool catch_up(StreamSink& sink);
  bool emit(const Entry& e, StreamSink& sink);
  bool write_event(StreamSink& sink, std::string_view record);
  bool write_heartbeat(StreamSink& sink);
  bool expired(StreamSink& sink);
  void mark_delivered();
  bool finish(StreamSink& sink);

  const std::string tid_;
  const bool binary_;    // records as stored (proto/event_stream.h), else SSE
  bool done_ = false;    // the last event was written; end the stream
  uint64_t delivered_ = 0;  // frames written (= SSE id of the last frame)
  uint64_t delivered_marked_ = 0;
  std::string rendered_;  // SSE rendering of the last event, reused
};

// GET /v1/agent/control: the agent's inbox (transfer, cancel); its presence
// is refreshed by ctx.presence while the stream lasts.
class ControlEvents : public Pump {
 public:
  // Connects the agent (a newer stream takes over from an older one).
  // `last_event_id` "" sends only the transfers still pending; otherwise
  // the stream resumes after it (error bad_request when it is no id).
  static Result<std::unique_ptr<ControlEvents>> open(StreamContext ctx, const AgentInfo& agent,
                                                     const std::string& last_event_id,
                                                     std::shared_ptr<Leases::Lease> lease);
  bool pump(StreamSink& sink);
  // Ends the agent's presence (if this stream still holds it).
  void close();

 private:
  ControlEvents(StreamContext ctx, std::string agent, std::shared_ptr<Leases::Lease> lease);
  bool catch_up(StreamSink& sink, bool only_pending);
  bool pending(const Entry& e);

  const std::string agent_;
  const std::string session_;  // presence session
  std::shared_ptr<Presence::Registration> presence_;
  bool only_pending_ = false;  // no Last-Event-ID
};

}  // namespace sealrelay::relay
