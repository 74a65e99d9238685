#include "relay/admission.h"

#include <limits.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>

namespace sealrelay::relay {

struct AdmissionPool::Overflow {
  AdmissionPool* pool;
  std::function<void()> fn;
};

AdmissionPool::AdmissionPool(size_t workers, size_t overflow, size_t stack_bytes)
    : workers_(workers), overflow_max_(overflow),
      stack_bytes_(stack_bytes == 0 ? 0 : std::max<size_t>(stack_bytes, PTHREAD_STACK_MIN)) {
  std::lock_guard lk(mu_);
  int rc = start_thread(&AdmissionPool::spawner_main, this, false, &spawner_);
  if (rc != 0) {
    spdlog::error("cannot start the worker spawner thread: {}", std::strerror(rc));
    std::abort();  // the relay cannot serve anything without it
  }
  spawner_running_ = true;
}

AdmissionPool::~AdmissionPool() { shutdown(); }

size_t AdmissionPool::workers_started() const {
  std::lock_guard lk(mu_);
  return threads_.size();
}

int AdmissionPool::start_thread(void* (*entry)(void*), void* arg, bool detached, pthread_t* out) {
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  if (stack_bytes_ != 0) pthread_attr_setstacksize(&attr, stack_bytes_);
  if (detached) pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  pthread_t t;
  int rc = pthread_create(&t, &attr, entry, arg);
  pthread_attr_destroy(&attr);
  if (rc == 0 && out) *out = t;
  return rc;
}

void* AdmissionPool::worker_main(void* self) {
  static_cast<AdmissionPool*>(self)->worker();
  return nullptr;
}

void* AdmissionPool::spawner_main(void* self) {
  static_cast<AdmissionPool*>(self)->spawner();
  return nullptr;
}

void AdmissionPool::spawner() {
  std::unique_lock lk(mu_);
  for (;;) {
    spawn_cv_.wait(lk, [&] { return shutdown_ || to_start_ > 0; });
    if (shutdown_) return;
    --to_start_;
    ++starting_;
    ++spawned_;  // counted now: the worker may be waiting before it is in threads_
    lk.unlock();
    pthread_t t;
    int rc = start_thread(&AdmissionPool::worker_main, this, false, &t);
    lk.lock();
    if (rc == 0) {
      threads_.push_back(t);
      continue;
    }
    --starting_;
    --spawned_;
    if (!refused_logged_) {
      refused_logged_ = true;
      spdlog::warn("cannot start worker thread {} of {} ({}): check ulimit -u, kernel.threads-max, "
                   "kernel.pid_max, memory; retrying", threads_.size() + 1, workers_, std::strerror(rc));
    }
    // The job that asked for this worker still waits, and a busy worker may
    // hold a stream for hours: ask again shortly (EAGAIN passes when the
    // threads of a killed predecessor are reaped, or pid_max has room again).
    ++to_start_;
    spawn_cv_.wait_for(lk, std::chrono::milliseconds(50), [&] { return shutdown_; });
  }
}

void* AdmissionPool::overflow_main(void* job) {
  auto* o = static_cast<Overflow*>(job);
  AdmissionPool* pool = o->pool;
  pool->run(o->fn);
  delete o;
  std::lock_guard g(pool->mu_);
  --pool->overflow_running_;
  pool->overflow_done_.notify_all();
  return nullptr;
}

void AdmissionPool::run(std::function<void()>& fn) {
  ++active_;
  fn();
  --active_;
}

void AdmissionPool::worker() {
  std::unique_lock lk(mu_);
  --starting_;
  for (;;) {
    ++idle_;
    cv_.wait(lk, [&] { return shutdown_ || !jobs_.empty(); });
    --idle_;
    if (jobs_.empty()) return;  // shutdown with nothing left
    auto fn = std::move(jobs_.front());
    jobs_.pop_front();
    lk.unlock();
    run(fn);
    fn = nullptr;  // the connection's captures go now, not at the next job
    lk.lock();
  }
}

void AdmissionPool::enqueue(std::function<void()> fn) {
  std::unique_lock lk(mu_);
  // Workers that will look at the queue: waiting, or on their way.
  size_t coming = idle_ + starting_ + to_start_;
  if (shutdown_ || coming > jobs_.size()) {
    jobs_.push_back(std::move(fn));
    lk.unlock();
    cv_.notify_one();
    return;
  }
  // No worker free or coming: have one started while the pool is below its
  // size. It takes the job from the queue like any other worker.
  if (spawned_ + to_start_ < workers_) {
    ++to_start_;
    jobs_.push_back(std::move(fn));
    lk.unlock();
    spawn_cv_.notify_one();
    return;
  }
  // Every worker is busy: serve this connection on its own thread (it will
  // most likely be told 503 and go away).
  if (overflow_running_ < overflow_max_) {
    auto* o = new Overflow{this, std::move(fn)};
    if (start_thread(&AdmissionPool::overflow_main, o, true, nullptr) == 0) {
      ++overflow_running_;
      return;
    }
    fn = std::move(o->fn);
    delete o;
  }
  jobs_.push_back(std::move(fn));  // waits for a worker
  lk.unlock();
  cv_.notify_one();
}

void AdmissionPool::shutdown() {
  bool join_spawner = false;
  {
    std::unique_lock lk(mu_);
    shutdown_ = true;
    join_spawner = spawner_running_;
    spawner_running_ = false;
  }
  spawn_cv_.notify_all();
  if (join_spawner) pthread_join(spawner_, nullptr);
  std::vector<pthread_t> threads;
  {
    std::unique_lock lk(mu_);
    threads.swap(threads_);
  }
  cv_.notify_all();
  for (auto& t : threads) pthread_join(t, nullptr);
  std::unique_lock lk(mu_);
  overflow_done_.wait(lk, [&] { return overflow_running_ == 0; });
}

}  // namespace sealrelay::relay
