#include "bench/wan/delay_line.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace sealrelay::bench::wan {
namespace {

using Clock = std::chrono::steady_clock;

// What one direction may hold back: far more than the 50-100 KB a 5-20
// Mbit/s link has in flight over 40-80 ms, few enough that a stalled reader
// pushes back on the writer instead of the forwarder buffering a file.
constexpr size_t kMaxHeldBytes = 4u << 20;
constexpr size_t kChunkBytes = 64u << 10;

Error sys_error(const char* what) { return make_error("io", std::string(what) + ": " + std::strerror(errno)); }

void set_nodelay(int fd) {
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

bool write_all(int fd, const char* p, size_t n) {
  while (n > 0) {
    ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return false;
    p += w;
    n -= static_cast<size_t>(w);
  }
  return true;
}

Result<sockaddr_in> resolve(const Endpoint& e) {
  addrinfo hints{};
  hints.ai_family = AF_INET;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (getaddrinfo(e.host.c_str(), nullptr, &hints, &found) != 0 || !found)
    return make_error("bad_address", "cannot resolve \"" + e.host + "\": give an IPv4 address");
  sockaddr_in a{};
  std::memcpy(&a, found->ai_addr, sizeof a);
  freeaddrinfo(found);
  a.sin_port = htons(e.port);
  return a;
}

Result<int> connect_to(const Endpoint& e) {
  auto addr = resolve(e);
  if (!addr) return addr.error();
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return sys_error("socket");
  if (connect(fd, reinterpret_cast<const sockaddr*>(&*addr), sizeof *addr) != 0) {
    Error err = sys_error(("connect to " + e.host + ":" + std::to_string(e.port)).c_str());
    close(fd);
    return err;
  }
  set_nodelay(fd);
  return fd;
}

struct Chunk {
  Clock::time_point release;
  std::vector<char> bytes;  // empty: the sender closed its side
};

// One direction of a connection: a reader thread queues what it reads with
// its release time, a writer thread writes each chunk when it is due.
class Line {
 public:
  Line(int from, int to, std::chrono::milliseconds one_way, Clock::time_point not_before)
      : from_(from), to_(to), one_way_(one_way), not_before_(not_before) {}

  void read_loop() {
    for (;;) {
      std::vector<char> buf(kChunkBytes);
      ssize_t n = recv(from_, buf.data(), buf.size(), 0);
      if (n < 0 && errno == EINTR) continue;
      buf.resize(n > 0 ? static_cast<size_t>(n) : 0);
      std::unique_lock lock(mu_);
      room_.wait(lock, [&] { return held_ < kMaxHeldBytes || broken_; });
      if (broken_) return;
      held_ += buf.size();
      queue_.push_back({std::max(Clock::now(), not_before_) + one_way_, std::move(buf)});
      ready_.notify_one();
      if (n <= 0) return;
    }
  }

  // Returns false when the peer went away (the caller then breaks both lines).
  bool write_loop() {
    for (;;) {
      std::unique_lock lock(mu_);
      ready_.wait(lock, [&] { return !queue_.empty() || broken_; });
      if (broken_) return false;
      Chunk c = std::move(queue_.front());
      queue_.pop_front();
      lock.unlock();
      std::this_thread::sleep_until(c.release);
      if (c.bytes.empty()) {
        shutdown(to_, SHUT_WR);
        return true;
      }
      if (!write_all(to_, c.bytes.data(), c.bytes.size())) return false;
      lock.lock();
      held_ -= c.bytes.size();
      room_.notify_one();
    }
  }

  void break_line() {
    std::lock_guard lock(mu_);
    broken_ = true;
    ready_.notify_all();
    room_.notify_all();
  }

 private:
  const int from_, to_;
  const std::chrono::milliseconds one_way_;
  const Clock::time_point not_before_;
  std::mutex mu_;  // guards the following
  std::condition_variable ready_, room_;
  std::deque<Chunk> queue_;
  size_t held_ = 0;
  bool broken_ = false;
};

// Both directions of one accepted connection; owns the two sockets.
void join(int client, int server, std::chrono::milliseconds one_way) {
  auto accepted = Clock::now();
  // The client's first bytes leave after its handshake's round trip.
  Line up(client, server, one_way, accepted + 2 * one_way);
  Line down(server, client, one_way, accepted);
  auto run = [&](Line& line) {
    std::thread reader([&] { line.read_loop(); });
    bool clean = line.write_loop();
    if (!clean) {
      // The other side is gone: wake every thread of this connection.
      shutdown(client, SHUT_RDWR);
      shutdown(server, SHUT_RDWR);
      up.break_line();
      down.break_line();
    }
    reader.join();
  };
  std::thread other([&] { run(down); });
  run(up);
  other.join();
  close(client);
  close(server);
}

}  // namespace

Result<Endpoint> parse_endpoint(const std::string& text) {
  auto colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0)
    return make_error("bad_address", "\"" + text + "\" is not HOST:PORT (e.g. 10.9.0.2:8080)");
  int port = std::atoi(text.c_str() + colon + 1);
  if (port < 0 || port > 65535) return make_error("bad_address", "port out of range in \"" + text + "\"");
  return Endpoint{text.substr(0, colon), static_cast<uint16_t>(port)};
}

