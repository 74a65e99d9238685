#include "relay/server.h"

#include <httplib.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>

#include <algorithm>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "base/ids.h"
#include "proto/errors.h"
#include "relay/admission.h"
#include "relay/body_rules.h"
#include "relay/records.h"

namespace sealrelay::relay {

namespace {

// Stack of each connection thread (RSS counts only the pages touched; the
// size bounds the address space and commit charge of 10,000 threads).
// The deepest path was std::regex matching a route against a long request
// path: libstdc++'s matcher recurses per character, ~560 bytes each, so an
// 8 KiB path (cpp-httplib's limit) took 4.5 MiB of stack, kept resident by
// that thread ever after, and crashed a thread with a 1 MiB stack.
// pre_route refuses paths over kMaxPathBytes before any regex sees them.
constexpr size_t kWorkerStackBytes = 1u << 20;
constexpr size_t kMaxPathBytes = 256;  // ids are <= 64 chars; static files are short

// cpp-httplib keeps listen()'s socket in a protected member; the backlog it
// uses (5, compiled in) stalls connection bursts for seconds (SYN retries).
template <class Base>
struct Listener : Base {
  using Base::Base;
  bool raise_backlog(int n) { return ::listen(this->svr_sock_, n) == 0; }
};

// Our socket options instead of cpp-httplib's default, which sets
// SO_REUSEPORT (a second relay on the same port would silently share it).
void socket_options(int sock) {
  int yes = 1;
  ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
  ::setsockopt(sock, SOL_SOCKET, SO_KEEPALIVE, &yes, sizeof yes);
  int idle = 60, intvl = 15, cnt = 4;
  ::setsockopt(sock, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof idle);
  ::setsockopt(sock, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof intvl);
  ::setsockopt(sock, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof cnt);
}

// net.core.somaxconn, or -1 when unreadable.
int read_somaxconn() {
  std::FILE* f = std::fopen("/proc/sys/net/core/somaxconn", "r");
  if (!f) return -1;
  int n = -1;
  if (std::fscanf(f, "%d", &n) != 1) n = -1;
  std::fclose(f);
  return n;
}

// The agent id a verified client certificate names: its subject's only CN,
// with its exact length (X509_NAME_get_text_by_NID stops at a NUL and
// truncates at the buffer, so "shop-1\0evil" would read as "shop-1"), when
// it follows the agent-id rule; nullopt for none, several or a bad one.
std::optional<std::string> certificate_agent(X509* cert) {
  X509_NAME* subject = X509_get_subject_name(cert);
  int at = subject ? X509_NAME_get_index_by_NID(subject, NID_commonName, -1) : -1;
  if (at < 0 || X509_NAME_get_index_by_NID(subject, NID_commonName, at) >= 0) return std::nullopt;
  unsigned char* utf8 = nullptr;
  int n = ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subject, at)));
  if (n < 0) return std::nullopt;
  std::string cn(reinterpret_cast<const char*>(utf8), static_cast<size_t>(n));
  OPENSSL_free(utf8);
  if (!ids::valid_agent_id(cn)) return std::nullopt;
  return cn;
}

// A response that says "Connection: close" (a refusal that left the body
// unread) must close: cpp-httplib 0.11.4 keeps the connection whatever a
// handler sets, and would parse the unread body as the next request, its
// line without a length limit. Its body, sent by a content provider that
// then fails, makes cpp-httplib end the connection once it is written.
void close_if_refused(const httplib::Request& req, httplib::Response& res) {
  if (res.get_header_value("Connection") != "close") return;
  res.headers.erase("Connection");  // once, whoever set it
  res.headers.erase("Keep-Alive");
  res.set_header("Connection", "close");
  if (req.get_header_value("Connection") == "close" || res.body.empty() || res.content_provider_) return;
  res.content_length_ = res.body.size();
  res.content_provider_ = [body = std::move(res.body)](size_t, size_t, httplib::DataSink& sink) {
    sink.write(body.data(), body.size());
    return false;
  };
  res.body.clear();
}

std::string what_of(std::exception_ptr ep) {
  try {
    if (ep) std::rethrow_exception(ep);
  } catch (const std::exception& e) {
    return e.what();
  } catch (...) {
  }
  return "internal error";
}

}  // namespace

