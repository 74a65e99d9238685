#include "relay/server.h"

#include <httplib.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>

#include <algorithm>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "base/base64.h"
#include "base/fingerprint.h"
#include "base/ids.h"
#include "proto/event_stream.h"
#include "relay/admission.h"
#include "relay/body_rules.h"
#include "relay/server_util.h"

namespace sealrelay::relay {

using nlohmann::json;

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

int status_of(const std::string& code) {
  static const std::map<std::string, int> statuses = {
      {"bad_request", 400},      {"unauthorized", 401},   {"forbidden", 403},
      {"not_found", 404},        {"unknown_agent", 404},  {"unknown_transfer", 404},
      {"conflict", 409},         {"agent_offline", 409},  {"cancelled", 409},
      {"length_required", 411},  {"too_large", 413},      {"rate_limited", 429},
      {"overloaded", 503},
      {"store_unavailable", 503}};
  auto it = statuses.find(code);
  return it == statuses.end() ? 503 : it->second;
}

}  // namespace

std::string route_name(const std::string& method, const std::string& path) {
  auto seg = [&](std::string_view p) {
    std::vector<std::string_view> out;
    while (!p.empty()) {
      if (p.front() == '/') p.remove_prefix(1);
      size_t n = p.find('/');
      out.push_back(p.substr(0, n));
      if (n == std::string_view::npos) break;
      p.remove_prefix(n);
    }
    return out;
  };
  auto s = seg(path);
  std::string m = method + " ";
  if (s.size() >= 1 && s[0] == "v1") {
    if (s.size() == 2 && (s[1] == "agents" || s[1] == "transfers")) return m + "/v1/" + std::string(s[1]);
    if (s.size() == 3 && s[1] == "transfers") return m + "/v1/transfers/{tid}";
    if (s.size() == 4 && s[1] == "transfers") return m + "/v1/transfers/{tid}/" + std::string(s[3]);
    if (s.size() == 3 && s[1] == "agent" && s[2] == "control") return m + "/v1/agent/control";
    if (s.size() == 4 && s[1] == "agent" && s[2] == "transfers") return m + "/v1/agent/transfers/{tid}";
    if (s.size() == 5 && s[1] == "agent" && s[2] == "transfers") {
      return m + "/v1/agent/transfers/{tid}/" + std::string(s[4]);
    }
    return m + "/v1/other";
  }
  if (path == "/healthz" || path == "/readyz" || path == "/metrics") return m + path;
  return m + "static";
}

std::string random_hex(size_t bytes) {
  std::vector<unsigned char> b(bytes);
  if (RAND_bytes(b.data(), static_cast<int>(b.size())) != 1) std::abort();
  static const char* digits = "0123456789abcdef";
  std::string out;
  for (unsigned char c : b) {
    out.push_back(digits[c >> 4]);
    out.push_back(digits[c & 15]);
  }
  return out;
}

