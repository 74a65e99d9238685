// RelayClient: how the agent and the CLI speak to the relay's HTTP API
// (docs/api.md): JSON calls, SSE streams and streaming uploads, with the
// token, TLS verification and timeouts set once. One client per thread or
// per concurrent stream: a client does one request at a time.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "base/result.h"
#include "proto/event_stream.h"
#include "proto/sse.h"

namespace sealrelay {

struct RelayConfig {
  std::string url;           // http://host:port or https://host:port
  std::string token;         // sent as Authorization: Bearer; may be empty with a client certificate
  std::string ca_file;       // https: CA bundle to verify the relay; empty: the system's
  std::string client_cert;   // https: PEM client certificate (agent mTLS), optional
  std::string client_key;
  // The HTTP proxy to the relay (proto/proxy.h): "" the environment's
  // HTTPS_PROXY/HTTP_PROXY/NO_PROXY, "direct" none, or
  // http://[USER:PASSWORD@]HOST[:PORT]. Its credentials are never logged,
  // and never sent inside the tunnel to an https relay.
  std::string proxy;
  std::chrono::seconds connect_timeout{5};
  std::chrono::seconds read_timeout{60};   // longer than the relay's heartbeat interval
  std::chrono::seconds write_timeout{300}; // uploads wait out the relay's backpressure
};

// Error codes a RelayClient returns besides the relay's own (docs/api.md §Errors):
//   network        could not connect, or the connection broke
//   proxy          the proxy refused to carry the connection (its credentials)
//   tls            the relay's certificate did not verify
//   bad_response   the relay answered something that is not its API
//   bad_stream     an event stream broke the SSE parser's limits (an event
//                  larger than anything the API sends): not worth a retry
using Headers = std::vector<std::pair<std::string, std::string>>;

// Accept header of a requester's transfer event stream: the binary stream
// (proto/event_stream.h), else SSE.
inline const std::pair<std::string, std::string> kAcceptEvents{
    "Accept", std::string(event_stream::kContentType) + ", " + std::string(sse::kContentType)};

class RelayClient {
 public:
  // Fails with bad_config on a URL that is not http(s)://host[:port], on a
  // proxy that is not http://host[:port] (proto/proxy.h), and
  // for https on a CA file, client certificate or key that does not load
  // (or a key that is not the certificate's). The first call sets SIGPIPE
  // to ignored for the process: a relay closing a TLS connection mid-write
  // is then an error of the call, not the death of the program.
  static Result<std::unique_ptr<RelayClient>> create(const RelayConfig& config);
  ~RelayClient();

  const RelayConfig& config() const { return config_; }
  // The proxy in use, without credentials ("" when none): for logs.
  std::string proxy_display() const;

  // A JSON call. `body` may be null. Returns the JSON reply of a 2xx status;
  // other statuses become the relay's {error, message}.
  Result<nlohmann::json> call(const std::string& method, const std::string& path, const nlohmann::json* body = nullptr,
                              const Headers& headers = {});

  // Opens an event stream at `path` (with Last-Event-ID when not empty) and
  // hands each event to `on_event` until it returns false (result: true),
  // the relay closes the stream (result: false), or it breaks (error).
  // It asks for SSE unless `headers` has an Accept of its own (kAcceptEvents:
  // the binary event stream where the relay offers it); it reads whichever
  // format the relay answers with.
  Result<bool> stream(const std::string& path, const std::string& last_event_id, const Headers& headers,
                      const std::function<bool(sse::Event&&)>& on_event);

  // POSTs a streaming body (chunked): `next` appends the next bytes to its
  // argument and returns true, or returns false when the body is complete.
  // Returns the JSON reply once the relay answers.
  Result<nlohmann::json> upload(const std::string& path, const Headers& headers,
                                const std::function<bool(std::string&)>& next);

  // Interrupts a call blocked in another thread; the client is unusable after.
  void stop();

 private:
  struct Impl;
  RelayClient(RelayConfig config, std::unique_ptr<Impl> impl);
  RelayConfig config_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace sealrelay