Server::Server(Config cfg, std::unique_ptr<Store> store, std::shared_ptr<TokenVerifier> tokens)
    : cfg_(std::move(cfg)), store_(std::move(store)), transfers_(*store_, cfg_.answer_timeout),
      tokens_(std::move(tokens)),
      per_token_(cfg_.rate_per_token, cfg_.burst_per_token),
      per_ip_(cfg_.rate_per_ip, cfg_.burst_per_ip), presence_(*store_, cfg_.heartbeat) {
  if (!cfg_.tls_cert.empty()) {
    const Config& c = cfg_;
    http_ = std::make_unique<Listener<httplib::SSLServer>>([&c](SSL_CTX& ctx) {
      SSL_CTX_set_min_proto_version(&ctx, TLS1_2_VERSION);
      if (SSL_CTX_use_certificate_chain_file(&ctx, c.tls_cert.c_str()) != 1 ||
          SSL_CTX_use_PrivateKey_file(&ctx, c.tls_key.c_str(), SSL_FILETYPE_PEM) != 1 ||
          SSL_CTX_check_private_key(&ctx) != 1) {
        spdlog::error("cannot load TLS certificate {} / key {}", c.tls_cert, c.tls_key);
        return false;
      }
      if (!c.tls_client_ca.empty()) {
        // Ask for a client certificate but do not require one: requesters
        // (browsers, CLI) have none. One that is sent must verify.
        if (SSL_CTX_load_verify_locations(&ctx, c.tls_client_ca.c_str(), nullptr) != 1) {
          spdlog::error("cannot load client CA {}", c.tls_client_ca);
          return false;
        }
        SSL_CTX_set_client_CA_list(&ctx, SSL_load_client_CA_file(c.tls_client_ca.c_str()));
        SSL_CTX_set_verify(&ctx, SSL_VERIFY_PEER, nullptr);
      }
      return true;
    });
  } else {
    http_ = std::make_unique<Listener<httplib::Server>>();
  }
  size_t workers = cfg_.max_connections + 16;
  http_->new_task_queue = [this, workers] {
    auto* p = new AdmissionPool(workers, 64, kWorkerStackBytes);
    live_pool_ = p;
    return p;
  };
  http_->set_socket_options(socket_options);
  http_->set_tcp_nodelay(true);
  http_->set_read_timeout(cfg_.read_timeout);
  http_->set_write_timeout(cfg_.write_timeout);
  http_->set_keep_alive_timeout(5);
  http_->set_keep_alive_max_count(100);
  // Content-Length bodies: the upload route may be large; JSON routes are
  // capped in pre_route (chunked bodies are refused there, except uploads).
  http_->set_payload_max_length(std::numeric_limits<size_t>::max());
  hooks();
  housekeeper_ = std::thread([this] { housekeeping(); });
  presence_.start();
}

Server::~Server() {
  stop();
  presence_.stop();
  if (housekeeper_.joinable()) housekeeper_.join();
}

Result<int> Server::bind() {
  if (!http_->is_valid()) return make_error(ErrorCode::bad_config, "TLS setup failed (see log)");
  std::string host = cfg_.listen;
  int port = 0;
  auto colon = host.rfind(':');
  if (colon == std::string::npos) {
    return make_error(ErrorCode::bad_config, "--listen must be HOST:PORT");
  }
  try {
    port = std::stoi(host.substr(colon + 1));
  } catch (...) {
    return make_error(ErrorCode::bad_config, "--listen must be HOST:PORT");
  }
  host = host.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
    http_->set_address_family(AF_INET6);
  }
  int bound = port;
  if (port == 0) {
    bound = http_->bind_to_any_port(host);
    if (bound <= 0) return make_error("bind_failed", "cannot listen on " + cfg_.listen);
  } else if (!http_->bind_to_port(host, port)) {
    return make_error("bind_failed", "cannot listen on " + cfg_.listen + " (in use?)");
  }
  // A restart meets every agent of this node within a second or two: the
  // kernel's accept queue should hold them all (it caps the backlog at
  // net.core.somaxconn, 4096 by default). A full queue drops SYNs and final
  // ACKs, and those clients wait 1, 3, 7, 15 s for their retransmits.
  int backlog = static_cast<int>(std::clamp<size_t>(cfg_.max_connections, 1024, 65535));
  bool raised = cfg_.tls_cert.empty()
                    ? static_cast<Listener<httplib::Server>*>(http_.get())->raise_backlog(backlog)
                    : static_cast<Listener<httplib::SSLServer>*>(http_.get())->raise_backlog(backlog);
  if (!raised) spdlog::warn("could not raise the listen backlog");
  if (int somaxconn = read_somaxconn(); somaxconn > 0 && somaxconn < backlog) {
    spdlog::info("listen backlog {} is capped by net.core.somaxconn = {}", backlog, somaxconn);
  }
  spdlog::info("listening on {}:{} ({}, {} store)", host, bound,
               cfg_.tls_cert.empty() ? "http" : "https",
               !cfg_.redis_cluster.empty() ? "redis cluster" : cfg_.redis_url.empty() ? "memory" : "redis");
  return bound;
}