std::string json_text(const json& j) {
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

void send_json(httplib::Response& res, int status, const json& j) {
  res.status = status;
  res.set_content(json_text(j), "application/json");
}

std::optional<json> parse_json_body(const httplib::Request& req) {
  auto j = json::parse(req.body, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return std::nullopt;
  return j;
}

std::string error_event(const std::string& code, const std::string& message) {
  return event_stream::record(event_stream::Type::error, 0,
                              json_text({{"error", code}, {"message", message}}));
}

Server::Server(Config cfg, std::unique_ptr<Store> store, std::shared_ptr<TokenVerifier> tokens)
    : cfg_(std::move(cfg)), store_(std::move(store)), tokens_(std::move(tokens)),
      per_token_(cfg_.rate_per_token, cfg_.burst_per_token),
      per_ip_(cfg_.rate_per_ip, cfg_.burst_per_ip) {
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
  routes();
  housekeeper_ = std::thread([this] { housekeeping(); });
}

Server::~Server() {
  stop();
  if (housekeeper_.joinable()) housekeeper_.join();
}

Result<int> Server::bind() {
  if (!http_->is_valid()) return make_error("bad_config", "TLS setup failed (see log)");
  std::string host = cfg_.listen;
  int port = 0;
  auto colon = host.rfind(':');
  if (colon == std::string::npos) return make_error("bad_config", "--listen must be HOST:PORT");
  try {
    port = std::stoi(host.substr(colon + 1));
  } catch (...) {
    return make_error("bad_config", "--listen must be HOST:PORT");
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
               cfg_.redis_url.empty() ? "memory" : "redis");
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

void Server::fail(httplib::Response& res, int status, const std::string& code,
                  const std::string& message) {
  metrics_.error(code);
  send_json(res, status, {{"error", code}, {"message", message}});
  if (status == 401) res.set_header("WWW-Authenticate", "Bearer");
}

void Server::fail(httplib::Response& res, const Error& e) {
  std::string code = e.code;
  int status = status_of(code);
  if (status == 503 && code != "overloaded") code = "store_unavailable";
  if (code == "cancelled") code = "conflict";
  fail(res, status, code, e.message);
}

bool Server::pre_route(const httplib::Request& req, httplib::Response& res) {
  auto* pool = live_pool_.load();
  if (pool && pool->active() > cfg_.max_connections) {
    res.set_header("Retry-After", "1");
    fail(res, 503, "overloaded", "this relay node is at --max-connections; retry shortly");
    return true;
  }
  if (req.path.size() > kMaxPathBytes) {
    fail(res, 400, "bad_request", "request path longer than " + std::to_string(kMaxPathBytes) + " bytes");
    return true;
  }
  if (req.headers.size() > cfg_.max_headers) {
    fail(res, 400, "bad_request", "too many request headers");
    return true;
  }
  if (req.has_header("Content-Encoding")) {
    fail(res, 400, "bad_request", "compressed request bodies are not accepted");
    return true;
  }
  if (auto refused = check_body(req, cfg_.max_json_bytes)) {
    fail(res, refused->status, refused->code, refused->message);
    return true;
  }
  if (!per_ip_.allow(req.remote_addr)) {
    res.set_header("Retry-After", std::to_string(per_ip_.retry_after(req.remote_addr)));
    fail(res, 429, "rate_limited", "too many requests from this address");
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
      fail(res, 401, "unauthorized", "Authorization must be \"Bearer <token>\"");
      return std::nullopt;
    }
    auto p = tokens_->verify(std::string_view(header).substr(7));
    if (!p) {
      fail(res, 401, "unauthorized", p.error().message);
      return std::nullopt;
    }
    who = *p;
  } else if (want == TokenKind::agent && req.ssl && !cfg_.tls_client_ca.empty()) {
    X509* cert = SSL_get1_peer_certificate(req.ssl);
    if (cert && SSL_get_verify_result(req.ssl) == X509_V_OK) {
      auto agent = certificate_agent(cert);
      X509_free(cert);
      if (!agent) {
        fail(res, 401, "unauthorized",
             "the client certificate's subject must have exactly one CN, an agent id (" +
                 std::string(ids::kAgentIdRule) + ")");
        return std::nullopt;
      }
      Principal p;
      p.kind = TokenKind::agent;
      p.agent = std::move(*agent);
      p.via_certificate = true;
      who = p;
    } else if (cert) {
      X509_free(cert);
    }
  }
  if (!who) {
    fail(res, 401, "unauthorized", "no credentials: send Authorization: Bearer <token>");
    return std::nullopt;
  }
  if (who->kind != want) {
    fail(res, 403, "forbidden",
         want == TokenKind::agent ? "this route needs an agent token"
                                  : "this route needs a requester token");
    return std::nullopt;
  }
  if (!per_token_.allow(who->key())) {
    res.set_header("Retry-After", std::to_string(per_token_.retry_after(who->key())));
    fail(res, 429, "rate_limited", "too many requests for this token");
    return std::nullopt;
  }
  return who;
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

std::optional<TransferInfo> Server::owned_transfer(const std::string& tid, const Principal& p,
                                                   httplib::Response& res) {
  if (!ids::valid_transfer_id(tid)) {
    fail(res, 404, "unknown_transfer", "no transfer " + tid);
    return std::nullopt;
  }
  auto t = store_->get_transfer(tid);
  if (!t) {
    fail(res, t.error());
    return std::nullopt;
  }
  bool mine = p.kind == TokenKind::agent ? t->agent == p.agent
                                         : t->requester == p.token_id && p.sees(t->agent);
  if (!mine) {
    fail(res, 404, "unknown_transfer", "no transfer " + tid);
    return std::nullopt;
  }
  return expire_if_overdue(*t);
}

TransferInfo Server::expire_if_overdue(TransferInfo t) {
  int64_t now = system_clock()() / 1000;
  if (t.state != State::requested || t.created + cfg_.answer_timeout.count() > now) return t;
  auto r = store_->finish(t.id, State::expired, "expired", "the agent did not answer in time",
                          error_event("expired", "the agent did not answer in time"),
                          State::requested);
  return r ? *r : t;
}

void Server::routes() {
  http_->set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
    if (!pre_route(req, res)) return httplib::Server::HandlerResponse::Unhandled;
    res.set_header("Connection", "close");  // the body, if any, was not read
    return httplib::Server::HandlerResponse::Handled;
  });
  // A response that says "Connection: close" (a refusal that left the body
  // unread) must close: cpp-httplib 0.11.4 keeps the connection whatever a
  // handler sets, and would parse the unread body as the next request, its
  // line without a length limit. Its body, sent by a content provider that
  // then fails, makes cpp-httplib end the connection once it is written.
  http_->set_post_routing_handler([](const httplib::Request& req, httplib::Response& res) {
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
  });
  http_->set_error_handler([this](const httplib::Request&, httplib::Response& res) {
    if (!res.body.empty()) return;
    if (res.status == 404) {
      fail(res, 404, "not_found", "no such route or file");
    } else if (res.status == 413) {
      fail(res, 413, "too_large", "request too large");
    } else if (res.status == 414) {
      fail(res, 400, "bad_request", "request line too long");
    } else {
      fail(res, res.status, res.status >= 500 ? "overloaded" : "bad_request",
           "request refused (" + std::to_string(res.status) + ")");
    }
  });
  http_->set_exception_handler(
      [this](const httplib::Request&, httplib::Response& res, std::exception_ptr ep) {
        std::string what = "internal error";
        try {
          if (ep) std::rethrow_exception(ep);
        } catch (const std::exception& e) {
          what = e.what();
        } catch (...) {
        }
        spdlog::error("handler threw: {}", what);
        fail(res, 503, "store_unavailable", "internal error");
      });
  http_->set_logger([this](const httplib::Request& req, const httplib::Response& res) {
    metrics_.request(route_name(req.method, req.path), res.status);
    spdlog::debug("{} {} {} from {}", req.method, req.path, res.status, req.remote_addr);
  });
  ops_routes();
  requester_routes();
  agent_routes();
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

void Server::ops_routes() {
  http_->Get("/healthz", [](const httplib::Request&, httplib::Response& res) {
    send_json(res, 200, {{"status", "ok"}});
  });
  http_->Get("/readyz", [this](const httplib::Request&, httplib::Response& res) {
    auto r = store_->ping();
    if (!r) return fail(res, 503, "store_unavailable", r.error().message);
    send_json(res, 200, {{"status", "ready"}});
  });
  http_->Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
    auto* pool = live_pool_.load();
    res.set_content(metrics_.render(pool ? static_cast<int64_t>(pool->active()) : 0,
                                    store_->count_by_state()),
                    "text/plain; version=0.0.4");
  });
}

