// The relay's HTTP front: routes (docs/api.md), auth, limits, SSE streams,
// uploads. Owns the cpp-httplib server; does not own the store's lifetime
// beyond its own.
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
#include <optional>
#include <string>
#include <thread>

#include "base/result.h"
#include "relay/config.h"
#include "relay/leases.h"
#include "relay/metrics.h"
#include "relay/rate_limit.h"
#include "relay/store.h"
#include "relay/tokens.h"

namespace httplib {
class Server;
struct Request;
struct Response;
class DataSink;
class ContentReader;
}  // namespace httplib

namespace sealrelay::relay {

class AdmissionPool;

class Server {
 public:
  Server(Config cfg, std::unique_ptr<Store> store, std::shared_ptr<TokenVerifier> tokens);
  ~Server();

  // Binds the listen address; returns the bound port.
  Result<int> bind();
  // Serves until stop(). Returns false if serving failed.
  bool run();
  // Thread-safe; ends streams promptly and makes run() return.
  void stop();

  Store& store() { return *store_; }

  struct Stream;  // per SSE stream state (server_streams.cpp)

 private:
  void routes();
  // Guards run before routing (no body read yet): admission, header count,
  // body framing, per-IP rate.
  bool pre_route(const httplib::Request& req, httplib::Response& res);
  // Authenticates and rate-limits; on failure writes the error and returns nullopt.
  std::optional<Principal> auth(const httplib::Request& req, httplib::Response& res,
                                TokenKind want);

  // A lease on the token that authenticated `who` (on "" for a client
  // certificate, which no revocation names); nullptr when the token was
  // revoked since verify(): then the caller answers 401.
  std::shared_ptr<Leases::Lease> lease_for(const Principal& who);
  // Ends the streams and uploads of tokens revoked in the tokens file.
  void end_revoked();

  void ops_routes();
  void requester_routes();
  void agent_routes();

  // requester
  void create_transfer(const httplib::Request& req, httplib::Response& res);
  void transfer_events(const httplib::Request& req, httplib::Response& res);
  // agent
  void control_stream(const httplib::Request& req, httplib::Response& res);
  void answer(const httplib::Request& req, httplib::Response& res);
  void upload(const httplib::Request& req, httplib::Response& res,
              const httplib::ContentReader& reader);

  bool pump_events(Stream& st, httplib::DataSink& sink);
  bool pump_control(Stream& st, httplib::DataSink& sink);
  bool events_catch_up(Stream& st, httplib::DataSink& sink);
  bool emit_transfer_entry(Stream& st, const Entry& e, httplib::DataSink& sink);
  bool control_catch_up(Stream& st, httplib::DataSink& sink, bool only_pending);

  // The transfer if `p` may see it, else writes 404 and returns nullopt.
  std::optional<TransferInfo> owned_transfer(const std::string& tid, const Principal& p,
                                             httplib::Response& res);
  // Lazily expires a transfer whose answer is overdue.
  TransferInfo expire_if_overdue(TransferInfo t);
  void fail(httplib::Response& res, int status, const std::string& code,
            const std::string& message);
  void fail(httplib::Response& res, const Error& e);
  void housekeeping();

  const Config cfg_;
  std::unique_ptr<Store> store_;
  std::shared_ptr<TokenVerifier> tokens_;
  Metrics metrics_;
  RateLimiter per_token_;
  RateLimiter per_ip_;
  Leases leases_;  // declared before http_: streams hold leases until http_ is gone
  std::unique_ptr<httplib::Server> http_;
  std::atomic<AdmissionPool*> live_pool_{nullptr};  // owned by http_ while it runs
  std::atomic<bool> stopping_{false};
  std::thread housekeeper_;
  std::mutex housekeeper_mu_;
  std::condition_variable housekeeper_cv_;
};

}  // namespace sealrelay::relay