Result<Listener> Listener::open(const Endpoint& at) {
  auto addr = resolve(at);
  if (!addr) return addr.error();
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return sys_error("socket");
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in bound{};
  socklen_t len = sizeof bound;
  if (bind(fd, reinterpret_cast<const sockaddr*>(&*addr), sizeof *addr) != 0 || listen(fd, 64) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &len) != 0) {
    Error err = sys_error(("listen on " + at.host + ":" + std::to_string(at.port)).c_str());
    close(fd);
    return err;
  }
  return Listener(fd, ntohs(bound.sin_port));
}

Listener::~Listener() {
  if (fd_ >= 0) close(fd_);
}

Result<void> forward(const Listener& listener, const Endpoint& target, std::chrono::milliseconds one_way) {
  for (;;) {
    int client = accept4(listener.fd(), nullptr, nullptr, SOCK_CLOEXEC);
    if (client < 0 && errno == EINTR) continue;
    if (client < 0) return sys_error("accept");
    set_nodelay(client);
    auto server = connect_to(target);
    if (!server) {
      close(client);  // the client sees a reset, as from an unreachable server
      continue;
    }
    std::thread([client, fd = *server, one_way] { join(client, fd, one_way); }).detach();
  }
}

Result<void> echo(const Listener& listener) {
  for (;;) {
    int fd = accept4(listener.fd(), nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0 && errno == EINTR) continue;
    if (fd < 0) return sys_error("accept");
    set_nodelay(fd);
    std::thread([fd] {
      char buf[4096];
      ssize_t n;
      while ((n = recv(fd, buf, sizeof buf, 0)) > 0)
        if (!write_all(fd, buf, static_cast<size_t>(n))) break;
      close(fd);
    }).detach();
  }
}

Result<Ping> ping(const Endpoint& to, int count) {
  auto exchange = [](int fd) {
    char b = 'x';
    return write_all(fd, &b, 1) && recv(fd, &b, 1, MSG_WAITALL) == 1;
  };
  auto ms_since = [](Clock::time_point t) {
    return std::chrono::duration<double, std::milli>(Clock::now() - t).count();
  };
  auto t0 = Clock::now();
  auto fd = connect_to(to);
  if (!fd) return fd.error();
  Ping p;
  bool ok = exchange(*fd);
  p.first_ms = ms_since(t0);
  std::vector<double> rtts;
  for (int i = 0; ok && i < count; ++i) {
    auto t = Clock::now();
    ok = exchange(*fd);
    rtts.push_back(ms_since(t));
  }
  close(*fd);
  if (!ok || rtts.empty()) return make_error("io", "the echo through the forwarder stopped answering");
  std::sort(rtts.begin(), rtts.end());
  p.median_ms = rtts[rtts.size() / 2];
  p.min_ms = rtts.front();
  p.max_ms = rtts.back();
  return p;
}

}  // namespace sealrelay::bench::wan
