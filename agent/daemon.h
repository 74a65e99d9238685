// Daemon: the agent's control loop. Holds the relay's control stream open,
// reconnecting forever with backoff and jitter and Last-Event-ID, and runs
// each transfer request on its own thread through the TransferHandler, up
// to a limit (docs/api.md §control stream). The relay is not trusted with
// the agent's resources: past max_transfers a request is answered `busy`
// on one of at most max_refusing more threads, and past those it is
// dropped (counted and logged) without a thread, so a flood of control
// events cannot exhaust the agent's threads.
#pragma once

#include <atomic>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>

#include "agent/backoff.h"
#include "agent/transfer_handler.h"
#include "base/clock.h"

namespace sealrelay::agent {

struct DaemonConfig {
  RelayConfig relay;           // read_timeout must exceed the relay's heartbeat interval
  std::string version = "sealrelay-agent/0.1.0";
  size_t max_transfers = 4;
  // Requests over capacity being answered `busy` at once (each a handshake
  // and two short calls to the relay); beyond that they are dropped.
  size_t max_refusing = 2;
  BackoffConfig backoff;
};

class Daemon {
 public:
  // Everything passed by reference must outlive the daemon.
  Daemon(DaemonConfig config, const Identity& identity, TransferHandler& handler, const Clock& clock, Rng& rng);
  ~Daemon();

  // Runs until stop(); returns after every transfer thread has ended.
  void run();
  // Ends run() soon: cancels transfers and breaks the control stream. Safe
  // from any thread (not from a signal handler).
  void stop();

  // Control streams opened so far, for tests and logs.
  uint64_t connections() const { return connections_.load(); }
  // Transfer requests dropped because every thread was taken.
  uint64_t dropped() const { return dropped_.load(); }

 private:
  struct Worker {
    std::string transfer_id;
    std::shared_ptr<std::atomic<bool>> cancel = std::make_shared<std::atomic<bool>>(false);
    std::shared_ptr<std::atomic<bool>> finished = std::make_shared<std::atomic<bool>>(false);
    bool refusing = false;  // Answering `busy`, not serving.
    std::thread thread;
  };
  bool on_event(sse::Event&& event);
  void start_transfer(const std::string& tid, std::vector<uint8_t> msg1, bool answer_in_upload);
  void reap_locked(bool all);

  const DaemonConfig config_;
  const Identity& identity_;
  TransferHandler& handler_;
  const Clock& clock_;
  Rng& rng_;
  std::atomic<bool> stopping_{false};
  std::atomic<uint64_t> connections_{0};
  std::atomic<uint64_t> dropped_{0};
  std::string last_event_id_;  // Owned by the run() thread

  std::mutex mu_;
  RelayClient* control_ = nullptr;     // Guarded by mu_: the stream to break on stop()
  std::list<Worker> workers_;          // Guarded by mu_
  std::set<std::string> seen_;         // Guarded by mu_: transfer ids already started
  std::list<std::string> seen_order_;  // Guarded by mu_: bounds seen_
};

}  // namespace sealrelay::agent
