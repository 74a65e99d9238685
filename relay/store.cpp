#include "relay/store.h"

namespace sealrelay::relay {

Clock system_clock() {
  return [] {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  };
}

const char* to_string(State s) {
  switch (s) {
    case State::requested: return "requested";
    case State::answered: return "answered";
    case State::uploading: return "uploading";
    case State::complete: return "complete";
    case State::failed: return "failed";
    case State::cancelled: return "cancelled";
    case State::expired: return "expired";
  }
  return "unknown";
}

// One call each: the embedded store has no round trip to save.
Result<std::vector<bool>> Store::agent_heartbeats(const std::vector<Heartbeat>& batch) {
  std::vector<bool> alive;
  alive.reserve(batch.size());
  for (auto& h : batch) {
    auto one = agent_heartbeat(h.agent, h.session);
    if (!one) return one.error();
    alive.push_back(*one);
  }
  return alive;
}

bool is_terminal(State s) {
  return s == State::complete || s == State::failed || s == State::cancelled ||
         s == State::expired;
}

}  // namespace sealrelay::relay
