// The WAN benchmark's round-trip time. This machine's kernel has tbf and htb
// but no netem, so the delay is added by a TCP forwarder of our own: every
// chunk it reads is held for `one_way` before it is written on, in each
// direction, so a request and its answer take one round trip more than over
// the bare link. The link's rate stays tc's business (the forwarder writes
// into the shaped interface as fast as the kernel takes the bytes).
//
// It splits TCP in two, so TCP's own round trips would cost nothing: a
// connect() towards the forwarder returns at once. To charge a new
// connection its handshake as a real path would, bytes the client sends are
// not released before one round trip after the accept, plus the one-way
// delay (SYN, SYN-ACK, then the first data). What it cannot reproduce is
// slow start over the long path: a bulk transfer ramps up at the local legs'
// pace (at 5-20 Mbit/s and 40-80 ms the window that fills the link is 50-100
// KB, which Linux reaches within a few round trips anyway).
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include "base/result.h"

namespace sealrelay::bench::wan {

struct Endpoint {
  std::string host;
  uint16_t port = 0;
};
// "HOST:PORT" (IPv4 literal or name).
Result<Endpoint> parse_endpoint(const std::string& text);

// A listening socket on `at` (port 0 picks one; `bound_port` says which).
class Listener {
 public:
  static Result<Listener> open(const Endpoint& at);
  Listener(Listener&& other) noexcept : fd_(other.fd_), port_(other.port_) { other.fd_ = -1; }
  Listener& operator=(Listener&&) = delete;
  Listener(const Listener&) = delete;
  ~Listener();
  int fd() const { return fd_; }
  uint16_t bound_port() const { return port_; }

 private:
  Listener(int fd, uint16_t port) : fd_(fd), port_(port) {}
  int fd_;
  uint16_t port_;
};

// Accepts on `listener` forever; each connection is joined to a new
// connection to `target` through two delay lines of `one_way` each. Returns
// only when accept() fails.
Result<void> forward(const Listener& listener, const Endpoint& target, std::chrono::milliseconds one_way);

// Echoes every byte back on each accepted connection, forever.
Result<void> echo(const Listener& listener);

// Round trips measured through `to` (an echo server behind the forwarder):
// a connect and its first 1-byte echo, then `count` more 1-byte echoes.
struct Ping {
  double first_ms = 0;   // connect → first echo (handshake + one exchange)
  double median_ms = 0;  // one exchange on the open connection
  double min_ms = 0;
  double max_ms = 0;
};
Result<Ping> ping(const Endpoint& to, int count);

}  // namespace sealrelay::bench::wan
