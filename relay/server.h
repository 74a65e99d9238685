// The relay's HTTP front: thin glue between cpp-httplib and the relay's
// modules (transfers.h, upload_session.h, event_pump.h). It owns the
// cpp-httplib server and the policies applied before a route runs (auth,
// admission, limits, rate); each route reads its request, calls a module
// and maps the module's error value to an HTTP answer (docs/api.md).
//
//   Server s(cfg, std::move(store), tokens);
//   auto port = s.bind();      // logs "listening on HOST:PORT"
//   s.run();                   // blocks until stop() (from any thread)
//
// Threads: cpp-httplib runs every connection on an AdmissionPool worker; one
// housekeeping thread sweeps the store and the rate limiters each second.
#pragma once

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <span>
#include <string>
#include <thread>
#include <variant>

#include "base/result.h"
#include "proto/errors.h"
#include "relay/config.h"
#include "relay/leases.h"
#include "relay/presence.h"
#include "relay/metrics.h"
#include "relay/rate_limit.h"
#include "relay/store.h"
#include "relay/tokens.h"
#include "relay/transfers.h"

namespace httplib {
class Server;
struct Request;
struct Response;
class ContentReader;
}  // namespace httplib

namespace sealrelay::relay {

class AdmissionPool;

class Server {
 public:
  using Handler = void (Server::*)(const httplib::Request&, httplib::Response&);
  using StreamingHandler = void (Server::*)(const httplib::Request&, httplib::Response&,
                                            const httplib::ContentReader&);
  // One route of docs/api.md: registered from this table, named by it in
  // metrics, and checked against docs/api.md's route list by a test.
  struct Route {
    const char* method;  // GET, POST, DELETE
    const char* path;    // as docs/api.md writes it; {tid} is one path segment
    std::variant<Handler, StreamingHandler> handler;  // streaming: reads its own body
  };
  static std::span<const Route> routes();
  // The metrics label of a request: "METHOD path" of its route, else
  // "METHOD /v1/other" under /v1/ and "METHOD static" elsewhere (no ids).
  static std::string route_name(const std::string& method, const std::string& path);

  Server(Config cfg, std::unique_ptr<Store> store, std::shared_ptr<TokenVerifier> tokens);
  ~Server();

  // Binds the listen address; returns the bound port.
  Result<int> bind();
  // Serves until stop(). Returns false if serving failed.
  bool run();
  // Thread-safe; ends streams promptly and makes run() return.
  void stop();

  Store& store() { return *store_; }

 private:
  // server.cpp: the server, its hooks, and the checks before a route.
  void hooks();
  void register_routes();
  // Guards run before routing (no body read yet): admission, header count,
  // body framing, per-IP rate.
  bool pre_route(const httplib::Request& req, httplib::Response& res);
  // Authenticates and rate-limits; on failure writes the error and returns nullopt.
  std::optional<Principal> auth(const httplib::Request& req, httplib::Response& res,
                                TokenKind want);
  std::optional<Principal> certificate_principal(const httplib::Request& req,
                                                 httplib::Response& res);
  // A lease on the token that authenticated `who` (on "" for a client
  // certificate, which no revocation names); nullptr when the token was
  // revoked since verify(): then the caller answers 401.
  std::shared_ptr<Leases::Lease> lease_for(const Principal& who);
  // Ends the streams and uploads of tokens revoked in the tokens file.
  void end_revoked();
  void housekeeping();
  // The error answer of docs/api.md: {"error", "message"} and `more`, with
  // the code's status from the error table (proto/errors.h).
  void fail(httplib::Response& res, ErrorCode code, const std::string& message,
            nlohmann::json more = nlohmann::json::object());
  void fail(httplib::Response& res, const Error& e);
  static void send_json(httplib::Response& res, int status, const nlohmann::json& j);

  // server_routes.cpp: one handler per route of the table.
  void healthz(const httplib::Request& req, httplib::Response& res);
  void readyz(const httplib::Request& req, httplib::Response& res);
  void metrics(const httplib::Request& req, httplib::Response& res);
  void list_agents(const httplib::Request& req, httplib::Response& res);
  void create_transfer(const httplib::Request& req, httplib::Response& res);
  void list_transfers(const httplib::Request& req, httplib::Response& res);
  void get_transfer(const httplib::Request& req, httplib::Response& res);
  void cancel_transfer(const httplib::Request& req, httplib::Response& res);
  void transfer_events(const httplib::Request& req, httplib::Response& res);
  void control_stream(const httplib::Request& req, httplib::Response& res);
  void answer(const httplib::Request& req, httplib::Response& res);
  void agent_status(const httplib::Request& req, httplib::Response& res);
  void upload(const httplib::Request& req, httplib::Response& res,
              const httplib::ContentReader& reader);
  // The transfer of the route's {tid} if `who` may see it, else writes the
  // error and returns nullopt.
  std::optional<TransferInfo> owned(const httplib::Request& req, const Principal& who,
                                    httplib::Response& res);
  // An upload's error: a conflict says where to resume (next_frame).
  void fail_upload(httplib::Response& res, const std::string& tid, const Error& e);

  const Config cfg_;
  std::unique_ptr<Store> store_;
  Transfers transfers_;
  std::shared_ptr<TokenVerifier> tokens_;
  Metrics metrics_;
  RateLimiter per_token_;
  RateLimiter per_ip_;
  Leases leases_;  // declared before http_: streams hold leases until http_ is gone
  Presence presence_;  // after store_, which its thread calls
  std::unique_ptr<httplib::Server> http_;
  std::atomic<AdmissionPool*> live_pool_{nullptr};  // owned by http_ while it runs
  std::atomic<bool> stopping_{false};
  std::thread housekeeper_;
  std::mutex housekeeper_mu_;
  std::condition_variable housekeeper_cv_;
};

}  // namespace sealrelay::relay
