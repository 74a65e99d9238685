// MemoryStore: the embedded store. Everything in one process's memory under
// one mutex; expiry by sweep() (the server calls it every second).
#pragma once

#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>

#include "relay/store.h"

namespace sealrelay::relay {

class MemoryStore final : public Store {
 public:
  explicit MemoryStore(StoreLimits limits, Clock clock = system_clock());

  int64_t now_ms() const override { return clock_(); }
  Result<void> ping() override { return {}; }
  Result<void> agent_connect(const AgentInfo& info, const std::string& session) override;
  Result<bool> agent_heartbeat(const std::string& agent, const std::string& session) override;
  Result<void> agent_disconnect(const std::string& agent, const std::string& session) override;
  Result<std::vector<AgentInfo>> list_agents() override;
  Result<AgentInfo> get_agent(const std::string& agent) override;
  Result<std::vector<Entry>> inbox_read(const std::string& agent, StreamId after,
                                        size_t limit) override;
  std::unique_ptr<Subscription> subscribe_inbox(const std::string& agent, StreamId from) override;
  Result<TransferInfo> create_transfer(const std::string& tid, const std::string& agent,
                                       const std::string& requester,
                                       const std::string& inbox_json) override;
  Result<TransferInfo> get_transfer(const std::string& tid) override;
  Result<std::vector<TransferInfo>> list_transfers(const std::string& requester) override;
  Result<TransferInfo> answer(const std::string& tid, const std::string& answer_record) override;
  Result<TransferInfo> finish(const std::string& tid, State to, const std::string& code,
                              const std::string& message, const std::string& error_record,
                              std::optional<State> only_from) override;
  Result<TransferInfo> begin_upload(const std::string& tid, const std::string& session,
                                    uint64_t first) override;
  Result<TransferInfo> append(const std::string& tid, const std::string& session, uint64_t first,
                              const std::vector<Frame>& frames,
                              const std::string& end_record) override;
  Result<void> mark_delivered(const std::string& tid, uint64_t n) override;
  Result<TransferInfo> wait_transfer(const std::string& tid,
                                     const std::function<bool(const TransferInfo&)>& pred,
                                     std::chrono::milliseconds timeout) override;
  Result<EventsRead> read_events(const std::string& tid, StreamId after, size_t limit) override;
  std::unique_ptr<Subscription> subscribe_transfer(const std::string& tid,
                                                   StreamId from) override;
  void sweep() override;
  std::array<uint64_t, kStateCount> count_by_state() override;
  void close_subscriptions() override { hub_.close_all(); }

 private:
  struct AgentRec {
    AgentInfo info;
    std::string session;          // live control stream, "" none
    int64_t presence_until = 0;   // ms
    std::deque<Entry> inbox;
    StreamId last_inbox_id;
  };
  struct TransferRec {
    TransferInfo info;
    std::deque<Entry> events;  // answer, frames, end, error in id order
    int64_t expires = 0;       // ms
  };

  void touch_locked(TransferRec& t);
  void push_inbox_locked(AgentRec& a, const std::string& kind, const std::string& tid,
                         const std::string& json);
  void add_event_locked(TransferRec& t, Entry e);
  void trim_locked(TransferRec& t);
  AgentInfo agent_view_locked(const AgentRec& a) const;
  TransferRec* find_locked(const std::string& tid);

  const StoreLimits limits_;  // immutable
  const Clock clock_;         // immutable
  Hub hub_;                   // thread-safe on its own

  std::mutex mu_;
  std::condition_variable changed_;  // any transfer's counters changed
  // Guarded by mu_:
  std::map<std::string, AgentRec> agents_;
  std::map<std::string, TransferRec> transfers_;
};

}  // namespace sealrelay::relay
