#include "relay/mailbox.h"

#include <charconv>

namespace sealrelay::relay {
namespace {

bool parse_u64(std::string_view s, uint64_t& out) {
  if (s.empty() || s.size() > 20) return false;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && p == s.data() + s.size();
}

}  // namespace

std::optional<StreamId> StreamId::parse(std::string_view s) {
  StreamId id;
  size_t dash = s.find('-');
  if (dash == std::string_view::npos) {
    if (!parse_u64(s, id.ms)) return std::nullopt;
    return id;
  }
  if (!parse_u64(s.substr(0, dash), id.ms) || !parse_u64(s.substr(dash + 1), id.seq)) {
    return std::nullopt;
  }
  return id;
}

void Mailbox::push(const Entry& e) {
  {
    std::lock_guard lk(mu_);
    if (closed_ || e.id <= newest_) return;  // already pushed (it came from two sources)
    newest_ = e.id;
    size_t size = e.payload ? e.payload->size() : 0;
    if (lagged_ || (bytes_ + size > max_bytes_ && !entries_.empty())) {
      entries_.clear();
      bytes_ = 0;
      lagged_ = true;
    } else {
      entries_.push_back(e);
      bytes_ += size;
    }
  }
  cv_.notify_one();
}

void Mailbox::poke() {
  {
    std::lock_guard lk(mu_);
    poked_ = true;
  }
  cv_.notify_one();
}

void Mailbox::close() {
  {
    std::lock_guard lk(mu_);
    closed_ = true;
  }
  cv_.notify_all();
}

Mailbox::Batch Mailbox::wait(std::chrono::milliseconds timeout) {
  std::unique_lock lk(mu_);
  cv_.wait_for(lk, timeout, [&] { return closed_ || lagged_ || poked_ || !entries_.empty(); });
  Batch b;
  b.closed = closed_;
  b.lagged = lagged_;
  b.poked = poked_;
  b.entries.assign(std::make_move_iterator(entries_.begin()),
                   std::make_move_iterator(entries_.end()));
  entries_.clear();
  bytes_ = 0;
  lagged_ = false;
  poked_ = false;
  return b;
}

bool Hub::subscribe(const std::string& key, const std::shared_ptr<Mailbox>& box) {
  std::lock_guard lk(mu_);
  auto& set = subs_[key];
  set.insert(box);
  return set.size() == 1;
}

bool Hub::unsubscribe(const std::string& key, const std::shared_ptr<Mailbox>& box) {
  std::lock_guard lk(mu_);
  auto it = subs_.find(key);
  if (it == subs_.end()) return true;
  it->second.erase(box);
  if (it->second.empty()) {
    subs_.erase(it);
    return true;
  }
  return false;
}

void Hub::publish(const std::string& key, const Entry& e) {
  std::lock_guard lk(mu_);
  auto it = subs_.find(key);
  if (it == subs_.end()) return;
  for (auto& box : it->second) box->push(e);
}

void Hub::poke(const std::string& key) {
  std::lock_guard lk(mu_);
  auto it = subs_.find(key);
  if (it == subs_.end()) return;
  for (auto& box : it->second) box->poke();
}

void Hub::close_all() {
  std::lock_guard lk(mu_);
  for (auto& [key, set] : subs_) {
    for (auto& box : set) box->close();
  }
}

std::vector<std::string> Hub::keys() const {
  std::lock_guard lk(mu_);
  std::vector<std::string> out;
  out.reserve(subs_.size());
  for (auto& [key, set] : subs_) out.push_back(key);
  return out;
}

size_t Hub::subscribers() const {
  std::lock_guard lk(mu_);
  size_t n = 0;
  for (auto& [key, set] : subs_) n += set.size();
  return n;
}

}  // namespace sealrelay::relay
