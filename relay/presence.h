// Presence: keeps this node's connected agents online in the store, all of
// them from one thread, a batch at a time.
//
// An agent is online while its presence lives in the store (presence_ttl,
// three heartbeat intervals), so each control stream's presence is refreshed
// once per interval. Each stream's own thread used to do it: with 10,000
// idle agents on the Redis store, 10,000 round trips per interval on pooled
// connections, about half of the node's idle CPU (issue 20). Here one thread
// sends the refreshes that are due together (Store::agent_heartbeats: one
// pipeline per batch), waking every interval / 8, so a batch holds about an
// eighth of the node's agents and each refresh comes between 7/8 and 9/8 of
// an interval after the one before.
//
//   Presence presence(store, heartbeat);   // then start(), or refresh() by hand
//   auto reg = presence.add(agent, session);
//   reg->wake_through(subscription.watch());
//   ... if (reg->superseded()) end the stream;
//   reg.reset();                           // the stream is over: no more refreshes
//
// A refresh answered false (another session holds the agent: a newer stream
// took over, here or on another node) marks the registration superseded and
// pokes its stream's mailbox. A store error leaves the batch for the next
// interval (presence outlives two missed refreshes).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "relay/mailbox.h"
#include "relay/store.h"

namespace sealrelay::relay {

class Presence {
 public:
  using SteadyClock = std::chrono::steady_clock;

  // One control stream's presence, shared with the refresher.
  class Registration {
   public:
    Registration(std::string agent, std::string session)
        : agent_(std::move(agent)), session_(std::move(session)) {}
    // Another session holds the agent now: the stream should end.
    bool superseded() const { return superseded_.load(); }
    // The mailbox poked when the registration is superseded.
    void wake_through(std::weak_ptr<Mailbox> box);

   private:
    friend class Presence;
    void supersede();

    const std::string agent_;
    const std::string session_;
    std::atomic<bool> superseded_{false};
    std::mutex mu_;
    std::weak_ptr<Mailbox> box_;  // guarded by mu_
  };

  // Store calls per batch at most (one pipeline each on Redis).
  static constexpr size_t kMaxBatch = 512;

  Presence(Store& store, std::chrono::milliseconds interval);
  ~Presence();  // stops the thread
  Presence(const Presence&) = delete;
  Presence& operator=(const Presence&) = delete;

  // Refreshed every interval from now on, while the caller holds the pointer.
  std::shared_ptr<Registration> add(std::string agent, std::string session);
  // Refreshes every registration due by `now` + interval / 8 (what the
  // thread does at each wake); how many were sent to the store.
  size_t refresh(SteadyClock::time_point now = SteadyClock::now());
  // Runs refresh() every interval / 8 until stop().
  void start();
  void stop();
  size_t registered() const;

 private:
  using Due = std::pair<SteadyClock::time_point, std::weak_ptr<Registration>>;
  // The next batch: registrations due by `until` and still held.
  std::vector<std::shared_ptr<Registration>> take_due(SteadyClock::time_point until);
  void send(const std::vector<std::shared_ptr<Registration>>& batch, SteadyClock::time_point next);
  // Queues at `due`, or behind the last entry when that is later (one added
  // while a batch was out): the queue stays in due order.
  void push(SteadyClock::time_point due, std::weak_ptr<Registration> reg);

  Store& store_;
  const std::chrono::milliseconds interval_;
  const std::chrono::milliseconds tick_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  // Guarded by mu_, in due order (push()).
  std::deque<Due> queue_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace sealrelay::relay
