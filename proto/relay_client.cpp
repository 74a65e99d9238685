#include "proto/relay_client.h"

#include <httplib.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <signal.h>

#include <cstdio>
#include <memory>
#include <mutex>
#include <regex>

#include "proto/errors.h"
#include "proto/proxy.h"

namespace sealrelay {
namespace {

constexpr size_t kMaxJsonReplyBytes = 16u << 20;
constexpr size_t kMaxErrorBodyBytes = 64u << 10;

// How the client reaches the relay, for what it sends and what it says.
struct Route {
  std::string proxy;  // Proxy::display(), "" when direct
  // httplib adds the proxy's Proxy-Authorization to every request, also to
  // those inside the CONNECT tunnel, which the relay reads: a header of our
  // own (empty) keeps it out (docs/dependencies.md §1.i).
  bool hide_proxy_auth = false;
};

httplib::Headers to_httplib(const Headers& headers, const RelayConfig& config, const Route& route) {
  httplib::Headers out;
  for (const auto& [k, v] : headers) out.emplace(k, v);
  if (!config.token.empty()) out.emplace("Authorization", "Bearer " + config.token);
  if (route.hide_proxy_auth) out.emplace("Proxy-Authorization", "");
  return out;
}

Error proxy_refused(const Route& route) {
  return make_error(ErrorCode::proxy_refused, "the proxy " + route.proxy + " refused the credentials (HTTP 407): set them in the " +
                                 "proxy setting as http://USER:PASSWORD@HOST:PORT");
}

Error transport_error(httplib::Error e, const RelayConfig& config, const Route& route) {
  if (!route.proxy.empty() && (e == httplib::Error::Connection || e == httplib::Error::SSLConnection)) {
    return make_error(ErrorCode::network, "cannot reach the relay at " + config.url + " through the proxy " + route.proxy +
                                     " (" + httplib::to_string(e) + "): is the proxy running, and does it allow " +
                                     "CONNECT to the relay's port?");
  }
  switch (e) {
    case httplib::Error::SSLServerVerification:
      return make_error(ErrorCode::tls, "the relay's TLS certificate did not verify against " +
                                            (config.ca_file.empty() ? std::string("the system CAs") : config.ca_file) +
                                            "; pass the relay's CA with --ca-file");
    case httplib::Error::SSLConnection:
    case httplib::Error::SSLLoadingCerts:
      return make_error(ErrorCode::tls, "TLS with the relay failed (" + httplib::to_string(e) +
                                            "); check --ca-file and the client certificate");
    case httplib::Error::Connection:
      return make_error(ErrorCode::network, "cannot connect to the relay at " + config.url + " (is it running and reachable?)");
    case httplib::Error::Read:
    case httplib::Error::Write:
      if (!config.client_cert.empty()) {
        // With TLS 1.3 a refused client certificate shows up as exactly this.
        return make_error(ErrorCode::network, "the connection to the relay at " + config.url + " failed: " +
                                                  httplib::to_string(e) + " (if it persists: does the relay's " +
                                                  "--tls-client-ca trust " + config.client_cert + "?)");
      }
      [[fallthrough]];
    default:
      return make_error(ErrorCode::network, "the connection to the relay at " + config.url + " failed: " +
                                                httplib::to_string(e));
  }
}

// The relay's {error, message}, or a description of whatever came instead.
Error status_error(int status, const std::string& body) {
  auto j = nlohmann::json::parse(body, nullptr, false);
  if (j.is_object() && j.value("error", nlohmann::json()).is_string()) {
    Error e = make_error(j["error"].get<std::string>(), j.value("message", nlohmann::json()).is_string()
                                                            ? j["message"].get<std::string>()
                                                            : std::string());
    if (j.contains("next_frame") && j["next_frame"].is_number_unsigned()) {
      e.message += " (next_frame " + std::to_string(j["next_frame"].get<uint64_t>()) + ")";
    }
    return e;
  }
  return make_error(ErrorCode::bad_response, "the relay answered HTTP " + std::to_string(status) + " without an API error");
}

// The TLS files of `c` load and belong together; a readable message
// naming the file otherwise (httplib would only fail later, with an opaque
// transport error, on every connection attempt).
Result<void> check_tls_files(const RelayConfig& c) {
  auto open = [](const std::string& path) {
    return std::unique_ptr<FILE, int (*)(FILE*)>(std::fopen(path.c_str(), "r"), std::fclose);
  };
  if (!c.ca_file.empty()) {
    auto f = open(c.ca_file);
    std::unique_ptr<X509, void (*)(X509*)> ca(f ? PEM_read_X509(f.get(), nullptr, nullptr, nullptr) : nullptr,
                                              X509_free);
    if (!ca) return make_error(ErrorCode::bad_config, "cannot read a PEM certificate from the CA file " + c.ca_file);
  }
  if (c.client_cert.empty() != c.client_key.empty()) {
    return make_error(ErrorCode::bad_config, "a client certificate needs its key, and a key its certificate");
  }
  if (c.client_cert.empty()) return {};
  auto cf = open(c.client_cert);
  std::unique_ptr<X509, void (*)(X509*)> cert(
      cf ? PEM_read_X509(cf.get(), nullptr, nullptr, nullptr) : nullptr, X509_free);
  if (!cert) return make_error(ErrorCode::bad_config, "cannot read a PEM certificate from " + c.client_cert);
  auto kf = open(c.client_key);
  std::unique_ptr<EVP_PKEY, void (*)(EVP_PKEY*)> key(
      kf ? PEM_read_PrivateKey(kf.get(), nullptr, nullptr, nullptr) : nullptr, EVP_PKEY_free);
  if (!key) return make_error(ErrorCode::bad_config, "cannot read an unencrypted PEM private key from " + c.client_key);
  if (X509_check_private_key(cert.get(), key.get()) != 1) {
    return make_error(ErrorCode::bad_config, c.client_key + " is not the key of the certificate " + c.client_cert);
  }
  return {};
}

}  // namespace

struct RelayClient::Impl {
  httplib::Client client;
  Route route;
  explicit Impl(const RelayConfig& c)
      : client(c.client_cert.empty() ? httplib::Client(c.url) : httplib::Client(c.url, c.client_cert, c.client_key)) {}
};

RelayClient::RelayClient(RelayConfig config, std::unique_ptr<Impl> impl)
    : config_(std::move(config)), impl_(std::move(impl)) {}
RelayClient::~RelayClient() = default;

Result<std::unique_ptr<RelayClient>> RelayClient::create(const RelayConfig& config) {
  static const std::regex kUrl(R"(^(https?)://([A-Za-z0-9.\-]+|\[[0-9A-Fa-f:]+\])(:[0-9]{1,5})?/?$)");
  std::smatch m;
  if (!std::regex_match(config.url, m, kUrl)) {
    return make_error(ErrorCode::bad_config, "relay URL \"" + config.url + "\" is not http(s)://host[:port]");
  }
  if (m[1] == "https") {
    if (auto ok = check_tls_files(config); !ok) return ok.error();
  }
  auto proxy = choose_proxy(config.url, config.proxy, [](const char* name) { return std::getenv(name); });
  if (!proxy) return proxy.error();
  // OpenSSL writes with write(2), not send(MSG_NOSIGNAL): a relay that
  // closes a TLS connection while we write (a refused client certificate,
  // a relay going down) would kill the process with SIGPIPE instead of
  // failing the call. Programs that talk to the relay want the error.
#ifdef SIGPIPE  // Windows has none: a write to a closed socket fails there.
  static std::once_flag sigpipe_once;
  std::call_once(sigpipe_once, [] { ::signal(SIGPIPE, SIG_IGN); });
#endif
  RelayConfig c = config;
  if (c.url.back() == '/') c.url.pop_back();
  auto impl = std::make_unique<Impl>(c);
  auto& cli = impl->client;
  cli.set_connection_timeout(c.connect_timeout);
  cli.set_read_timeout(c.read_timeout);
  cli.set_write_timeout(c.write_timeout);
  cli.set_keep_alive(false);  // 0.11.4 breaks every other request on a kept-alive TLS connection
  // Uploads are streams of records written as they are sealed: Nagle would
  // hold each record's tail until the relay acknowledges the one before.
  cli.set_tcp_nodelay(true);
  cli.set_follow_location(false);
  cli.set_compress(false);
  cli.set_decompress(false);
  if (m[1] == "https") {
    if (!c.ca_file.empty()) cli.set_ca_cert_path(c.ca_file.c_str());
    cli.enable_server_certificate_verification(true);
  }
  if (*proxy) {
    const Proxy& p = **proxy;
    cli.set_proxy(p.host, p.port);
    impl->route.proxy = p.display();
    if (!p.user.empty() || !p.password.empty()) {
      cli.set_proxy_basic_auth(p.user, p.password);
      impl->route.hide_proxy_auth = m[1] == "https";
    }
  }
  return std::unique_ptr<RelayClient>(new RelayClient(std::move(c), std::move(impl)));
}

Result<nlohmann::json> RelayClient::call(const std::string& method, const std::string& path,
                                         const nlohmann::json* body, const Headers& headers) {
  auto h = to_httplib(headers, config_, impl_->route);
  std::string payload = body ? body->dump() : std::string();
  httplib::Request req;
  req.method = method;
  req.path = path;
  req.headers = h;
  if (body) {
    req.body = payload;
    req.set_header("Content-Type", "application/json");
  }
  std::string reply;
  bool too_big = false;
  req.content_receiver = [&](const char* data, size_t n, uint64_t, uint64_t) {
    if (reply.size() + n > kMaxJsonReplyBytes) {
      too_big = true;
      return false;
    }
    reply.append(data, n);
    return true;
  };
  auto res = impl_->client.send(req);
  if (too_big) return make_error(ErrorCode::bad_response, "the relay's reply exceeds 16 MiB");
  if (res && res->status == 407 && !impl_->route.proxy.empty()) return proxy_refused(impl_->route);
  if (!res) return transport_error(res.error(), config_, impl_->route);
  if (res->status < 200 || res->status >= 300) return status_error(res->status, reply);
  if (reply.empty()) return nlohmann::json::object();
  auto j = nlohmann::json::parse(reply, nullptr, false);
  if (j.is_discarded()) return make_error(ErrorCode::bad_response, "the relay's reply is not JSON");
  return j;
}

Result<bool> RelayClient::stream(const std::string& path, const std::string& last_event_id, const Headers& headers,
                                 const std::function<bool(sse::Event&&)>& on_event) {
  auto h = to_httplib(headers, config_, impl_->route);
  if (h.find("Accept") == h.end()) h.emplace("Accept", std::string(sse::kContentType));
  if (!last_event_id.empty()) h.emplace("Last-Event-ID", last_event_id);
  int status = 0;
  bool binary = false;
  std::string error_body;
  sse::Parser parser;
  event_stream::Reader records;
  std::optional<Error> parse_error;
  bool stopped_by_caller = false;
  auto res = impl_->client.Get(
      path, h,
      [&](const httplib::Response& r) {
        status = r.status;
        binary = r.get_header_value("Content-Type") == event_stream::kContentType;
        return true;
      },
      [&](const char* data, size_t n) {
        if (status != 200) {
          if (error_body.size() + n > kMaxErrorBodyBytes) return false;
          error_body.append(data, n);
          return true;
        }
        bool go_on = true;
        auto deliver = [&](sse::Event&& e) {
          if (go_on && !on_event(std::move(e))) go_on = false;
        };
        auto fed = binary ? records.feed(std::string_view(data, n), deliver)
                          : parser.feed(std::string_view(data, n), deliver);
        if (!fed) {
          parse_error = fed.error();
          return false;
        }
        if (!go_on) stopped_by_caller = true;
        return go_on;
      });
  if (stopped_by_caller) return true;
  if (res && res->status == 407 && !impl_->route.proxy.empty()) return proxy_refused(impl_->route);
  if (parse_error) return make_error(ErrorCode::bad_stream, "the relay's event stream is malformed: " + parse_error->message);
  if (status != 0 && status != 200) return status_error(status, error_body);
  if (!res) return transport_error(res.error(), config_, impl_->route);
  return false;
}

Result<nlohmann::json> RelayClient::upload(const std::string& path, const Headers& headers,
                                           const std::function<bool(std::string&)>& next) {
  auto h = to_httplib(headers, config_, impl_->route);
  std::string buffer;
  auto res = impl_->client.Post(
      path, h,
      [&](size_t, httplib::DataSink& sink) {
        buffer.clear();
        if (!next(buffer)) {
          if (!buffer.empty() && !sink.write(buffer.data(), buffer.size())) return false;
          sink.done();
          return true;
        }
        // An empty write would end the body early (docs/dependencies.md §1.a).
        return buffer.empty() || sink.write(buffer.data(), buffer.size());
      },
      "application/octet-stream");
  if (res && res->status == 407 && !impl_->route.proxy.empty()) return proxy_refused(impl_->route);
  if (!res) return transport_error(res.error(), config_, impl_->route);
  if (res->status < 200 || res->status >= 300) return status_error(res->status, res->body);
  auto j = nlohmann::json::parse(res->body, nullptr, false);
  if (j.is_discarded()) return make_error(ErrorCode::bad_response, "the relay's reply is not JSON");
  return j;
}

void RelayClient::stop() { impl_->client.stop(); }

std::string RelayClient::proxy_display() const { return impl_->route.proxy; }

}  // namespace sealrelay