void Server::requester_routes() {
  http_->Get("/v1/agents", [this](const httplib::Request& req, httplib::Response& res) {
    auto who = auth(req, res, TokenKind::requester);
    if (!who) return;
    auto agents = store_->list_agents();
    if (!agents) return fail(res, agents.error());
    json out = json::array();
    for (auto& a : *agents) {
      if (!who->sees(a.id)) continue;
      json j = {{"id", a.id},          {"online", a.online}, {"last_seen", a.last_seen},
                {"public_key", a.public_key}, {"version", a.version}};
      std::vector<uint8_t> pk;
      if (base64::decode_into(a.public_key, pk) && pk.size() == kKeyBytes) {
        j["fingerprint"] =
            fingerprint::of(std::span<const uint8_t, kKeyBytes>(pk.data(), kKeyBytes));
      }
      out.push_back(std::move(j));
    }
    send_json(res, 200, {{"agents", out}});
  });
  http_->Post("/v1/transfers", [this](const httplib::Request& req, httplib::Response& res) {
    create_transfer(req, res);
  });
  http_->Get("/v1/transfers", [this](const httplib::Request& req, httplib::Response& res) {
    auto who = auth(req, res, TokenKind::requester);
    if (!who) return;
    auto list = store_->list_transfers(who->token_id);
    if (!list) return fail(res, list.error());
    json out = json::array();
    for (auto& t : *list) {
      if (who->sees(t.agent)) out.push_back(transfer_json(expire_if_overdue(t)));
    }
    send_json(res, 200, {{"transfers", out}});
  });
  http_->Get(R"(/v1/transfers/([^/]+))", [this](const httplib::Request& req,
                                                httplib::Response& res) {
    auto who = auth(req, res, TokenKind::requester);
    if (!who) return;
    auto t = owned_transfer(req.matches[1], *who, res);
    if (t) send_json(res, 200, transfer_json(*t));
  });
  http_->Delete(R"(/v1/transfers/([^/]+))", [this](const httplib::Request& req,
                                                   httplib::Response& res) {
    auto who = auth(req, res, TokenKind::requester);
    if (!who) return;
    auto t = owned_transfer(req.matches[1], *who, res);
    if (!t) return;
    if (req.has_param("done") && t->state == State::complete) {
      // The requester has its file: drop the frames kept for a resume now,
      // not at the transfer's TTL (a whole window and history per transfer).
      // It stays complete, and the agent is not told.
      auto r = store_->finish(t->id, State::complete, "", "", ": released\n\n", State::complete);
      if (!r) return fail(res, r.error());
      return send_json(res, 200, {{"transfer_id", r->id}, {"state", to_string(r->state)}});
    }
    auto r = store_->finish(t->id, State::cancelled, "cancelled", "cancelled by the requester",
                            error_event("cancelled", "cancelled by the requester"), std::nullopt);
    if (!r) return fail(res, r.error());
    send_json(res, 200, {{"transfer_id", r->id}, {"state", to_string(r->state)}});
  });
  http_->Get(R"(/v1/transfers/([^/]+)/events)", [this](const httplib::Request& req,
                                                       httplib::Response& res) {
    transfer_events(req, res);
  });
}

