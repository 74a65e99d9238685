// RedisStore: the shared store. Any number of relay nodes use one Redis; a
// node can die and another carries on (every bit of state is in Redis).
//
// The keys and why they share hash slots: relay/redis_keys.h. The Lua
// scripts: relay/redis_scripts.h.
//
// Connections: request threads lease one from a pool for a few commands and
// give it back. Streams waiting for news hold none: two reader threads per
// process each block in one XREAD and fan out to mailboxes (relay/mailbox.h).
// The transfer reader watches the streams of the transfers this node serves
// and hands their entries over; the inbox reader watches only the doorbell
// key, whatever the number of idle agents, and pokes the control streams of
// the agents it names (they re-read their inbox).
//
// On a Redis Cluster (RedisConfig::cluster) the same methods run through
// RedisAccess (relay/redis_access.h): each group of commands on the master
// of its keys' slot, a pool of at most 7 connections per master. XREAD over
// many keys and the one doorbell key would cross slots, so instead each
// write SPUBLISHes to its key's wake channel and one SlotWatcher
// (relay/redis_slot_watcher.h) per process, one subscriber connection per
// master, reads the keys that rang: at most 8 connections per master.
#pragma once

#include <atomic>
#include <condition_variable>
#include <map>
#include <thread>
#include <unordered_map>

#include "relay/redis.h"
#include "relay/redis_access.h"
#include "relay/redis_cluster.h"
#include "relay/redis_scripts.h"
#include "relay/store.h"

namespace sealrelay::relay {

struct RedisConfig {
  std::string url;      // one Redis
  // A Redis Cluster instead: seed nodes "redis://h1:p1,redis://h2:p2" (the
  // first one's user and password for every node); `url` is then unused.
  std::string cluster;
  std::chrono::milliseconds timeout{5000};  // connect and per command
  std::chrono::milliseconds block{1000};    // XREAD BLOCK of the readers
  // Each RedisStore holds one connection per reader thread (inbox and
  // transfers) besides its pool.
  static constexpr size_t kReaderConnections = 2;
  size_t connections = RedisPool::kDefaultMaxOpen + kReaderConnections;  // pool + readers, >= 3
  // On a cluster, per master: its pool and the watcher's subscriber, at most
  // this many (or `connections` when smaller).
  static constexpr size_t kClusterConnectionsPerNode = 8;
};

class StreamReader;
class SlotWatcher;

class RedisStore final : public Store {
 public:
  // Connects once to check the URL and the server; fails with
  // "store_unavailable" when Redis cannot be reached.
  static Result<std::unique_ptr<RedisStore>> open(const RedisConfig& cfg, StoreLimits limits,
                                                  Clock clock = system_clock());
  ~RedisStore() override;

  int64_t now_ms() const override { return clock_(); }
  Result<void> ping() override;
  Result<void> agent_connect(const AgentInfo& info, const std::string& session) override;
  Result<bool> agent_heartbeat(const std::string& agent, const std::string& session) override;
  Result<std::vector<bool>> agent_heartbeats(const std::vector<Heartbeat>& batch) override;
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
  RedisStore(const RedisConfig& cfg, std::optional<RedisEndpoint> ep,
             std::unique_ptr<ClusterRouter> router, StoreLimits limits, Clock clock);
  // One command on the node of `key`; a MOVED or ASK is followed, any other
  // error reply is returned as a reply.
  Result<Reply> one(const std::string& key, const std::vector<std::string_view>& args);
  // Cluster only: tells the watchers of `key` on every node that it has news
  // (up to `last` when known); one Redis: nothing (its readers XREAD).
  void wake(RedisConn& c, const std::string& key, const std::string& last = "");

  // eval() for the transfer scripts that answer {'ok', meta...} or
  // {'err', code, detail}.
  Result<TransferInfo> transfer_script(const std::string& tid, const redis::Script& script,
                                       const std::vector<std::string>& args,
                                       redisReply** extra_out = nullptr, Reply* holder = nullptr);
  std::unique_ptr<Subscription> subscribe_stream(const std::string& rkey, StreamId from);
  // append()'s work on the transfer's node (`c`: its lease).
  Result<TransferInfo> append_on(RedisConn& c, const std::string& tid, const std::string& session,
                                 uint64_t first, const std::vector<Frame>& frames,
                                 const std::string& end_record);
  // Queues append_on()'s MULTI ... EXEC; how many commands follow the script.
  size_t queue_append(RedisConn& c, const std::string& tid, uint64_t first, const std::vector<Frame>& frames,
                      uint64_t bytes_after, const std::string& end_record);
  // Hands frames [first + 1, ...] and the end record that append() just
  // wrote to `ek` to this node's streams, and tells the transfer reader.
  // `c`: append()'s leased connection.
  void publish_appended(const std::string& ek, uint64_t first, const std::vector<Frame>& frames,
                        const std::string& end_record, RedisConn& c);
  // Rings the inbox doorbell for `agent` (after writing to its inbox).
  void ring(RedisConn& c, const std::string& agent);
  void remember(const TransferInfo& t);

  const RedisConfig cfg_;
  const StoreLimits limits_;
  const Clock clock_;
  std::unique_ptr<RedisPool> pool_;        // one Redis
  std::unique_ptr<ClusterRouter> router_;  // or a cluster
  RedisAccess db_;
  Hub hub_;
  // One Redis: XREAD readers.
  std::unique_ptr<StreamReader> inbox_reader_;
  std::unique_ptr<StreamReader> transfer_reader_;
  // A cluster: sharded pub/sub wake-ups.
  std::unique_ptr<SlotWatcher> watcher_;

  std::mutex seen_mu_;
  // Guarded by seen_mu_: state of transfers this node touched (for metrics).
  std::unordered_map<std::string, std::pair<State, int64_t>> seen_;

  // Uploads waiting in wait_transfer, by transfer: a change this node makes
  // to that transfer (a delivery, a finish) wakes its waiter at once instead
  // of at its next poll of Redis, and wakes no other.
  struct Waiters {
    std::condition_variable cv;
    uint64_t changes = 0;  // guarded by waiting_mu_
    int count = 0;         // guarded by waiting_mu_
  };
  std::mutex waiting_mu_;
  std::unordered_map<std::string, std::shared_ptr<Waiters>> waiting_;  // guarded by waiting_mu_
  void note_change(const std::string& tid);
};

}  // namespace sealrelay::relay
