#include "tests/security/tcp_balancer.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>

#include "tests/support/support.h"

namespace sealrelay::test {
namespace {

// Copies what is readable on `from` to `to`; false when `from` ended or
// either side failed.
bool copy(int from, int to) {
  char buf[64 * 1024];
  ssize_t n = ::recv(from, buf, sizeof buf, 0);
  if (n <= 0) return false;
  for (ssize_t done = 0; done < n;) {
    ssize_t w = ::send(to, buf + done, static_cast<size_t>(n - done), MSG_NOSIGNAL);
    if (w <= 0) return false;
    done += w;
  }
  return true;
}

}  // namespace

TcpBalancer::TcpBalancer(std::vector<int> backend_ports) : backends_(std::move(backend_ports)) {
  listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int yes = 1;
  ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(listen_fd_, 512) != 0) {
    std::abort();
  }
  socklen_t len = sizeof a;
  ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&a), &len);
  port_ = ntohs(a.sin_port);
  acceptor_ = std::thread([this] { accept_loop(); });
}

TcpBalancer::~TcpBalancer() {
  stopping_ = true;
  if (acceptor_.joinable()) acceptor_.join();
  ::close(listen_fd_);
  std::list<Pipe> pipes;
  {
    std::lock_guard lk(mu_);
    pipes.swap(pipes_);
  }
  for (auto& p : pipes) p.thread.join();
}

void TcpBalancer::prefer(std::vector<int> backend_ports) {
  std::lock_guard lk(mu_);
  backends_ = std::move(backend_ports);
}

void TcpBalancer::accept_loop() {
  while (!stopping_) {
    pollfd p{listen_fd_, POLLIN, 0};
    if (::poll(&p, 1, 100) <= 0) continue;
    int client = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (client < 0) continue;
    ++accepted_;
    std::lock_guard lk(mu_);
    for (auto it = pipes_.begin(); it != pipes_.end();) {
      if (it->done->load()) {
        it->thread.join();
        it = pipes_.erase(it);
      } else {
        ++it;
      }
    }
    auto done = std::make_shared<std::atomic<bool>>(false);
    pipes_.push_back(Pipe{std::thread([this, client, done] {
                            pipe(client);
                            done->store(true);
                          }),
                          done});
  }
}

void TcpBalancer::pipe(int client) {
  std::vector<int> order;
  {
    std::lock_guard lk(mu_);
    order = backends_;
  }
  int backend = -1;
  for (int port : order) {
    if ((backend = connect_loopback(port)) >= 0) break;
  }
  if (backend < 0) {
    ++refused_;
    ::close(client);  // like a balancer with no healthy backend: the client sees a reset
    return;
  }
  pollfd fds[2] = {{client, POLLIN, 0}, {backend, POLLIN, 0}};
  while (!stopping_) {
    int n = ::poll(fds, 2, 100);
    if (n < 0 && errno != EINTR) break;
    if (n <= 0) continue;
    if ((fds[0].revents & (POLLIN | POLLHUP | POLLERR)) && !copy(client, backend)) break;
    if ((fds[1].revents & (POLLIN | POLLHUP | POLLERR)) && !copy(backend, client)) break;
  }
  // Either side gone: end both, as a balancer does when a backend dies.
  ::shutdown(client, SHUT_RDWR);
  ::shutdown(backend, SHUT_RDWR);
  ::close(client);
  ::close(backend);
}

}  // namespace sealrelay::test
