// The worker pool behind cpp-httplib, with admission counting.
//
// cpp-httplib 0.11.4 runs each connection on a pool thread for the
// connection's whole life (every SSE stream, every upload) and queues new
// connections without limit when all threads are busy: they hang, no 503
// (docs/dependencies.md §1.f). This pool has up to `workers`
// threads for up to `max_connections` connections plus headroom, counts the
// connections being served, and when every worker is busy runs a new
// connection on a short-lived overflow thread (at most `overflow`) so the
// relay can still answer it 503 at once (Server checks active() in its
// pre-routing guard).
//
// Workers are started on demand, when a connection finds none idle, and then
// stay: a node sized for 10,000 agents that holds 1,000 has ~1,000 threads,
// and a restarted node accepts at once instead of first starting 10,000
// threads (1.7 s here, while the listen backlog overflowed). A spawner
// thread starts them, so cpp-httplib's accept loop never waits for
// pthread_create (~150 us here) and keeps the kernel's accept queue short
// during a reconnect storm. Every thread gets a `stack_bytes` stack (pthread
// attributes; std::thread cannot).
#pragma once

#include <httplib.h>
#include <pthread.h>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <vector>

namespace sealrelay::relay {

class AdmissionPool final : public httplib::TaskQueue {
 public:
  // stack_bytes: at least PTHREAD_STACK_MIN; 0 keeps the default (RLIMIT_STACK, 8 MiB).
  AdmissionPool(size_t workers, size_t overflow, size_t stack_bytes);
  ~AdmissionPool() override;

  void enqueue(std::function<void()> fn) override;
  void shutdown() override;

  // Connections being served right now (pool and overflow threads).
  size_t active() const { return active_.load(); }
  // Worker threads started so far (they stay until shutdown).
  size_t workers_started() const;

 private:
  struct Overflow;
  static void* worker_main(void* self);
  static void* overflow_main(void* job);
  static void* spawner_main(void* self);
  void worker();
  void spawner();
  void run(std::function<void()>& fn);
  // Starts a thread with this pool's stack size; 0 or pthread_create's error.
  int start_thread(void* (*entry)(void*), void* arg, bool detached, pthread_t* out);

  const size_t workers_;
  const size_t overflow_max_;
  const size_t stack_bytes_;
  std::atomic<size_t> active_{0};
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::condition_variable spawn_cv_;
  std::condition_variable overflow_done_;
  // Guarded by mu_:
  std::deque<std::function<void()>> jobs_;
  size_t idle_ = 0;
  size_t to_start_ = 0;  // workers asked of the spawner, not started yet
  size_t starting_ = 0;  // workers started by pthread_create, not yet waiting for jobs
  size_t spawned_ = 0;   // workers pthread_create started (threads_ once the spawner records them)
  pthread_t spawner_{};
  bool spawner_running_ = false;
  size_t overflow_running_ = 0;
  bool shutdown_ = false;
  bool refused_logged_ = false;
  std::vector<pthread_t> threads_;  // workers; joined by shutdown()
};

}  // namespace sealrelay::relay
