// Drives a real sealrelay-relay process over HTTP for the integration tests.
#pragma once

#include <httplib.h>

#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "proto/sse.h"
#include "tests/support/support.h"

namespace sealrelay::test {

using nlohmann::json;

// A relay process on 127.0.0.1, port 0, with a tokens file in `dir`.
class Relay {
 public:
  // Extra flags are appended (e.g. {"--redis", url}). Heartbeats default to
  // 0.2 s so idle paths run quickly. Fails the test if it does not start.
  static std::unique_ptr<Relay> start(const std::string& dir, std::vector<std::string> extra = {},
                                      const std::string& name = "relay");
  int port() const { return port_; }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  Process& process() { return *proc_; }
  // sealrelay-relay token ... against this relay's tokens file; returns stdout trimmed.
  static std::string token(const std::string& dir, std::vector<std::string> args);

 private:
  int port_ = 0;
  std::unique_ptr<Process> proc_;
};

struct Reply {
  int status = 0;  // 0: no HTTP answer (connection error)
  json body;
  std::string raw;
  httplib::Headers headers;
};

// One JSON call. `body` null = no body.
Reply call(int port, const std::string& method, const std::string& path, const std::string& token,
           const json& body = nullptr, httplib::Headers extra = {});

// 32 random bytes as standard base64 (an agent public key).
std::string random_key_b64();
std::string b64(std::string_view bytes);
std::string unb64(const std::string& text);  // aborts the test on bad base64
std::string random_bytes(size_t n);

// Reads one SSE stream on a background thread.
class SseReader {
 public:
  SseReader(int port, const std::string& path, httplib::Headers headers);
  ~SseReader();
  // Waits until `pred(events)` holds; false on timeout.
  bool wait(const std::function<bool(const std::vector<sse::Event>&)>& pred,
            std::chrono::milliseconds timeout = 10s);
  bool wait_count(size_t n, std::chrono::milliseconds timeout = 10s) {
    return wait([n](auto& ev) { return ev.size() >= n; }, timeout);
  }
  // Waits for the relay to end the stream.
  bool wait_closed(std::chrono::milliseconds timeout = 10s);
  std::vector<sse::Event> events();
  int status();
  std::string raw();  // everything received (heartbeats included)
  void stop();        // closes the connection from this side
  // Optional per-chunk hook on the reader thread (e.g. to read slowly).
  std::function<void()> on_chunk;

 private:
  std::unique_ptr<httplib::Client> cli_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<sse::Event> events_;
  std::string raw_;
  int status_ = 0;
  bool closed_ = false;
  std::thread thread_;
};

// The agent side of one relay: control stream + answer + upload.
struct Agent {
  int port;
  std::string token;
  std::string id;
  std::string key = random_key_b64();
  std::unique_ptr<SseReader> control;

  void connect(const std::string& last_event_id = "");
  // Frames as records (+ end record when `end`), chunked. Returns the reply.
  // With `answer`: X-Sealrelay-Answer: record, and it goes first (message 2).
  Reply upload(const std::string& tid, uint64_t first, const std::vector<std::string>& frames,
               bool end, const std::optional<std::string>& answer = std::nullopt);
  Reply answer(const std::string& tid, const std::string& msg2);
};

// Frames i..i+n of a test transfer: varied sizes, every byte value.
std::vector<std::string> test_frames(size_t n, size_t max_size = 70000);

}  // namespace sealrelay::test
