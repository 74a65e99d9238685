// A tiny TCP load balancer on loopback, standing in for the one in front of a
// real relay cluster: it accepts on one port and pipes each connection to
// the first backend (in preference order) that accepts. When a backend dies,
// its connections break, and clients that reconnect land on a live one —
// so a test can kill -9 the relay node serving a transfer and see the CLI
// and the agent carry on through the other node, as they would in
// production. Bounded: one thread per piped connection, ended with it.
#pragma once

#include <atomic>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace sealrelay::test {

class TcpBalancer {
 public:
  // Listens on 127.0.0.1, any free port.
  explicit TcpBalancer(std::vector<int> backend_ports);
  ~TcpBalancer();
  TcpBalancer(const TcpBalancer&) = delete;
  TcpBalancer& operator=(const TcpBalancer&) = delete;

  int port() const { return port_; }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  // New connections try the backends in this order (thread-safe).
  void prefer(std::vector<int> backend_ports);
  // Connections accepted so far, and how many found no live backend.
  int accepted() const { return accepted_.load(); }
  int refused() const { return refused_.load(); }

 private:
  void accept_loop();
  void pipe(int client);

  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stopping_{false};
  std::atomic<int> accepted_{0}, refused_{0};
  std::mutex mu_;
  std::vector<int> backends_;         // Guarded by mu_
  struct Pipe {
    std::thread thread;
    std::shared_ptr<std::atomic<bool>> done;
  };
  std::list<Pipe> pipes_;             // Guarded by mu_; finished ones are reaped on accept
  std::thread acceptor_;
};

}  // namespace sealrelay::test