void Server::create_transfer(const httplib::Request& req, httplib::Response& res) {
  auto who = auth(req, res, TokenKind::requester);
  if (!who) return;
  auto body = parse_json_body(req);
  if (!body) return fail(res, 400, "bad_request", "body must be a JSON object");
  auto agent = body->value("agent", json());
  auto msg1 = body->value("msg1", json());
  if (!agent.is_string() || !msg1.is_string()) {
    return fail(res, 400, "bad_request", "need \"agent\" and \"msg1\" strings");
  }
  std::string agent_id = agent;
  std::string msg1_b64 = msg1;
  if (!ids::valid_agent_id(agent_id) || !who->sees(agent_id)) {
    return fail(res, 404, "unknown_agent", "no agent \"" + agent_id + "\" is visible to this token");
  }
  std::vector<uint8_t> bytes;
  if (!base64::decode_into(msg1_b64, bytes) || bytes.empty()) {
    return fail(res, 400, "bad_request", "msg1 must be canonical standard base64 of 1..65535 bytes");
  }
  if (bytes.size() > 65535) return fail(res, 413, "too_large", "msg1 exceeds 65535 bytes");
  auto a = store_->get_agent(agent_id);
  if (!a) {
    if (a.error().code == "unknown_agent") {
      return fail(res, 404, "unknown_agent", "no agent \"" + agent_id + "\" is visible to this token");
    }
    return fail(res, a.error());
  }
  if (!a->online) return fail(res, 409, "agent_offline", "agent \"" + agent_id + "\" is offline");
  std::string tid = "t_" + random_hex(16);
  int64_t now = system_clock()() / 1000;
  std::string inbox = json_text({{"transfer_id", tid}, {"msg1", msg1_b64}, {"created", now}});
  auto t = store_->create_transfer(tid, agent_id, who->token_id, inbox);
  if (!t) {
    if (t.error().code == "rate_limited") res.set_header("Retry-After", "5");
    return fail(res, t.error());
  }
  send_json(res, 201, {{"transfer_id", tid}, {"state", "requested"}});
}

json transfer_json(const TransferInfo& t) {
  json j = {{"transfer_id", t.id},
            {"agent", t.agent},
            {"state", to_string(t.state)},
            {"created", t.created},
            {"updated", t.updated},
            {"frames", t.frames},
            {"delivered", t.delivered},
            {"bytes", t.bytes},
            {"complete", t.state == State::complete},
            {"cancelled", t.state == State::cancelled}};
  if (!t.error_code.empty()) j["error"] = {{"error", t.error_code}, {"message", t.error_message}};
  return j;
}

}  // namespace sealrelay::relay
