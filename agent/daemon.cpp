#include "agent/daemon.h"

#include <spdlog/spdlog.h>

#include <thread>

#include "proto/base64.h"

namespace sealrelay::agent {
namespace {
constexpr size_t kRememberedTransfers = 4096;
constexpr auto kHealthyStream = std::chrono::seconds(10);
}  // namespace

Daemon::Daemon(DaemonConfig config, const Identity& identity, TransferHandler& handler, const Clock& clock, Rng& rng)
    : config_(std::move(config)), identity_(identity), handler_(handler), clock_(clock), rng_(rng) {}

Daemon::~Daemon() {
  stop();
  std::lock_guard lock(mu_);
  reap_locked(true);
}

void Daemon::stop() {
  stopping_.store(true);
  std::lock_guard lock(mu_);
  if (control_) control_->stop();
  for (auto& w : workers_) w.cancel->store(true);
}

void Daemon::reap_locked(bool all) {
  for (auto it = workers_.begin(); it != workers_.end();) {
    if (all || it->finished->load()) {
      if (it->thread.joinable()) it->thread.join();
      it = workers_.erase(it);
    } else {
      ++it;
    }
  }
}

void Daemon::start_transfer(const std::string& tid, std::vector<uint8_t> msg1) {
  std::lock_guard lock(mu_);
  reap_locked(false);
  if (!seen_.insert(tid).second) return;  // a replayed control event
  seen_order_.push_back(tid);
  if (seen_order_.size() > kRememberedTransfers) {
    seen_.erase(seen_order_.front());
    seen_order_.pop_front();
  }
  bool over = workers_.size() >= config_.max_transfers;
  Worker& w = workers_.emplace_back();
  w.transfer_id = tid;
  w.thread = std::thread([this, tid, msg1 = std::move(msg1), cancel = w.cancel, finished = w.finished, over] {
    auto started = std::chrono::steady_clock::now();
    TransferRecord r = handler_.handle(tid, msg1, *cancel, over);
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    // Local log only: paths never go to the relay in clear.
    spdlog::info("transfer {} requester={}{} op={} path={} bytes={} seconds={:.2f} result={}{}", r.transfer_id,
                 r.requester, r.comment.empty() ? "" : " (" + r.comment + ")", r.op.empty() ? "-" : r.op,
                 r.path.empty() ? "-" : r.path, r.bytes, secs, r.result,
                 r.message.empty() ? "" : ": " + r.message);
    finished->store(true);
  });
}

bool Daemon::on_event(sse::Event&& e) {
  if (stopping_.load()) return false;
  if (e.name == "transfer" || e.name == "cancel") {
    auto j = nlohmann::json::parse(e.data, nullptr, false);
    std::string tid = j.is_object() && j.value("transfer_id", nlohmann::json()).is_string()
                          ? j["transfer_id"].get<std::string>()
                          : "";
    if (tid.empty()) {
      spdlog::warn("ignoring a malformed {} event from the relay", e.name);
    } else if (e.name == "cancel") {
      std::lock_guard lock(mu_);
      for (auto& w : workers_) {
        if (w.transfer_id == tid) w.cancel->store(true);
      }
    } else {
      std::vector<uint8_t> msg1;
      if (!j.value("msg1", nlohmann::json()).is_string() || !base64::decode_into(j["msg1"].get<std::string>(), msg1) ||
          msg1.empty() || msg1.size() > protocol::kMaxNoiseMessageBytes) {
        spdlog::warn("ignoring transfer {}: its message 1 is not valid base64 of 1..65535 bytes", tid);
      } else {
        start_transfer(tid, std::move(msg1));
      }
    }
  }
  if (!e.id.empty()) last_event_id_ = e.id;
  return !stopping_.load();
}

void Daemon::run() {
  Backoff backoff(config_.backoff, clock_, rng_);
  const Headers headers{{"X-Sealrelay-Public-Key", encode_public_key(identity_.public_key)},
                        {"X-Sealrelay-Version", config_.version}};
  spdlog::info("agent {} connecting to {}", fingerprint_of(identity_.public_key), config_.relay.url);
  while (!stopping_.load()) {
    auto client = RelayClient::create(config_.relay);
    if (!client) {
      spdlog::error("{}", client.error().message);
      return;
    }
    {
      std::lock_guard lock(mu_);
      if (stopping_.load()) break;
      control_ = client->get();
    }
    auto opened = std::chrono::steady_clock::now();
    connections_.fetch_add(1);
    auto r = (*client)->stream("/v1/agent/control", last_event_id_, headers,
                               [this](sse::Event&& e) { return on_event(std::move(e)); });
    {
      std::lock_guard lock(mu_);
      control_ = nullptr;
      reap_locked(false);
    }
    if (stopping_.load()) break;
    if (std::chrono::steady_clock::now() - opened >= kHealthyStream) backoff.reset();
    auto delay = backoff.next_delay();
    if (!r) {
      auto level = r.error().code == "network" ? spdlog::level::warn : spdlog::level::err;
      spdlog::log(level, "control stream: {} ({}); retrying in {} ms", r.error().message, r.error().code,
                  std::chrono::duration_cast<std::chrono::milliseconds>(delay).count());
    } else {
      spdlog::info("control stream closed by the relay; reconnecting in {} ms",
                   std::chrono::duration_cast<std::chrono::milliseconds>(delay).count());
    }
    auto until = std::chrono::steady_clock::now() + delay;
    while (!stopping_.load() && std::chrono::steady_clock::now() < until) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }
  std::lock_guard lock(mu_);
  for (auto& w : workers_) w.cancel->store(true);
  reap_locked(true);
}

}  // namespace sealrelay::agent