bool Server::run() {
  if (stopping_) return true;
  return http_->listen_after_bind();
}

void Server::stop() {
  if (stopping_.exchange(true)) return;
  store_->close_subscriptions();
  http_->stop();
  housekeeper_cv_.notify_all();
}

void Server::housekeeping() {
  std::unique_lock lk(housekeeper_mu_);
  while (!stopping_) {
    housekeeper_cv_.wait_for(lk, std::chrono::seconds(1));
    if (stopping_) break;
    lk.unlock();
    end_revoked();
    store_->sweep();
    per_token_.prune();
    per_ip_.prune();
    lk.lock();
  }
}

void Server::send_json(httplib::Response& res, int status, const nlohmann::json& j) {
  res.status = status;
  res.set_content(json_text(j), "application/json");
}

void Server::fail(httplib::Response& res, ErrorCode code, const std::string& message,
                  nlohmann::json more) {
  if (!errors::http_status(code)) code = ErrorCode::store_unavailable;  // never without a status
  metrics_.error(std::string(errors::name(code)));
  more["error"] = errors::name(code);
  more["message"] = message;
  send_json(res, *errors::http_status(code), more);
  if (code == ErrorCode::unauthorized) res.set_header("WWW-Authenticate", "Bearer");
  // The store comes back by itself (a Redis restart, a cluster failover or a
  // slot migration): nothing was applied, so the same request may come again.
  if (code == ErrorCode::store_unavailable) res.set_header("Retry-After", "1");
}

// A code that is no HTTP status (the store's own, expired, one this build
// does not know) answers store_unavailable; cancelled, a state, conflict.
void Server::fail(httplib::Response& res, const Error& e) {
  auto code = errors::parse(e.code).value_or(ErrorCode::store_unavailable);
  fail(res, code == ErrorCode::cancelled ? ErrorCode::conflict : code, e.message);
}

bool Server::pre_route(const httplib::Request& req, httplib::Response& res) {
  auto* pool = live_pool_.load();
  if (pool && pool->active() > cfg_.max_connections) {
    res.set_header("Retry-After", "1");
    fail(res, ErrorCode::overloaded, "this relay node is at --max-connections; retry shortly");
    return true;
  }
  if (req.path.size() > kMaxPathBytes) {
    fail(res, ErrorCode::bad_request,
         "request path longer than " + std::to_string(kMaxPathBytes) + " bytes");
    return true;
  }
  if (req.headers.size() > cfg_.max_headers) {
    fail(res, ErrorCode::bad_request, "too many request headers");
    return true;
  }
  if (req.has_header("Content-Encoding")) {
    fail(res, ErrorCode::bad_request, "compressed request bodies are not accepted");
    return true;
  }
  if (auto refused = check_body(req, cfg_.max_json_bytes)) {
    fail(res, *refused);
    return true;
  }
  if (!per_ip_.allow(req.remote_addr)) {
    res.set_header("Retry-After", std::to_string(per_ip_.retry_after(req.remote_addr)));
    fail(res, ErrorCode::rate_limited, "too many requests from this address");
    return true;
  }
  return false;
}

std::optional<Principal> Server::auth(const httplib::Request& req, httplib::Response& res,
                                      TokenKind want) {
  std::optional<Principal> who;
  std::string header = req.get_header_value("Authorization");
  if (!header.empty()) {
    if (header.size() < 7 || strncasecmp(header.c_str(), "Bearer ", 7) != 0) {
      fail(res, ErrorCode::unauthorized, "Authorization must be \"Bearer <token>\"");
      return std::nullopt;
    }
    auto p = tokens_->verify(std::string_view(header).substr(7));
    if (!p) {
      fail(res, ErrorCode::unauthorized, p.error().message);
      return std::nullopt;
    }
    who = *p;
  } else if (want == TokenKind::agent && req.ssl && !cfg_.tls_client_ca.empty()) {
    who = certificate_principal(req, res);
    if (!who && !res.body.empty()) return std::nullopt;
  }
  if (!who) {
    fail(res, ErrorCode::unauthorized, "no credentials: send Authorization: Bearer <token>");
    return std::nullopt;
  }
  if (who->kind != want) {
    fail(res, ErrorCode::forbidden,
         want == TokenKind::agent ? "this route needs an agent token"
                                  : "this route needs a requester token");
    return std::nullopt;
  }
  if (!per_token_.allow(who->key())) {
    res.set_header("Retry-After", std::to_string(per_token_.retry_after(who->key())));
    fail(res, ErrorCode::rate_limited, "too many requests for this token");
    return std::nullopt;
  }
  return who;
}

