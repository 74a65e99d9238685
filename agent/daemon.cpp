#include "agent/daemon.h"

#include <spdlog/spdlog.h>

#include <cmath>
#include <thread>

#include "agent/relay_json.h"
#include "base/base64.h"
#include "base/ids.h"
#include "base/log_format.h"
#include "proto/errors.h"

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

namespace {

// Runs one transfer on its worker thread and logs what it came to. Nothing
// may escape a thread (std::terminate would end the agent): whatever the
// handler throws — it should not; this is the one place that makes sure —
// is logged as the transfer's result.
void run_transfer(TransferHandler& handler, const std::string& tid, std::span<const uint8_t> msg1,
                  const std::atomic<bool>& cancel, bool over, bool answer_in_upload) noexcept {
  auto started = std::chrono::steady_clock::now();
  TransferRecord r;
  r.transfer_id = tid;
  try {
    r = handler.handle(tid, msg1, cancel, over, answer_in_upload);
  } catch (const std::exception& e) {
    r.result = "internal";
    r.message = std::string("unexpected exception: ") + e.what();
  } catch (...) {
    r.result = "internal";
    r.message = "unexpected exception";
  }
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  try {
    // Local log only: paths never go to the relay in clear. Every string
    // here may come from a peer: fields, so they are escaped (log_format.h).
    logging::log(spdlog::level::info, "transfer " + r.transfer_id,
                 {{"requester", r.requester.empty() ? "-" : r.requester},
                  {"comment", r.comment},
                  {"op", r.op.empty() ? "-" : r.op},
                  {"path", r.path.empty() ? "-" : r.path},
                  {"bytes", r.bytes},
                  {"seconds", std::round(secs * 100) / 100},
                  {"result", r.result},
                  {"reason", r.message}});
  } catch (...) {
  }
}

}  // namespace

void Daemon::start_transfer(const std::string& tid, std::vector<uint8_t> msg1, bool answer_in_upload) {
  std::lock_guard lock(mu_);
  reap_locked(false);
  if (!seen_.insert(tid).second) return;  // a replayed control event
  seen_order_.push_back(tid);
  if (seen_order_.size() > kRememberedTransfers) {
    seen_.erase(seen_order_.front());
    seen_order_.pop_front();
  }
  size_t serving = 0, refusing = 0;
  for (const auto& w : workers_) ++(w.refusing ? refusing : serving);
  const bool over = serving >= config_.max_transfers;
  if (over && refusing >= config_.max_refusing) {
    uint64_t n = dropped_.fetch_add(1) + 1;
    logging::log(spdlog::level::warn, "transfer " + tid + " dropped: the agent is at capacity",
                 {{"serving", serving}, {"refusing", refusing}, {"dropped_total", n}});
    return;
  }
  Worker& w = workers_.emplace_back();
  w.transfer_id = tid;
  w.refusing = over;
  w.thread = std::thread([this, tid, msg1 = std::move(msg1), cancel = w.cancel, finished = w.finished, over,
                          answer_in_upload] {
    run_transfer(handler_, tid, msg1, *cancel, over, answer_in_upload);
    finished->store(true);
  });
}

bool Daemon::on_event(sse::Event&& e) {
  if (stopping_.load()) return false;
  if (e.name == "transfer" || e.name == "cancel") {
    // Typed reads only: the relay may send anything (agent/relay_json.h).
    auto j = nlohmann::json::parse(e.data, nullptr, false);
    const std::string what = e.name + " event";
    auto tid = relay_field<std::string>(j, what.c_str(), "transfer_id");
    if (tid && !ids::valid_transfer_id(*tid)) tid = make_error(kBadRelayReply, "a malformed transfer id");
    if (!tid) {
      logging::log(spdlog::level::warn, "ignoring a malformed " + e.name + " event from the relay",
                   {{"reason", tid.error().message}});
    } else if (e.name == "cancel") {
      std::lock_guard lock(mu_);
      for (auto& w : workers_) {
        if (w.transfer_id == *tid) w.cancel->store(true);
      }
    } else {
      auto msg1_text = relay_field<std::string>(j, what.c_str(), "msg1");
      std::vector<uint8_t> msg1;
      if (!msg1_text || !base64::decode_into(*msg1_text, msg1) || msg1.empty() ||
          msg1.size() > protocol::kMaxNoiseMessageBytes) {
        spdlog::warn("ignoring transfer {}: its message 1 is not valid base64 of 1..65535 bytes", *tid);
      } else {
        // Set by relays that take the answer inside the frame upload
        // (docs/api.md); anything but true: the answer goes on its own.
        auto in_upload = relay_field<bool>(j, what.c_str(), "answer_in_upload", false);
        start_transfer(*tid, std::move(msg1), in_upload && *in_upload);
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
      auto level = errors::is(r.error(), ErrorCode::network) ? spdlog::level::warn : spdlog::level::err;
      logging::log(level, "control stream lost; retrying",
                   {{"code", r.error().code},
                    {"reason", r.error().message},
                    {"retry_ms", std::chrono::duration_cast<std::chrono::milliseconds>(delay).count()}});
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
