// The relay's state behind one interface, with two implementations that pass
// the same test suite (tests/unit/relay/store_test.cpp): MemoryStore (the
// embedded default: one relay, nothing else to run) and RedisStore (any
// number of relay nodes share one Redis).
//
// What is stored (docs/api.md; the Redis layout is in redis_keys.h):
//   agent directory  id -> public key, version, last seen; presence (online)
//   agent inbox      stream of control events (transfer, cancel) per agent
//   transfer meta    state, counters, owner, error
//   transfer stream  answer, frames, end, error: records of the binary event
//                    stream (proto/event_stream.h), ready to send as they are
// Every value is opaque to the store except the counters it checks. Nothing
// lives forever: presence, inboxes and transfers expire (Limits below).
//
// Thread safety: every method may be called from any thread at any time.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/result.h"
#include "relay/mailbox.h"

namespace sealrelay::relay {

// Wall clock in unix milliseconds, injectable for tests.
using Clock = std::function<int64_t()>;
Clock system_clock();

struct AgentInfo {
  std::string id;
  std::string public_key;  // base64 as the agent sent it
  std::string version;
  int64_t last_seen = 0;  // unix seconds
  bool online = false;
};

enum class State { requested, answered, uploading, complete, failed, cancelled, expired };
const char* to_string(State s);
// Terminal states accept no more answer or frames.
bool is_terminal(State s);
constexpr int kStateCount = 7;

struct TransferInfo {
  std::string id;
  std::string agent;
  std::string requester;  // token id of the requester that created it
  State state = State::requested;
  int64_t created = 0;  // unix seconds
  int64_t updated = 0;
  uint64_t frames = 0;     // committed frame count = next frame index
  uint64_t delivered = 0;  // frames written to some requester stream
  uint64_t bytes = 0;      // committed opaque frame bytes
  uint64_t trimmed = 1;    // lowest SSE frame id still held (frames below are gone)
  std::string error_code;  // failed / cancelled / expired
  std::string error_message;
  std::string upload_session;  // the upload currently allowed to append ("" none)
};

// Limits the store enforces atomically with the write they guard.
struct StoreLimits {
  uint64_t max_transfer_bytes = 64ull << 30;
  uint64_t history_frames = 8;       // delivered frames kept for Last-Event-ID
  uint64_t max_transfers_per_agent = 16;
  std::chrono::seconds transfer_ttl{3600};  // idle transfer disappears
  std::chrono::seconds agent_ttl{30 * 24 * 3600};  // directory entry of an absent agent
  std::chrono::seconds presence_ttl{45};          // online without heartbeat
  std::chrono::seconds inbox_retention{600};      // control events kept for replay
  size_t inbox_max_entries = 1000;
  size_t mailbox_bytes = 8u << 20;  // per subscriber before it is marked lagged
};

// Result of reading a transfer stream from a cursor.
struct EventsRead {
  std::vector<Entry> entries;  // in order, all after the cursor (at most `limit`)
  bool gone = false;           // the cursor asks for frames no longer held
  uint64_t earliest = 0;       // when gone: the oldest SSE id still held
};

// Keeps a subscription alive; unsubscribes on destruction.
class Subscription {
 public:
  Subscription(std::shared_ptr<Mailbox> box, std::function<void()> cancel)
      : box_(std::move(box)), cancel_(std::move(cancel)) {}
  ~Subscription() {
    if (cancel_) cancel_();
  }
  Subscription(const Subscription&) = delete;
  Subscription& operator=(const Subscription&) = delete;
  Mailbox& mailbox() { return *box_; }
  std::weak_ptr<Mailbox> watch() const { return box_; }  // to wake the consumer from elsewhere

 private:
  std::shared_ptr<Mailbox> box_;
  std::function<void()> cancel_;
};

class Store {
 public:
  virtual ~Store() = default;

  // Reachability, for /readyz.
  virtual Result<void> ping() = 0;
  // The clock the store was given (unix ms): what `created`, expiry and the
  // inbox's times are measured by, and so the transfers' answer deadline.
  virtual int64_t now_ms() const = 0;

  // --- agents -------------------------------------------------------------
  // Records the agent in the directory and makes `session` its live control
  // stream (a newer session takes over from an older one).
  virtual Result<void> agent_connect(const AgentInfo& info, const std::string& session) = 0;
  // Refreshes presence and last_seen. false: another session took over.
  virtual Result<bool> agent_heartbeat(const std::string& agent, const std::string& session) = 0;
  // Many heartbeats at once (relay/presence.h sends a node's together):
  // answer i is agent_heartbeat(batch[i]). An error may leave some done.
  struct Heartbeat {
    std::string agent;
    std::string session;
  };
  virtual Result<std::vector<bool>> agent_heartbeats(const std::vector<Heartbeat>& batch);
  // Ends presence if `session` still holds it.
  virtual Result<void> agent_disconnect(const std::string& agent, const std::string& session) = 0;
  virtual Result<std::vector<AgentInfo>> list_agents() = 0;  // sorted by id
  // Error "unknown_agent" when absent.
  virtual Result<AgentInfo> get_agent(const std::string& agent) = 0;

