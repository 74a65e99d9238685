// A relay that lies: an HTTP proxy on loopback between the requester (the
// real CLI) or the agent and the real relay, playing the relay operator gone
// bad. It forwards every call, and lets a test rewrite what a malicious
// relay could: the agent directory, the transfer creations (it sees every
// message 1), and the events of every stream — a transfer's answer and
// frames replaced, changed, reordered, dropped, duplicated, spliced, the
// stream ended early; an agent's control stream fed hostile requests.
//
//   LyingRelay liar(sys->port());
//   liar.rewrite_events = [](sse::Event e, const LyingRelay::Emit& emit) { ... emit(e); };
//   sys->cli({"--url", liar.url(), "get", ...});
//
// Everything runs on cpp-httplib threads of this process; the upstream reads
// of a stream end when its downstream client goes away or at destruction.
#pragma once

#include <httplib.h>

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "proto/sse.h"

namespace sealrelay::test {

class LyingRelay {
 public:
  // Sends one event to the requester.
  using Emit = std::function<void(const sse::Event&)>;
  // Sees every event of every stream, in order; emits what the client gets
  // instead (nothing, the event, others). `tid` says which transfer ("" for
  // an agent's control stream). Unset: events pass unchanged.
  using RewriteEvents = std::function<void(const std::string& tid, sse::Event e, const Emit& emit)>;

  explicit LyingRelay(int upstream_port);
  ~LyingRelay();
  LyingRelay(const LyingRelay&) = delete;
  LyingRelay& operator=(const LyingRelay&) = delete;

  int port() const { return port_; }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }

  // Speak the binary event stream (proto/event_stream.h) on a transfer's
  // events when the requester asks for it, as the real relay does; false:
  // always SSE. Either way the hooks see SSE-shaped events (a frame's data
  // in base64) and what they emit is sent in the stream's format.
  bool binary_events = true;

  // Hooks; set them before the requester (or agent) starts.
  RewriteEvents rewrite_events;
  // Called once when a stream (a transfer's events, or an agent's control
  // stream: path "/v1/agent/control") is opened to the client, before any
  // upstream event: events emitted here go first.
  std::function<void(const std::string& path, const Emit& emit)> on_stream_open;
  std::function<void(nlohmann::json& directory)> rewrite_agents;  // GET /v1/agents reply body
  std::function<void(nlohmann::json& create)> rewrite_create;     // POST /v1/transfers request body
  // The agent's calls about a transfer (POST .../answer, POST .../frames,
  // GET /v1/agent/transfers/<tid>), before they are forwarded: a Reply
  // returned goes to the agent instead (nothing is forwarded); nullopt:
  // forwarded as usual. Runs on the proxy's threads and may block there to
  // hold the agent's call.
  struct Reply {
    int status = 200;
    std::string body;
  };
  std::function<std::optional<Reply>(const std::string& method, const std::string& path)> answer_agent_call;

  // What passed through (thread-safe copies).
  struct Created {
    std::string transfer_id, agent, msg1, token;  // msg1 as base64, token as sent
  };
  std::vector<Created> created();
  // Events as the real relay sent them, per stream opened (each reconnect is
  // a new entry).
  std::vector<std::vector<sse::Event>> upstream_streams();
  int transfer_posts() const { return transfer_posts_.load(); }

 private:
  struct Stream;
  void forward(const httplib::Request& req, httplib::Response& res);
  void events(const httplib::Request& req, httplib::Response& res);

  int upstream_port_;
  int port_ = 0;
  httplib::Server server_;
  std::thread thread_;
  std::atomic<bool> stopping_{false};
  std::atomic<int> transfer_posts_{0};
  std::mutex mu_;
  std::vector<Created> created_;                        // Guarded by mu_
  std::vector<std::vector<sse::Event>> upstream_;        // Guarded by mu_
  std::vector<std::shared_ptr<Stream>> streams_;         // Guarded by mu_
};

// The stream as a relay renders it (event, id, data lines, blank line).
std::string render(const sse::Event& e);

}  // namespace sealrelay::test
