#include "relay/admission.h"

namespace sealrelay::relay {

AdmissionPool::AdmissionPool(size_t workers, size_t overflow)
    : workers_(workers), overflow_max_(overflow) {
  std::lock_guard lk(mu_);
  for (size_t i = 0; i < workers_; ++i) threads_.emplace_back([this] { worker(); });
}

AdmissionPool::~AdmissionPool() { shutdown(); }

void AdmissionPool::run(std::function<void()>& fn) {
  ++active_;
  fn();
  --active_;
}

void AdmissionPool::worker() {
  std::unique_lock lk(mu_);
  for (;;) {
    ++idle_;
    cv_.wait(lk, [&] { return shutdown_ || !jobs_.empty(); });
    --idle_;
    if (jobs_.empty()) return;  // shutdown with nothing left
    auto fn = std::move(jobs_.front());
    jobs_.pop_front();
    lk.unlock();
    run(fn);
    lk.lock();
  }
}

void AdmissionPool::enqueue(std::function<void()> fn) {
  std::unique_lock lk(mu_);
  if (idle_ > jobs_.size() || overflow_running_ >= overflow_max_ || shutdown_) {
    jobs_.push_back(std::move(fn));
    lk.unlock();
    cv_.notify_one();
    return;
  }
  // Every worker is busy: serve this connection on its own thread (it will
  // most likely be told 503 and go away).
  ++overflow_running_;
  std::thread([this, fn = std::move(fn)]() mutable {
    run(fn);
    std::lock_guard g(mu_);
    --overflow_running_;
    overflow_done_.notify_all();
  }).detach();
}

void AdmissionPool::shutdown() {
  std::vector<std::thread> threads;
  {
    std::unique_lock lk(mu_);
    if (shutdown_ && threads_.empty()) return;
    shutdown_ = true;
    threads.swap(threads_);
  }
  cv_.notify_all();
  for (auto& t : threads) t.join();
  std::unique_lock lk(mu_);
  overflow_done_.wait(lk, [&] { return overflow_running_ == 0; });
}

}  // namespace sealrelay::relay
