// ControlClients: many agent control streams (GET /v1/agent/control) held
// by one thread over epoll, for relay_bench's idle-agent table and its
// reconnect storm.
//
// 10,000 real sealrelay-agent processes are too many for one machine, so
// each "agent" here is a raw non-blocking socket that sends the same request
// the agent sends (Bearer token, X-Sealrelay-Public-Key) and counts as
// *streaming* once the relay has answered 200 (the relay answers only after
// it has registered the agent in its store). Heartbeats are read and dropped.
//
// When a stream or an attempt fails the client reconnects as told:
//   agent_backoff: the real agent's schedule (agent/backoff.h with the
//                  daemon's defaults: decorrelated jitter, base 0.5 s, cap
//                  60 s, reset after a stream that lasted 10 s, five
//                  retries in the first envelope), so after a relay restart
//                  the first five retries come 0.5-1.5 s apart, then grow;
//   held:          wait for release(), then all connect in the same instant
//                  (retrying a refused attempt every 100 ms).
//
// Source addresses cycle over 127.0.0.1..127.0.0.<source_addrs> with
// IP_BIND_ADDRESS_NO_PORT, so 10,000 streams plus a restart's TIME_WAITs
// never run out of ephemeral ports. Not thread-safe: one thread calls
// everything (the sockets sit untouched between run_until calls).
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <queue>
#include <string>
#include <utility>
#include <vector>

#include "agent/backoff.h"
#include "base/clock.h"

namespace sealrelay::bench {

class ControlClients {
 public:
  using Clock = std::chrono::steady_clock;
  enum class Reconnect { agent_backoff, held };

  // One client per token; none connects before open().
  ControlClients(int port, std::vector<std::string> tokens, int source_addrs);
  ~ControlClients();  // closes every socket
  ControlClients(const ControlClients&) = delete;
  ControlClients& operator=(const ControlClients&) = delete;

  // Starts clients [0, n) that have not started yet, at most `inflight`
  // handshakes at a time (run_until keeps the queue moving).
  void open(size_t n, size_t inflight);
  void set_reconnect(Reconnect r) {
    reconnect_ = r;
    released_ = false;
  }
  void set_port(int port) { port_ = port; }
  // Held clients connect now, all of them (no inflight limit), and so does
  // any stream lost from now on (its end may be read after the release).
  void release();

  // Serves sockets until done() is true or `timeout` passes; `tick` runs
  // between event batches (at least every 10 ms). Returns done().
  bool run_until(const std::function<bool()>& done, Clock::duration timeout,
                 const std::function<void()>& tick = {});

  size_t streaming() const { return streaming_; }
  size_t size() const { return clients_.size(); }
  // Since the last reset_counters(): failed attempts (refused, reset,
  // timed out), non-200 answers (e.g. 503), streams lost, and the time the
  // last client came back to streaming.
  struct Counters {
    size_t failed_attempts = 0;
    size_t refused_answers = 0;
    size_t lost_streams = 0;
    Clock::time_point last_back{};
    std::map<std::string, size_t> answers;  // non-200 status lines ("HTTP/1.1 503 ...")
    std::map<std::string, size_t> failures;  // failed attempts by what failed
    // Of every stream opened: when its successful attempt started (connect)
    // and when the 200 came. Separates time spent waiting in the backoff
    // schedule from time spent waiting for the relay.
    std::vector<std::pair<Clock::time_point, Clock::time_point>> opened;
  };
  const Counters& counters() const { return counters_; }
  void reset_counters() { counters_ = {}; }

 private:
  enum class State { unstarted, queued, connecting, head, streaming, waiting, held };
  struct Client {
    int fd = -1;
    State state = State::unstarted;
    std::string head;
    Clock::time_point retry_at{};
    Clock::time_point opened_at{};
    Clock::time_point attempt_at{};  // start() of the current attempt
    std::unique_ptr<agent::Backoff> backoff;
  };

  void start(size_t i);
  void on_event(size_t i, uint32_t events);
  void fail(size_t i, bool was_streaming);
  void pump_queue();
  void close_fd(Client& c);

  int port_;
  const int source_addrs_;
  std::vector<std::string> tokens_;
  std::vector<Client> clients_;
  const int epfd_;
  Reconnect reconnect_ = Reconnect::agent_backoff;
  bool released_ = false;  // held mode: release() has been called
  size_t inflight_limit_ = 0;  // 0: unlimited
  size_t inflight_ = 0;        // connecting or awaiting the answer head
  std::vector<size_t> queue_;  // queued clients, started in order
  size_t queue_at_ = 0;
  // Waiting clients by retry time (stale entries skipped: state or time differ).
  using Timer = std::pair<Clock::time_point, size_t>;
  std::priority_queue<Timer, std::vector<Timer>, std::greater<Timer>> timers_;
  size_t streaming_ = 0;
  Counters counters_;
  std::string public_key_b64_;
  SteadyClock clock_;
  SystemRng rng_;
};

}  // namespace sealrelay::bench
