// The route table and one handler per route: each reads its request, calls
// a module (transfers.h, upload_session.h, event_pump.h) and writes its
// answer. Streams follow docs/dependencies.md §1.a: exact text/event-stream,
// every provider call blocks at most until the next heartbeat is due, and
// every idle wake either writes a heartbeat or checks sink.is_writable()
// (0.11.4 otherwise keeps calling a provider whose client is gone, forever).
#include <httplib.h>
#include <spdlog/spdlog.h>

#include <cstdio>

#include "base/base64.h"
#include "base/fingerprint.h"
#include "base/ids.h"
#include "proto/errors.h"
#include "proto/event_stream.h"
#include "proto/sse.h"
#include "relay/admission.h"
#include "relay/event_pump.h"
#include "relay/server.h"
#include "relay/upload_session.h"

namespace sealrelay::relay {

using nlohmann::json;

namespace {

// A stream's body is chunked (Transfer-Encoding) by the relay itself:
// cpp-httplib's chunked provider copies every write three times to frame it,
// while its provider without a length hands each write to the socket as is
// (the relay's CPU per GB: 0.80 -> 0.70 s through the embedded store, 1.31 ->
// 1.15 through Redis, 3 alternating rounds; commit 2b43c56's message). The
// wire is the same: a client still tells a complete stream from a cut one by
// the last chunk. Each write is one chunk: its size line (with the CRLF that
// ends the chunk before it), then the bytes; a small chunk in one write.
class ChunkedSink final : public StreamSink {
 public:
  // The provider's sink of this call.
  void attach(httplib::DataSink& sink) { sink_ = &sink; }
  bool write(std::string_view s) override {
    char size_line[24];
    int n = std::snprintf(size_line, sizeof size_line, "%s%zx\r\n", chunks_++ ? "\r\n" : "", s.size());
    // A small chunk (heartbeats, control events) goes out in one write: each
    // DataSink::write costs two polls and a send, and 10,000 idle streams
    // write a heartbeat every 15 s. A frame keeps its two writes (no copy).
    if (s.size() <= kCoalesceBytes) {
      small_.assign(size_line, static_cast<size_t>(n)).append(s);
      return sink_->write(small_.data(), small_.size());
    }
    return sink_->write(size_line, static_cast<size_t>(n)) && sink_->write(s.data(), s.size());
  }
  // The last chunk, then the body.
  void end() override {
    std::string_view last = chunks_ ? "\r\n0\r\n\r\n" : "0\r\n\r\n";
    if (sink_->write(last.data(), last.size())) sink_->done();
  }
  // The one place that uses DataSink::is_writable (removed in cpp-httplib
  // 0.12.0; see docs/dependencies.md §1.a).
  bool alive() override { return sink_->is_writable(); }

