#include "relay/metrics.h"

namespace sealrelay::relay {

void Metrics::error(const std::string& code) {
  std::lock_guard lk(mu_);
  errors_[code]++;
}

void Metrics::request(const std::string& route, int status) {
  std::lock_guard lk(mu_);
  requests_[{route, status}]++;
}

std::string Metrics::render(int64_t connections,
                            const std::array<uint64_t, kStateCount>& by_state) {
  std::string o;
  auto gauge = [&](const char* name, const char* help, int64_t v) {
    o += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " gauge\n" + name + " " +
         std::to_string(v) + "\n";
  };
  auto counter = [&](const char* name, const char* help, uint64_t v) {
    o += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " counter\n" + name +
         " " + std::to_string(v) + "\n";
  };
  gauge("sealrelay_agents_online", "Agent control streams open on this node.", agents_online);
  o += "# HELP sealrelay_transfers Transfers by state, as far as this node's store can tell.\n"
       "# TYPE sealrelay_transfers gauge\n";
  for (int i = 0; i < kStateCount; ++i) {
    o += std::string("sealrelay_transfers{state=\"") + to_string(static_cast<State>(i)) + "\"} " +
         std::to_string(by_state[i]) + "\n";
  }
  counter("sealrelay_frames_committed_total", "Frames received from agents.", frames_committed);
  counter("sealrelay_bytes_committed_total", "Opaque frame bytes received from agents.",
          bytes_committed);
  counter("sealrelay_frames_streamed_total", "Frames written to requester streams.",
          frames_streamed);
  counter("sealrelay_bytes_streamed_total", "SSE bytes of frames written to requester streams.",
          bytes_streamed);
  gauge("sealrelay_queue_frames", "Undelivered frames summed over the uploads on this node.",
        queue_frames);
  o += "# HELP sealrelay_streams Long-lived requests open on this node.\n"
       "# TYPE sealrelay_streams gauge\n";
  o += "sealrelay_streams{kind=\"control\"} " + std::to_string(control_streams) + "\n";
  o += "sealrelay_streams{kind=\"events\"} " + std::to_string(event_streams) + "\n";
  o += "sealrelay_streams{kind=\"upload\"} " + std::to_string(uploads) + "\n";
  gauge("sealrelay_connections", "HTTP connections being served.", connections);
  std::lock_guard lk(mu_);
  o += "# HELP sealrelay_errors_total Error answers and stream errors by code.\n"
       "# TYPE sealrelay_errors_total counter\n";
  for (auto& [code, n] : errors_) {
    o += "sealrelay_errors_total{kind=\"" + code + "\"} " + std::to_string(n) + "\n";
  }
  o += "# HELP sealrelay_requests_total Requests by route pattern and status.\n"
       "# TYPE sealrelay_requests_total counter\n";
  for (auto& [key, n] : requests_) {
    o += "sealrelay_requests_total{route=\"" + key.first + "\",code=\"" +
         std::to_string(key.second) + "\"} " + std::to_string(n) + "\n";
  }
  return o;
}

}  // namespace sealrelay::relay
