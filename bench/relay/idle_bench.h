// relay_bench's idle part: many agent control streams held open on one
// relay node (relay RSS, threads, CPU over a quiet interval, Redis clients
// and memory), then a reconnect storm (the node SIGKILLed and started again
// on the same port, the clients reconnecting on the agent's own backoff or
// all at once), optionally beside a CPU hog. One table per store: embedded,
// one Redis, a Redis Cluster.
#pragma once

#include <string>
#include <vector>

#include "tests/support/support.h"

namespace sealrelay::bench {

struct IdleOptions {
  std::vector<size_t> counts;            // rows of the table, ascending
  int quiet_seconds = 30;                // CPU is measured over this
  size_t storm = 0;                      // clients in the reconnect storm (0: none)
  std::vector<std::string> storm_modes;  // "agent", "at-once"
  size_t max_connections = 0;            // relay --max-connections
  int source_addrs = 16;                 // 127.0.0.1..N as client source addresses
  int hog = 0;                           // busy loops beside the storm
  int hog_nice = 0;                      // their niceness above relay_bench's
};

// The store a relay under test runs on.
struct Backend {
  std::string name;                            // "memory store", "Redis store", ...
  std::vector<std::string> relay_args;         // e.g. {"--redis", url}
  std::vector<test::RedisServer*> nodes;       // INFO is summed over these; empty: embedded
};

void idle_streams(const IdleOptions& o, const Backend& backend);

}  // namespace sealrelay::bench