 private:
  static constexpr size_t kCoalesceBytes = 4096;
  httplib::DataSink* sink_ = nullptr;
  uint64_t chunks_ = 0;  // across provider calls: the first has no CRLF before it
  std::string small_;    // a small chunk with its size line, reused
};

// A stream's response: its headers, and a provider that pumps `pump` until
// it ends or is cut (one ChunkedSink for the stream's life).
template <class Pump>
void stream(httplib::Response& res, std::string_view content_type, std::shared_ptr<Pump> pump) {
  res.set_header("Cache-Control", "no-cache");
  res.set_header("X-Accel-Buffering", "no");
  res.set_header("Transfer-Encoding", "chunked");
  auto chunks = std::make_shared<ChunkedSink>();
  res.set_content_provider(
      std::string(content_type),
      [pump, chunks](size_t, httplib::DataSink& sink) {
        chunks->attach(sink);
        return pump->pump(*chunks);
      },
      [pump](bool) { pump->close(); });
}

// Reads and drops up to 64 KiB of a body the relay refuses before reading
// it: a socket closed with unread data is reset, and the client would lose
// the error answer. A larger body is cut (the client sees a broken upload)
// and the connection closed after the answer (close_if_refused), so the rest
// is never parsed as a next request. Cutting it makes cpp-httplib set the
// status to 400: the refusal already written to `res` keeps its own status.
void drain(const httplib::ContentReader& reader, httplib::Response& res) {
  const int status = res.status;
  size_t left = 64u << 10;
  bool whole = reader([&](const char*, size_t n) {
    if (n > left) return false;
    left -= n;
    return true;
  });
  res.status = status;
  if (!whole) res.set_header("Connection", "close");
}

// The body as a JSON object, or nullopt.
std::optional<json> json_body(const httplib::Request& req) {
  auto j = json::parse(req.body, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return std::nullopt;
  return j;
}

std::optional<std::string> string_of(const json& j) {
  return j.is_string() ? std::optional(j.get<std::string>()) : std::nullopt;
}

json error_json(const TransferInfo& t) {
  return {{"error", t.error_code}, {"message", t.error_message}};
}

// Requester view of a transfer (GET /v1/transfers/{tid}).
json transfer_json(const TransferInfo& t) {
  json j = {{"transfer_id", t.id},        {"agent", t.agent},         {"state", to_string(t.state)},
            {"created", t.created},       {"updated", t.updated},     {"frames", t.frames},
            {"delivered", t.delivered},   {"bytes", t.bytes},
            {"complete", t.state == State::complete},
            {"cancelled", t.state == State::cancelled}};
  if (!t.error_code.empty()) j["error"] = error_json(t);
  return j;
}

json agent_json(const AgentInfo& a) {
  json j = {{"id", a.id},          {"online", a.online}, {"last_seen", a.last_seen},
            {"public_key", a.public_key}, {"version", a.version}};
  std::vector<uint8_t> pk;
  if (base64::decode_into(a.public_key, pk) && pk.size() == kKeyBytes) {
    j["fingerprint"] = fingerprint::of(std::span<const uint8_t, kKeyBytes>(pk.data(), kKeyBytes));
  }
  return j;
}

}  // namespace

// ---- the table ---------------------------------------------------------------

std::span<const Server::Route> Server::routes() {
  static const Route table[] = {
      {"GET", "/healthz", &Server::healthz},
      {"GET", "/readyz", &Server::readyz},
      {"GET", "/metrics", &Server::metrics},
      {"GET", "/v1/agents", &Server::list_agents},
      {"POST", "/v1/transfers", &Server::create_transfer},
      {"GET", "/v1/transfers", &Server::list_transfers},
      {"GET", "/v1/transfers/{tid}", &Server::get_transfer},
      {"DELETE", "/v1/transfers/{tid}", &Server::cancel_transfer},
      {"GET", "/v1/transfers/{tid}/events", &Server::transfer_events},
      {"GET", "/v1/agent/control", &Server::control_stream},
      {"POST", "/v1/agent/transfers/{tid}/answer", &Server::answer},
      {"POST", "/v1/agent/transfers/{tid}/frames", &Server::upload},
      {"GET", "/v1/agent/transfers/{tid}", &Server::agent_status},
  };
  return table;
}

namespace {

// Does `path` fit the route's path, a {...} segment standing for any one
// non-empty segment? (The same as the regex register_routes() gives
// cpp-httplib, without a regex per request.)
bool fits(std::string_view pattern, std::string_view path) {
  while (!pattern.empty() && !path.empty()) {
    size_t p = pattern.find('/', 1), q = path.find('/', 1);
    std::string_view ps = pattern.substr(0, p), qs = path.substr(0, q);
    bool any = ps.size() > 2 && ps[1] == '{';
    if (any ? qs.size() < 2 : ps != qs) return false;
    pattern.remove_prefix(ps.size());
    path.remove_prefix(qs.size());
  }
  return pattern.empty() && path.empty();
}

}  // namespace

std::string Server::route_name(const std::string& method, const std::string& path) {
  for (auto& r : routes()) {
    if (method == r.method && fits(r.path, path)) return method + " " + r.path;
  }
  return method + (path.starts_with("/v1/") ? " /v1/other" : " static");
}

void Server::register_routes() {
  for (auto& r : routes()) {
    std::string pattern = r.path;
    if (auto at = pattern.find("{tid}"); at != std::string::npos) pattern.replace(at, 5, "([^/]+)");
    std::string method = r.method;
    if (auto* h = std::get_if<StreamingHandler>(&r.handler)) {
      http_->Post(pattern, [this, h = *h](const httplib::Request& req, httplib::Response& res,
                                          const httplib::ContentReader& reader) {
        (this->*h)(req, res, reader);
      });
      continue;
    }
    auto handle = [this, h = std::get<Handler>(r.handler)](const httplib::Request& req,
                                                           httplib::Response& res) {
      (this->*h)(req, res);
    };
    if (method == "GET") http_->Get(pattern, handle);
    if (method == "POST") http_->Post(pattern, handle);
    if (method == "DELETE") http_->Delete(pattern, handle);
  }
}

// ---- operations --------------------------------------------------------------

void Server::healthz(const httplib::Request&, httplib::Response& res) {
  send_json(res, 200, {{"status", "ok"}});
}

void Server::readyz(const httplib::Request&, httplib::Response& res) {
  auto r = store_->ping();
  if (!r) return fail(res, ErrorCode::store_unavailable, r.error().message);
  send_json(res, 200, {{"status", "ready"}});
}

void Server::metrics(const httplib::Request&, httplib::Response& res) {
  auto* pool = live_pool_.load();
  res.set_content(metrics_.render(pool ? static_cast<int64_t>(pool->active()) : 0,
                                  store_->count_by_state()),
                  "text/plain; version=0.0.4");
}

// ---- requester ---------------------------------------------------------------

void Server::list_agents(const httplib::Request& req, httplib::Response& res) {
  auto who = auth(req, res, TokenKind::requester);
  if (!who) return;
  auto agents = store_->list_agents();
  if (!agents) return fail(res, agents.error());
  json out = json::array();
  for (auto& a : *agents) {
    if (who->sees(a.id)) out.push_back(agent_json(a));
  }
  send_json(res, 200, {{"agents", out}});
}

void Server::create_transfer(const httplib::Request& req, httplib::Response& res) {
  auto who = auth(req, res, TokenKind::requester);
  if (!who) return;
  auto body = json_body(req);
  if (!body) return fail(res, ErrorCode::bad_request, "body must be a JSON object");
  auto agent = string_of(body->value("agent", json()));
  auto msg1 = string_of(body->value("msg1", json()));
  if (!agent || !msg1) {
    return fail(res, ErrorCode::bad_request, "need \"agent\" and \"msg1\" strings");
  }
  auto t = transfers_.create(*who, *agent, *msg1);
  if (!t) {
    if (errors::is(t.error(), ErrorCode::rate_limited)) res.set_header("Retry-After", "5");
    return fail(res, t.error());
  }
  send_json(res, 201, {{"transfer_id", t->id}, {"state", "requested"}});
}

void Server::list_transfers(const httplib::Request& req, httplib::Response& res) {
  auto who = auth(req, res, TokenKind::requester);
  if (!who) return;
  auto list = transfers_.list(*who);
  if (!list) return fail(res, list.error());
  json out = json::array();
  for (auto& t : *list) out.push_back(transfer_json(t));
  send_json(res, 200, {{"transfers", out}});
}

void Server::get_transfer(const httplib::Request& req, httplib::Response& res) {
  auto who = auth(req, res, TokenKind::requester);
  if (!who) return;
  if (auto t = owned(req, *who, res)) send_json(res, 200, transfer_json(*t));
}

void Server::cancel_transfer(const httplib::Request& req, httplib::Response& res) {
  auto who = auth(req, res, TokenKind::requester);
  if (!who) return;
  auto t = owned(req, *who, res);
  if (!t) return;
  auto r = req.has_param("done") ? transfers_.release(*t) : transfers_.cancel(*t);
  if (!r) return fail(res, r.error());
  send_json(res, 200, {{"transfer_id", r->id}, {"state", to_string(r->state)}});
}

void Server::transfer_events(const httplib::Request& req, httplib::Response& res) {
  auto who = auth(req, res, TokenKind::requester);
  if (!who) return;
  auto t = owned(req, *who, res);
  if (!t) return;
  auto cursor = TransferEvents::cursor_of(req.get_header_value("Last-Event-ID"));
  if (!cursor) return fail(res, ErrorCode::bad_request, "Last-Event-ID must be a decimal event id");
  auto lease = lease_for(*who);
  if (!lease) return fail(res, ErrorCode::unauthorized, "the token was revoked");
  bool binary = req.get_header_value("Accept").find(event_stream::kContentType) != std::string::npos;
  StreamContext ctx{*store_, transfers_, metrics_, presence_, cfg_.heartbeat, stopping_};
  stream(res, binary ? event_stream::kContentType : sse::kContentType,
         std::make_shared<TransferEvents>(ctx, t->id, *cursor, binary, std::move(lease)));
}

// ---- agent -------------------------------------------------------------------

void Server::control_stream(const httplib::Request& req, httplib::Response& res) {
  auto who = auth(req, res, TokenKind::agent);
  if (!who) return;
  std::string pk = req.get_header_value("X-Sealrelay-Public-Key");
  std::vector<uint8_t> key;
  if (!base64::decode_into(pk, key) || key.size() != kKeyBytes) {
    return fail(res, ErrorCode::bad_request,
                "X-Sealrelay-Public-Key must be standard base64 of a 32-byte X25519 key");
  }
  std::string version = req.get_header_value("X-Sealrelay-Version");
  bool printable = std::all_of(version.begin(), version.end(),
                               [](char c) { return c >= 0x20 && c < 0x7f; });
  if (version.size() > 64 || !printable) {
    return fail(res, ErrorCode::bad_request,
                "X-Sealrelay-Version must be <= 64 printable ASCII chars");
  }
  auto lease = lease_for(*who);
  if (!lease) return fail(res, ErrorCode::unauthorized, "the token was revoked");
  StreamContext ctx{*store_, transfers_, metrics_, presence_, cfg_.heartbeat, stopping_};
  auto c = ControlEvents::open(ctx, {who->agent, pk, version, 0, true},
                               req.get_header_value("Last-Event-ID"), std::move(lease));
  if (!c) return fail(res, c.error());
  spdlog::info("agent {} connected from {}", who->agent, req.remote_addr);
  stream(res, sse::kContentType, std::shared_ptr<ControlEvents>(std::move(*c)));
}

void Server::answer(const httplib::Request& req, httplib::Response& res) {
  auto who = auth(req, res, TokenKind::agent);
  if (!who) return;
  auto t = owned(req, *who, res);
  if (!t) return;
  auto body = json_body(req);
  if (!body) return fail(res, ErrorCode::bad_request, "body must be a JSON object");
  auto r = body->contains("msg2")
               ? transfers_.answer(*t, string_of((*body)["msg2"]).value_or(""))
               : transfers_.refuse(*t, string_of(body->value("error", json())),
                                   string_of(body->value("message", json(""))));
  if (!r) return fail(res, r.error());
  send_json(res, 200, {{"state", to_string(r->state)}});
}

void Server::agent_status(const httplib::Request& req, httplib::Response& res) {
  auto who = auth(req, res, TokenKind::agent);
  if (!who) return;
  auto t = owned(req, *who, res);
  if (!t) return;
  json j = {{"state", to_string(t->state)},
            {"next_frame", t->frames},
            {"cancelled", t->state == State::cancelled},
            {"delivered", t->delivered}};
  if (!t->error_code.empty()) j["error"] = error_json(*t);
  send_json(res, 200, j);
}

void Server::upload(const httplib::Request& req, httplib::Response& res,
                    const httplib::ContentReader& reader) {
  auto who = auth(req, res, TokenKind::agent);
  if (!who) return drain(reader, res);
  auto lease = lease_for(*who);
  if (!lease) {
    fail(res, ErrorCode::unauthorized, "the token was revoked");
    return drain(reader, res);
  }
  auto t = owned(req, *who, res);
  if (!t) return drain(reader, res);
  std::string first = req.get_header_value("X-Sealrelay-First-Frame");
  bool digits = std::all_of(first.begin(), first.end(), [](char c) { return c >= '0' && c <= '9'; });
  if (first.empty() || first.size() > 18 || !digits) {
    drain(reader, res);
    return fail(res, ErrorCode::bad_request, "X-Sealrelay-First-Frame must be a frame index");
  }
  std::string answer = req.get_header_value("X-Sealrelay-Answer");
  if (!answer.empty() && answer != "record") {
    drain(reader, res);
    return fail(res, ErrorCode::bad_request, "X-Sealrelay-Answer must be \"record\"");
  }
  UploadLimits limits{cfg_.max_frame_bytes, cfg_.window_frames, cfg_.upload_stall};
  auto up = answer.empty()
                ? UploadSession::begin(*store_, metrics_, limits, t->id, std::stoull(first))
                : UploadSession::begin_after_answer(
                      *store_, metrics_, limits, t->id, std::stoull(first), [&](std::string_view msg2) {
                        auto answered = transfers_.answer(*t, base64::encode(msg2));
                        return answered ? Result<void>() : Result<void>(answered.error());
                      });
  if (!up) {
    drain(reader, res);
    return fail_upload(res, t->id, up.error());
  }
  std::optional<Error> err;
  // After a refusal of the body's content (a conflict, a bad record), up to
  // one frame more is read and dropped, so a short upload's sender gets the
  // answer rather than a reset from a close over unread bytes; a longer
  // rest stays unread and the connection closes.
  uint64_t dropped = 0;
  bool ok = reader([&](const char* data, size_t len) {
    if (err) return (dropped += len) <= cfg_.max_frame_bytes;
    if (lease->revoked()) {
      err = make_error(ErrorCode::unauthorized, "the token was revoked");
      return false;  // cut here
    }
    auto fed = (*up)->feed(std::string_view(data, len));
    if (!fed) err = fed.error();
    return true;
  });
  uint64_t next = (*up)->next();
  bool complete = (*up)->complete();
  up->reset();
  if (!ok) res.set_header("Connection", "close");  // the rest of the body is unread
  if (err) return fail_upload(res, t->id, *err);
  if (!ok) {
    spdlog::info("upload of {} interrupted at frame {}", t->id, next);
    return fail(res, ErrorCode::bad_request, "the upload body was interrupted");
  }
  send_json(res, 200, {{"committed", next}, {"complete", complete}});
}

// ---- shared ------------------------------------------------------------------

std::optional<TransferInfo> Server::owned(const httplib::Request& req, const Principal& who,
                                          httplib::Response& res) {
  auto t = transfers_.owned(req.matches[1], who);
  if (!t) {
    fail(res, t.error());
    return std::nullopt;
  }
  return *t;
}

void Server::fail_upload(httplib::Response& res, const std::string& tid, const Error& e) {
  if (!errors::is(e, ErrorCode::conflict)) return fail(res, e);
  auto now = store_->get_transfer(tid);
  fail(res, ErrorCode::conflict, e.message, {{"next_frame", now ? now->frames : 0}});
}

}  // namespace sealrelay::relay