// The agent a verified client certificate names; nullopt for none (then the
// caller says "no credentials") or, with the error written, a bad one.
std::optional<Principal> Server::certificate_principal(const httplib::Request& req,
                                                       httplib::Response& res) {
  X509* cert = SSL_get1_peer_certificate(req.ssl);
  if (!cert) return std::nullopt;
  bool verified = SSL_get_verify_result(req.ssl) == X509_V_OK;
  auto agent = verified ? certificate_agent(cert) : std::nullopt;
  X509_free(cert);
  if (!verified) return std::nullopt;
  if (!agent) {
    fail(res, ErrorCode::unauthorized,
         "the client certificate's subject must have exactly one CN, an agent id (" +
             std::string(ids::kAgentIdRule) + ")");
    return std::nullopt;
  }
  Principal p;
  p.kind = TokenKind::agent;
  p.agent = std::move(*agent);
  p.via_certificate = true;
  return p;
}

std::shared_ptr<Leases::Lease> Server::lease_for(const Principal& who) {
  auto lease = leases_.take(who.token_id);
  // A revocation handed out between verify() and take() found no lease to end.
  if (!who.token_id.empty() && !tokens_->holds(who.token_id)) return nullptr;
  return lease;
}

void Server::end_revoked() {
  auto revoked = tokens_->take_revoked();
  if (revoked.empty()) return;
  size_t ended = leases_.revoke(revoked);
  spdlog::info("{} token(s) left the tokens file; ending the {} stream(s) and upload(s) they opened",
               revoked.size(), ended);
}

void Server::hooks() {
  http_->set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
    if (!pre_route(req, res)) return httplib::Server::HandlerResponse::Unhandled;
    res.set_header("Connection", "close");  // the body, if any, was not read
    return httplib::Server::HandlerResponse::Handled;
  });
  http_->set_post_routing_handler(close_if_refused);
  http_->set_error_handler([this](const httplib::Request&, httplib::Response& res) {
    if (!res.body.empty()) return;
    if (res.status == 404) {
      fail(res, ErrorCode::not_found, "no such route or file");
    } else if (res.status == 413) {
      fail(res, ErrorCode::too_large, "request too large");
    } else if (res.status == 414) {
      fail(res, ErrorCode::bad_request, "request line too long");
    } else {
      const int status = res.status;  // cpp-httplib's own
      fail(res, status >= 500 ? ErrorCode::overloaded : ErrorCode::bad_request,
           "request refused (" + std::to_string(status) + ")");
      res.status = status;
    }
  });
  http_->set_exception_handler(
      [this](const httplib::Request&, httplib::Response& res, std::exception_ptr ep) {
        spdlog::error("handler threw: {}", what_of(ep));
        fail(res, ErrorCode::store_unavailable, "internal error");
      });
  http_->set_logger([this](const httplib::Request& req, const httplib::Response& res) {
    metrics_.request(route_name(req.method, req.path), res.status);
    spdlog::debug("{} {} {} from {}", req.method, req.path, res.status, req.remote_addr);
  });
  register_routes();
  if (!cfg_.web_root.empty() && !http_->set_mount_point("/", cfg_.web_root)) {
    spdlog::warn("--web-root {} is not a directory; no static files", cfg_.web_root);
  }
  // The page's static files (docs/web.md): scripts and connections to this
  // origin only (libsodium compiles WebAssembly), never framed, no sniffing.
  http_->set_file_request_handler([](const httplib::Request&, httplib::Response& res) {
    res.set_header("Content-Security-Policy",
                   "default-src 'none'; script-src 'self' 'wasm-unsafe-eval'; worker-src 'self'; "
                   "connect-src 'self'; style-src 'self'; img-src 'self' data:; base-uri 'none'; "
                   "form-action 'none'; frame-ancestors 'none'");
    res.set_header("X-Content-Type-Options", "nosniff");
    res.set_header("Referrer-Policy", "no-referrer");
    res.set_header("Cache-Control", "no-cache");
  });
}

}  // namespace sealrelay::relay
