// The worker pool behind cpp-httplib, with admission counting.
//
// cpp-httplib 0.11.4 runs each connection on a pool thread for the
// connection's whole life (every SSE stream, every upload) and queues new
// connections without limit when all threads are busy: they hang, no 503
// (shared/reference/dependencies.md §1.f). This pool has `workers` threads
// for up to `max_connections` connections plus headroom, counts the
// connections being served, and when every worker is busy runs a new
// connection on a short-lived overflow thread (at most `overflow`) so the
// relay can still answer it 503 at once (Server checks active() in its
// pre-routing guard).
#pragma once

#include <httplib.h>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace sealrelay::relay {

class AdmissionPool final : public httplib::TaskQueue {
 public:
  AdmissionPool(size_t workers, size_t overflow);
  ~AdmissionPool() override;

  void enqueue(std::function<void()> fn) override;
  void shutdown() override;

  // Connections being served right now (pool and overflow threads).
  size_t active() const { return active_.load(); }

 private:
  void worker();
  void run(std::function<void()>& fn);

  const size_t workers_;
  const size_t overflow_max_;
  std::atomic<size_t> active_{0};
  std::mutex mu_;
  std::condition_variable cv_;
  std::condition_variable overflow_done_;
  // Guarded by mu_:
  std::deque<std::function<void()>> jobs_;
  size_t idle_ = 0;
  size_t overflow_running_ = 0;
  bool shutdown_ = false;
  std::vector<std::thread> threads_;  // fixed workers; joined by shutdown()
};

}  // namespace sealrelay::relay
