#include "bench/relay/control_clients.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "base/base64.h"

namespace sealrelay::bench {

namespace {

constexpr auto kHealthyStream = std::chrono::seconds(10);  // agent/daemon.cpp
constexpr auto kHeldRetry = std::chrono::milliseconds(100);

// "HTTP/1.1 503 Service Unavailable (overloaded)": the status line and the
// relay's error code when the body's start came with the head.
std::string answer_of(const std::string& head) {
  std::string out = head.substr(0, head.find('\r'));
  auto at = head.find("\"error\":\"");
  if (at == std::string::npos) return out;
  at += 9;
  return out + " (" + head.substr(at, head.find('"', at) - at) + ")";
}

}  // namespace

ControlClients::ControlClients(int port, std::vector<std::string> tokens, int source_addrs)
    : port_(port), source_addrs_(std::max(1, source_addrs)), tokens_(std::move(tokens)),
      clients_(tokens_.size()), epfd_(::epoll_create1(EPOLL_CLOEXEC)) {
  if (epfd_ < 0) std::abort();
  std::string key(32, '\x5a');
  public_key_b64_ = base64::encode(std::string_view(key));
  for (auto& c : clients_) c.backoff = std::make_unique<agent::Backoff>(agent::BackoffConfig{}, clock_, rng_);
}

ControlClients::~ControlClients() {
  for (auto& c : clients_) close_fd(c);
  ::close(epfd_);
}

void ControlClients::close_fd(Client& c) {
  if (c.fd < 0) return;
  ::close(c.fd);  // also leaves the epoll set
  c.fd = -1;
}

void ControlClients::open(size_t n, size_t inflight) {
  inflight_limit_ = inflight;
  for (size_t i = 0; i < std::min(n, clients_.size()); ++i) {
    if (clients_[i].state != State::unstarted) continue;
    clients_[i].state = State::queued;
    queue_.push_back(i);
  }
  pump_queue();
}

void ControlClients::pump_queue() {
  while (queue_at_ < queue_.size() && (inflight_limit_ == 0 || inflight_ < inflight_limit_)) {
    size_t i = queue_[queue_at_++];
    if (clients_[i].state == State::queued) start(i);
  }
  if (queue_at_ == queue_.size()) {
    queue_.clear();
    queue_at_ = 0;
  }
}

void ControlClients::release() {
  inflight_limit_ = 0;
  released_ = true;
  for (size_t i = 0; i < clients_.size(); ++i) {
    if (clients_[i].state == State::held) start(i);
  }
}

void ControlClients::start(size_t i) {
  Client& c = clients_[i];
  c.head.clear();
  c.attempt_at = Clock::now();
  c.fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (c.fd < 0) {
    std::perror("socket");
    std::abort();  // out of descriptors: the bench's own limit is wrong
  }
  int one = 1;
  ::setsockopt(c.fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
  sockaddr_in src{};
  src.sin_family = AF_INET;
  src.sin_addr.s_addr = htonl(INADDR_LOOPBACK + static_cast<uint32_t>(i % static_cast<size_t>(source_addrs_)));
  if (::bind(c.fd, reinterpret_cast<sockaddr*>(&src), sizeof src) != 0) {
    std::perror("bind 127.0.0.x");
    std::abort();
  }
  sockaddr_in dst{};
  dst.sin_family = AF_INET;
  dst.sin_port = htons(static_cast<uint16_t>(port_));
  dst.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ++inflight_;
  c.state = State::connecting;
  if (::connect(c.fd, reinterpret_cast<sockaddr*>(&dst), sizeof dst) != 0 && errno != EINPROGRESS) {
    ++counters_.failures[std::string("connect: ") + std::strerror(errno)];
    fail(i, false);
    return;
  }
  epoll_event ev{};
  ev.events = EPOLLOUT;
  ev.data.u64 = i;
  ::epoll_ctl(epfd_, EPOLL_CTL_ADD, c.fd, &ev);
}

void ControlClients::fail(size_t i, bool was_streaming) {
  Client& c = clients_[i];
  close_fd(c);
  if (was_streaming) {
    --streaming_;
    ++counters_.lost_streams;
  } else {
    --inflight_;
    ++counters_.failed_attempts;
  }
  auto now = Clock::now();
  if (reconnect_ == Reconnect::held) {
    if (was_streaming && !released_) {
      c.state = State::held;
      return;
    }
    c.state = State::waiting;
    c.retry_at = was_streaming ? now : now + kHeldRetry;
  } else {
    // agent/daemon.cpp: a stream that lasted kHealthyStream restarts the
    // schedule; then Backoff::next_delay() as the agent calls it.
    if (was_streaming && now - c.opened_at >= kHealthyStream) c.backoff->reset();
    c.state = State::waiting;
    c.retry_at = now + c.backoff->next_delay();
  }
  timers_.emplace(c.retry_at, i);
  pump_queue();
}

void ControlClients::on_event(size_t i, uint32_t events) {
  Client& c = clients_[i];
  if (c.fd < 0) return;
  if (c.state == State::connecting) {
    int err = 0;
    socklen_t len = sizeof err;
    ::getsockopt(c.fd, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err != 0 || (events & (EPOLLERR | EPOLLHUP))) {
      ++counters_.failures[std::string("connect: ") + (err ? std::strerror(err) : "hang-up")];
      return fail(i, false);
    }
    std::string req = "GET /v1/agent/control HTTP/1.1\r\nHost: relay\r\nAuthorization: Bearer " +
                      tokens_[i] + "\r\nX-Sealrelay-Public-Key: " + public_key_b64_ +
                      "\r\nX-Sealrelay-Version: relay_bench\r\n\r\n";
    if (::send(c.fd, req.data(), req.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(req.size())) {
      ++counters_.failures["send request"];
      return fail(i, false);
    }
    c.state = State::head;
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = i;
    ::epoll_ctl(epfd_, EPOLL_CTL_MOD, c.fd, &ev);
    return;
  }
  char buf[4096];
  for (;;) {
    ssize_t n = ::recv(c.fd, buf, sizeof buf, 0);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      if (c.state != State::streaming) {
        ++counters_.failures[n == 0 ? "closed before the answer" : std::string("before the answer: ") + std::strerror(errno)];
      }
      return fail(i, c.state == State::streaming);
    }
    if (c.state != State::head) continue;  // heartbeats (or events): dropped
    c.head.append(buf, static_cast<size_t>(n));
    if (c.head.find("\r\n\r\n") == std::string::npos) continue;
    if (c.head.rfind("HTTP/1.1 200", 0) != 0) {
      ++counters_.refused_answers;
      ++counters_.answers[answer_of(c.head)];
      return fail(i, false);
    }
    c.head.clear();
    c.head.shrink_to_fit();
    c.state = State::streaming;
    c.opened_at = Clock::now();
    c.backoff->succeeded();
    --inflight_;
    ++streaming_;
    counters_.last_back = c.opened_at;
    counters_.opened.emplace_back(c.attempt_at, c.opened_at);
    pump_queue();
  }
}

bool ControlClients::run_until(const std::function<bool()>& done, Clock::duration timeout,
                               const std::function<void()>& tick) {
  auto deadline = Clock::now() + timeout;
  std::vector<epoll_event> evs(1024);
  while (!done() && Clock::now() < deadline) {
    auto now = Clock::now();
    while (!timers_.empty() && timers_.top().first <= now) {
      auto [at, i] = timers_.top();
      timers_.pop();
      if (clients_[i].state == State::waiting && clients_[i].retry_at == at) start(i);
    }
    auto wait = std::chrono::milliseconds(10);
    if (!timers_.empty()) {
      auto until = std::chrono::duration_cast<std::chrono::milliseconds>(timers_.top().first - now);
      wait = std::clamp(until, std::chrono::milliseconds(0), wait);
    }
    int n = ::epoll_wait(epfd_, evs.data(), static_cast<int>(evs.size()), static_cast<int>(wait.count()));
    for (int k = 0; k < n; ++k) on_event(static_cast<size_t>(evs[k].data.u64), evs[k].events);
    if (tick) tick();
  }
  return done();
}

}  // namespace sealrelay::bench