  // --- agent inbox --------------------------------------------------------
  virtual Result<std::vector<Entry>> inbox_read(const std::string& agent, StreamId after,
                                                size_t limit) = 0;
  // Wakes the mailbox on inbox writes after `from`, with the entries or with
  // a poke (then re-read with inbox_read).
  virtual std::unique_ptr<Subscription> subscribe_inbox(const std::string& agent,
                                                        StreamId from) = 0;

  // --- transfers ----------------------------------------------------------
  // Creates transfer `tid` in state requested and queues `transfer` on the
  // agent's inbox with data `inbox_json`. Errors: "rate_limited" (the agent
  // has max_transfers_per_agent non-terminal transfers).
  virtual Result<TransferInfo> create_transfer(const std::string& tid, const std::string& agent,
                                               const std::string& requester,
                                               const std::string& inbox_json) = 0;
  // Error "unknown_transfer" when absent (never created, or expired away).
  virtual Result<TransferInfo> get_transfer(const std::string& tid) = 0;
  // Newest first.
  virtual Result<std::vector<TransferInfo>> list_transfers(const std::string& requester) = 0;

  // requested -> answered, appending `answer_record` (the rendered answer
  // event). Errors: "conflict" (not in state requested), "unknown_transfer".
  virtual Result<TransferInfo> answer(const std::string& tid, const std::string& answer_record) = 0;
  // Ends the transfer in a terminal state (failed/cancelled/expired) with an
  // error event `error_record`, drops its frames, and for cancelled/expired
  // queues `cancel` on the agent's inbox. `only_from` restricts the
  // transition (e.g. expire only a transfer still requested); when the state
  // does not match, returns the unchanged info. Terminal transfers stay as
  // they are (cancelling twice is not an error).
  virtual Result<TransferInfo> finish(const std::string& tid, State to, const std::string& code,
                                      const std::string& message, const std::string& error_record,
                                      std::optional<State> only_from) = 0;

  // Starts (or takes over) the upload of `tid` at frame `first`: requires
  // state answered/uploading and frames == first. Errors: "conflict" (with
  // the info's frames telling next_frame), "unknown_transfer".
  virtual Result<TransferInfo> begin_upload(const std::string& tid, const std::string& session,
                                            uint64_t first) = 0;

  struct Frame {
    // The frame's event-stream record (header + frame), shared with the
    // stream entries and mailboxes that carry it: never copied.
    std::shared_ptr<const std::string> record;
    size_t bytes = 0;  // opaque frame size
  };
  // Appends frames first.. (and the end event when `end_record` is non-empty,
  // which completes the transfer) if `session` still owns the upload and
  // frames == first. Trims delivered frames beyond history. Errors:
  // "conflict" (lost the upload, or not at `first`), "too_large" (the
  // transfer failed for max_transfer_bytes), "cancelled", "unknown_transfer".
  virtual Result<TransferInfo> append(const std::string& tid, const std::string& session,
                                      uint64_t first, const std::vector<Frame>& frames,
                                      const std::string& end_record) = 0;
  // Records that frames [0, n) reached a requester (max with the old value)
  // and trims frames beyond history.
  virtual Result<void> mark_delivered(const std::string& tid, uint64_t n) = 0;
  // Blocks until `pred(info)` holds or `timeout` passes; returns the last
  // info seen. For the uploader waiting for window space.
  virtual Result<TransferInfo> wait_transfer(const std::string& tid,
                                             const std::function<bool(const TransferInfo&)>& pred,
                                             std::chrono::milliseconds timeout) = 0;

  // Entries of the transfer stream after `after`. The answer is always held;
  // frames below `trimmed` are not (then gone=true when the cursor needs one).
  virtual Result<EventsRead> read_events(const std::string& tid, StreamId after,
                                         size_t limit) = 0;
  // Entries from `from` on, or pokes. With several relay nodes an entry this
  // node wrote can come ahead of one another node wrote before it: a
  // consumer that sees a gap re-reads with read_events.
  virtual std::unique_ptr<Subscription> subscribe_transfer(const std::string& tid,
                                                           StreamId from) = 0;

  // --- housekeeping -------------------------------------------------------
  // Drops what expired (the Redis store leaves that to key TTLs).
  virtual void sweep() {}
  // Transfers by state (index = State), as far as this store can tell.
  virtual std::array<uint64_t, kStateCount> count_by_state() = 0;
  // Wakes every waiting stream with `closed` (shutdown).
  virtual void close_subscriptions() = 0;
};

}  // namespace sealrelay::relay
