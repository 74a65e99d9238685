// Counters for /metrics (Prometheus text format 0.0.4). Labels are fixed
// words (route patterns, states, error codes): never an agent id, transfer id,
// token, path or name.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>

#include "relay/store.h"

namespace sealrelay::relay {

struct Metrics {
  std::atomic<int64_t> agents_online{0};
  std::atomic<int64_t> control_streams{0};
  std::atomic<int64_t> event_streams{0};
  std::atomic<int64_t> uploads{0};
  std::atomic<int64_t> queue_frames{0};  // undelivered frames over uploads on this node
  std::atomic<uint64_t> frames_committed{0};
  std::atomic<uint64_t> bytes_committed{0};
  std::atomic<uint64_t> frames_streamed{0};
  std::atomic<uint64_t> bytes_streamed{0};

  void error(const std::string& code);
  void request(const std::string& route, int status);

  // The whole exposition; `connections` and `by_state` are sampled by the caller.
  std::string render(int64_t connections, const std::array<uint64_t, kStateCount>& by_state);

 private:
  std::mutex mu_;
  std::map<std::string, uint64_t> errors_;                      // guarded by mu_
  std::map<std::pair<std::string, int>, uint64_t> requests_;   // guarded by mu_
};

}  // namespace sealrelay::relay
