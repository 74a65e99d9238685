#include "relay/presence.h"

#include <spdlog/spdlog.h>

#include <algorithm>

namespace sealrelay::relay {

void Presence::Registration::wake_through(std::weak_ptr<Mailbox> box) {
  std::lock_guard lk(mu_);
  box_ = std::move(box);
}

void Presence::Registration::supersede() {
  superseded_ = true;
  std::shared_ptr<Mailbox> box;
  {
    std::lock_guard lk(mu_);
    box = box_.lock();
  }
  if (box) box->poke();
}

Presence::Presence(Store& store, std::chrono::milliseconds interval)
    : store_(store),
      interval_(std::max(interval, std::chrono::milliseconds(1))),
      tick_(std::max(interval_ / 8, std::chrono::milliseconds(1))) {}

Presence::~Presence() { stop(); }

std::shared_ptr<Presence::Registration> Presence::add(std::string agent, std::string session) {
  auto reg = std::make_shared<Registration>(std::move(agent), std::move(session));
  std::lock_guard lk(mu_);
  push(SteadyClock::now() + interval_, reg);
  return reg;
}

void Presence::push(SteadyClock::time_point due, std::weak_ptr<Registration> reg) {
  if (!queue_.empty()) due = std::max(due, queue_.back().first);
  queue_.emplace_back(due, std::move(reg));
}

size_t Presence::registered() const {
  std::lock_guard lk(mu_);
  return static_cast<size_t>(std::count_if(queue_.begin(), queue_.end(),
                                           [](const Due& d) { return !d.second.expired(); }));
}

std::vector<std::shared_ptr<Presence::Registration>> Presence::take_due(SteadyClock::time_point until) {
  std::vector<std::shared_ptr<Registration>> batch;
  std::lock_guard lk(mu_);
  while (!queue_.empty() && queue_.front().first <= until && batch.size() < kMaxBatch) {
    // A stream that ended dropped its registration: it leaves the queue here.
    if (auto reg = queue_.front().second.lock(); reg && !reg->superseded()) batch.push_back(std::move(reg));
    queue_.pop_front();
  }
  return batch;
}

size_t Presence::refresh(SteadyClock::time_point now) {
  size_t sent = 0;
  for (;;) {
    auto batch = take_due(now + tick_);
    if (batch.empty()) return sent;
    send(batch, now + interval_);
    sent += batch.size();
  }
}

void Presence::send(const std::vector<std::shared_ptr<Registration>>& batch, SteadyClock::time_point next) {
  std::vector<Store::Heartbeat> beats;
  beats.reserve(batch.size());
  for (auto& reg : batch) beats.push_back({reg->agent_, reg->session_});
  auto alive = store_.agent_heartbeats(beats);
  if (!alive) {
    // Presence outlives two missed refreshes; the batch tries again next time.
    spdlog::warn("presence refresh of {} agents failed: {}", batch.size(), alive.error().message);
  }
  {
    std::lock_guard lk(mu_);
    for (size_t i = 0; i < batch.size(); ++i) {
      if (!alive || (*alive)[i]) push(next, batch[i]);
    }
  }
  for (size_t i = 0; alive && i < batch.size(); ++i) {
    if (!(*alive)[i]) batch[i]->supersede();
  }
}

void Presence::start() {
  std::lock_guard lk(mu_);
  if (thread_.joinable() || stopping_) return;
  thread_ = std::thread([this] {
    std::unique_lock lk(mu_);
    while (!stopping_) {
      cv_.wait_for(lk, tick_, [&] { return stopping_; });
      if (stopping_) break;
      lk.unlock();
      refresh();
      lk.lock();
    }
  });
}

void Presence::stop() {
  {
    std::lock_guard lk(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

}  // namespace sealrelay::relay
