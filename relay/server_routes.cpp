// The long-lived routes: the agent control stream, the requester event
// stream (both SSE), the frame upload; and the agent's answer and status.
//
// SSE providers follow docs/dependencies.md §1.a: exact text/event-stream, every
// call blocks at most until the next heartbeat is due, and every idle wake
// either writes a heartbeat or checks sink.is_writable() (0.11.4 otherwise
// keeps calling a provider whose client is gone, forever).
#include <httplib.h>
#include <spdlog/spdlog.h>

#include <cstdio>
#include <nlohmann/json.hpp>

#include "base/base64.h"
#include "proto/event_stream.h"
#include "proto/upload.h"
#include "relay/server.h"
#include "relay/server_util.h"

namespace sealrelay::relay {

using nlohmann::json;
using SteadyClock = std::chrono::steady_clock;

struct Server::Stream {
  std::string tid;      // event streams
  std::string agent;    // control streams
  std::string session;  // control streams: presence session
  StreamId cursor;
  bool only_pending = false;  // control stream without Last-Event-ID
  bool started = false;
  bool done = false;  // the last event was written; end the stream
  std::unique_ptr<Subscription> sub;
  std::shared_ptr<Leases::Lease> lease;  // on the token that opened the stream
  SteadyClock::time_point last_write = SteadyClock::now();
  SteadyClock::time_point last_presence = SteadyClock::now();  // control streams
  uint64_t writes = 0;
  uint64_t delivered = 0;  // frames written (= SSE id of the last frame)
  uint64_t delivered_marked = 0;
  bool binary = false;   // event streams: records as stored (proto/event_stream.h), else SSE
  std::string rendered;  // SSE rendering of the last event, reused
  uint64_t chunks = 0;  // HTTP chunks written (see write())
};

namespace {

// The one place that uses DataSink::is_writable (removed in cpp-httplib
// 0.12.0; see docs/dependencies.md §1.a).
bool peer_alive(httplib::DataSink& sink) { return sink.is_writable(); }

// A stream's body is chunked (Transfer-Encoding) by the relay itself:
// cpp-httplib's chunked provider copies every write three times to frame it,
// while its provider without a length hands each write to the socket as is
// (the relay's CPU per GB: 0.80 -> 0.70 s through the embedded store, 1.31 ->
// 1.15 through Redis, 3 alternating rounds; commit 2b43c56's message). The wire is the same: a client
// still tells a complete stream from a cut one by the last chunk. Each write
// is one chunk: a small write of its size line (with the CRLF that ends the
// chunk before it), then the bytes.
bool write(Server::Stream& st, httplib::DataSink& sink, std::string_view s) {
  if (s.empty()) return true;  // an empty write would end the stream
  st.last_write = SteadyClock::now();
  ++st.writes;
  char size_line[24];
  int n = std::snprintf(size_line, sizeof size_line, "%s%zx\r\n", st.chunks++ ? "\r\n" : "", s.size());
  return sink.write(size_line, static_cast<size_t>(n)) && sink.write(s.data(), s.size());
}

// Ends a stream cleanly: the last chunk, then the body.
void end_stream(Server::Stream& st, httplib::DataSink& sink) {
  std::string_view last = st.chunks ? "\r\n0\r\n\r\n" : "0\r\n\r\n";
  if (sink.write(last.data(), last.size())) sink.done();
}

// The SSE form of a stored record (docs/api.md): the same name and id, and
// for a frame its bytes in base64.
void render_sse(const event_stream::RecordView& r, std::string& out) {
  using event_stream::Type;
  out.clear();
  std::string id;
  if (r.type == Type::answer || r.type == Type::frame || r.type == Type::end) id = std::to_string(r.id);
  if (r.type != Type::frame) return sse::append_event(out, event_stream::name(r.type), id, r.data);
  size_t b64 = base64::encoded_size(r.data.size());
  out.reserve(17 + id.size() + 7 + b64 + 2);
  out.append("event: frame\nid: ").append(id).append("\ndata: ");
  size_t at = out.size();
  out.resize(at + b64);
  base64::encode_into(
      std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(r.data.data()), r.data.size()),
      out.data() + at);
  out.append("\n\n");
}

// Writes an event, given as its record, in the stream's format.
bool write_event(Server::Stream& st, httplib::DataSink& sink, std::string_view record) {
  if (st.binary) return write(st, sink, record);
  auto r = event_stream::read_record(record);
  if (!r) {
    // Only a corrupted store holds such a thing: end the stream, the client resumes.
    spdlog::error("transfer {}: a stored event is not a record; ending the stream", st.tid);
    return false;
  }
  render_sse(*r, st.rendered);
  return write(st, sink, st.rendered);
}

bool write_heartbeat(Server::Stream& st, httplib::DataSink& sink) {
  if (st.binary) return write(st, sink, event_stream::record(event_stream::Type::heartbeat, 0, ""));
  std::string hb;
  sse::append_comment(hb, "hb");
  return write(st, sink, hb);
}

// Does the requester ask for the binary event stream?
bool wants_binary(const httplib::Request& req) {
  return req.get_header_value("Accept").find(event_stream::kContentType) != std::string::npos;
}

std::chrono::milliseconds until_heartbeat(const Server::Stream& st,
                                          std::chrono::milliseconds heartbeat) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      st.last_write + heartbeat - SteadyClock::now());
  return std::max(left, std::chrono::milliseconds(1));
}

bool heartbeat_due(const Server::Stream& st, std::chrono::milliseconds heartbeat) {
  return SteadyClock::now() >= st.last_write + heartbeat;
}

// Every stream's headers; its body goes through write() and end_stream().
void sse_headers(httplib::Response& res) {
  res.set_header("Cache-Control", "no-cache");
  res.set_header("X-Accel-Buffering", "no");
  res.set_header("Transfer-Encoding", "chunked");
}

// Last-Event-ID of the requester stream: "" (from the start), "0" (after the
// answer), "K" (after frame K-1).
std::optional<StreamId> transfer_cursor(const std::string& h) {
  if (h.empty()) return StreamId{0, 0};
  auto id = StreamId::parse(h);
  if (!id || id->seq != 0 || h.find('-') != std::string::npos) return std::nullopt;
  if (id->ms == 0) return StreamId{0, 1};
  return StreamId{id->ms, 0};
}

// Reads and drops up to 64 KiB of a body the relay refuses before reading
// it: a socket closed with unread data is reset, and the client would lose
// the error answer. A larger body is cut (the client sees a broken upload)
// and the connection closed after the answer (Server::routes), so the rest
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

}  // namespace

// ---- requester event stream --------------------------------------------------

void Server::transfer_events(const httplib::Request& req, httplib::Response& res) {
  auto who = auth(req, res, TokenKind::requester);
  if (!who) return;
  auto t = owned_transfer(req.matches[1], *who, res);
  if (!t) return;
  auto cursor = transfer_cursor(req.get_header_value("Last-Event-ID"));
  if (!cursor) return fail(res, 400, "bad_request", "Last-Event-ID must be a decimal event id");
  auto st = std::make_shared<Stream>();
  st->lease = lease_for(*who);
  if (!st->lease) return fail(res, 401, "unauthorized", "the token was revoked");
  st->tid = t->id;
  st->cursor = *cursor;
  st->binary = wants_binary(req);
  ++metrics_.event_streams;
  sse_headers(res);
  res.set_content_provider(
      std::string(st->binary ? event_stream::kContentType : sse::kContentType),
      [this, st](size_t, httplib::DataSink& sink) { return pump_events(*st, sink); },
      [this, st](bool) {
        st->sub.reset();
        --metrics_.event_streams;
      });
}

bool Server::emit_transfer_entry(Stream& st, const Entry& e, httplib::DataSink& sink) {
  if (e.id <= st.cursor) return true;
  if (!write_event(st, sink, *e.payload)) return false;
  st.cursor = e.id;
  if (e.kind == "frame") {
    st.delivered = e.id.ms;
    ++metrics_.frames_streamed;
    metrics_.bytes_streamed += e.payload->size();
  } else if (e.kind == "end" || e.kind == "error") {
    st.done = true;
  }
  return true;
}

bool Server::events_catch_up(Stream& st, httplib::DataSink& sink) {
  constexpr size_t kPage = 16;
  for (;;) {
    auto r = store_->read_events(st.tid, st.cursor, kPage);
    if (!r) {
      if (r.error().code != "unknown_transfer") return false;  // store down: client resumes
      st.done = true;
      return write_event(st, sink, error_event("expired", "the transfer expired"));
    }
    for (auto& e : r->entries) {
      if (!emit_transfer_entry(st, e, sink)) return false;
      if (st.done) break;
    }
    if (st.delivered > st.delivered_marked) {
      (void)store_->mark_delivered(st.tid, st.delivered);
      st.delivered_marked = st.delivered;
    }
    if (st.done) return true;
    if (r->gone) {
      st.done = true;
      return write_event(st, sink, event_stream::record(event_stream::Type::gone, 0,
                                                        json_text({{"earliest", r->earliest}})));
    }
    if (r->entries.size() < kPage || stopping_) return !stopping_;
  }
}

bool Server::pump_events(Stream& st, httplib::DataSink& sink) {
  if (stopping_ || st.lease->revoked()) return false;
  if (!st.started) {
    st.started = true;
    // Read what is there, subscribe from where that left off, read again
    // (covers entries published between the two, see mailbox.h).
    if (!events_catch_up(st, sink)) return false;
    if (!st.done) {
      st.sub = store_->subscribe_transfer(st.tid, st.cursor);
      st.lease->wake_through(st.sub->watch());
      if (!events_catch_up(st, sink)) return false;
    }
    if (!st.done) {
      // Resumed after the end event itself: nothing is left to send.
      auto t = store_->get_transfer(st.tid);
      st.done = t && t->state == State::complete && st.cursor >= StreamId{t->frames + 1, 0};
    }
    if (st.done) end_stream(st, sink);
    return true;
  }
  auto batch = st.sub->mailbox().wait(until_heartbeat(st, cfg_.heartbeat));
  if (batch.closed || stopping_ || st.lease->revoked()) return false;
  uint64_t writes = st.writes;
  // Entries reach a mailbox from two sources (this node's own appends, the
  // Redis reader), so one may come ahead of an entry still on its way: a
  // frame or end that is not the next one sends the stream to the store.
  auto ahead = [&](const Entry& e) {
    bool answered = st.cursor >= StreamId{0, 1};
    return (e.kind == "frame" || e.kind == "end") && (!answered || e.id.ms > st.cursor.ms + 1);
  };
  bool catch_up = batch.lagged || batch.poked;
  if (!catch_up) {
    for (auto& e : batch.entries) {
      if (ahead(e)) {
        catch_up = true;
        break;
      }
      if (!emit_transfer_entry(st, e, sink)) return false;
      if (st.done) break;
    }
    if (st.delivered > st.delivered_marked) {
      (void)store_->mark_delivered(st.tid, st.delivered);
      st.delivered_marked = st.delivered;
    }
  }
  if (catch_up && !st.done) {
    if (!events_catch_up(st, sink)) return false;
  }
  if (st.done) {
    end_stream(st, sink);
    return true;
  }
  if (st.writes != writes) return true;
  if (!heartbeat_due(st, cfg_.heartbeat)) return peer_alive(sink);
  // Idle: notice an overdue answer or a transfer that vanished, then beat.
  auto t = store_->get_transfer(st.tid);
  if (!t && t.error().code == "unknown_transfer") {
    st.done = true;
    write_event(st, sink, error_event("expired", "the transfer expired"));
    end_stream(st, sink);
    return true;
  }
  if (t && t->state == State::requested) {
    auto after = expire_if_overdue(*t);
    if (after.state == State::expired) {
      if (!events_catch_up(st, sink)) return false;
      if (st.done) end_stream(st, sink);
      return true;
    }
  }
  return write_heartbeat(st, sink);
}

// ---- agent control stream ----------------------------------------------------

void Server::control_stream(const httplib::Request& req, httplib::Response& res) {
  auto who = auth(req, res, TokenKind::agent);
  if (!who) return;
  std::string pk = req.get_header_value("X-Sealrelay-Public-Key");
  std::vector<uint8_t> key;
  if (!base64::decode_into(pk, key) || key.size() != 32) {
    return fail(res, 400, "bad_request",
                "X-Sealrelay-Public-Key must be standard base64 of a 32-byte X25519 key");
  }
  std::string version = req.get_header_value("X-Sealrelay-Version");
  bool printable = std::all_of(version.begin(), version.end(),
                               [](char c) { return c >= 0x20 && c < 0x7f; });
  if (version.size() > 64 || !printable) {
    return fail(res, 400, "bad_request", "X-Sealrelay-Version must be <= 64 printable ASCII chars");
  }
  auto st = std::make_shared<Stream>();
  st->lease = lease_for(*who);
  if (!st->lease) return fail(res, 401, "unauthorized", "the token was revoked");
  st->agent = who->agent;
  st->session = random_hex(12);
  std::string last = req.get_header_value("Last-Event-ID");
  if (last.empty()) {
    st->only_pending = true;
  } else {
    auto id = StreamId::parse(last);
    if (!id) return fail(res, 400, "bad_request", "Last-Event-ID is not a control event id");
    st->cursor = *id;
  }
  auto c = store_->agent_connect({who->agent, pk, version, 0, true}, st->session);
  if (!c) return fail(res, c.error());
  ++metrics_.control_streams;
  ++metrics_.agents_online;
  spdlog::info("agent {} connected from {}", who->agent, req.remote_addr);
  sse_headers(res);
  res.set_content_provider(
      std::string(sse::kContentType),
      [this, st](size_t, httplib::DataSink& sink) { return pump_control(*st, sink); },
      [this, st](bool) {
        st->sub.reset();
        (void)store_->agent_disconnect(st->agent, st->session);
        --metrics_.control_streams;
        --metrics_.agents_online;
        spdlog::info("agent {} disconnected", st->agent);
      });
}

bool Server::control_catch_up(Stream& st, httplib::DataSink& sink, bool only_pending) {
  constexpr size_t kPage = 100;
  for (;;) {
    auto r = store_->inbox_read(st.agent, st.cursor, kPage);
    if (!r) return false;
    for (auto& e : *r) {
      bool send = true;
      if (only_pending) {
        auto t = e.kind == "transfer" ? store_->get_transfer(e.ref) : Result<TransferInfo>(Error{});
        send = t.ok() && expire_if_overdue(*t).state == State::requested;
      }
      if (send && !write(st, sink, sse::event(e.kind, e.id.str(), *e.payload))) return false;
      st.cursor = e.id;
    }
    if (r->size() < kPage || stopping_) return !stopping_;
  }
}

bool Server::pump_control(Stream& st, httplib::DataSink& sink) {
  if (stopping_ || st.lease->revoked()) return false;
  if (!st.started) {
    st.started = true;
    if (!control_catch_up(st, sink, st.only_pending)) return false;
    st.sub = store_->subscribe_inbox(st.agent, st.cursor);
    st.lease->wake_through(st.sub->watch());
    return control_catch_up(st, sink, false);
  }
  auto batch = st.sub->mailbox().wait(until_heartbeat(st, cfg_.heartbeat));
  // A revoked token's stream is cut: the agent reconnects and meets a 401,
  // and its presence ends (the provider's release).
  if (batch.closed || stopping_ || st.lease->revoked()) return false;
  uint64_t writes = st.writes;
  if (batch.lagged || batch.poked) {
    if (!control_catch_up(st, sink, false)) return false;
  } else {
    for (auto& e : batch.entries) {
      if (e.id <= st.cursor) continue;
      if (!write(st, sink, sse::event(e.kind, e.id.str(), *e.payload))) return false;
      st.cursor = e.id;
    }
  }
  // Presence is refreshed every heartbeat interval, busy or idle.
  if (SteadyClock::now() >= st.last_presence + cfg_.heartbeat) {
    st.last_presence = SteadyClock::now();
    auto alive = store_->agent_heartbeat(st.agent, st.session);
    if (alive && !*alive) {
      spdlog::info("agent {}: a newer control stream took over", st.agent);
      end_stream(st, sink);
      return true;
    }
  }
  if (st.writes != writes) return true;
  if (!heartbeat_due(st, cfg_.heartbeat)) return peer_alive(sink);
  return write_heartbeat(st, sink);
}

// ---- agent JSON routes -------------------------------------------------------

void Server::answer(const httplib::Request& req, httplib::Response& res) {
  auto who = auth(req, res, TokenKind::agent);
  if (!who) return;
  auto t = owned_transfer(req.matches[1], *who, res);
  if (!t) return;
  auto body = parse_json_body(req);
  if (!body) return fail(res, 400, "bad_request", "body must be a JSON object");
  if (body->contains("msg2")) {
    auto m = (*body)["msg2"];
    std::vector<uint8_t> bytes;
    if (!m.is_string() || !base64::decode_into(m.get<std::string>(), bytes) || bytes.empty()) {
      return fail(res, 400, "bad_request", "msg2 must be canonical standard base64 of 1..65535 bytes");
    }
    if (bytes.size() > 65535) return fail(res, 413, "too_large", "msg2 exceeds 65535 bytes");
    auto r = store_->answer(
        t->id, event_stream::record(event_stream::Type::answer, 0, m.get<std::string>()));
    if (!r) return fail(res, r.error());
    return send_json(res, 200, {{"state", to_string(r->state)}});
  }
  auto code = body->value("error", json());
  auto message = body->value("message", json(""));
  bool code_ok = code.is_string() && !code.get<std::string>().empty() &&
                 code.get<std::string>().size() <= 64;
  if (code_ok) {
    for (char c : code.get<std::string>()) {
      code_ok = code_ok && ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_');
    }
  }
  if (!code_ok || !message.is_string() || message.get<std::string>().size() > 1024) {
    return fail(res, 400, "bad_request",
                "need {\"msg2\": base64} or {\"error\": [a-z0-9_]{1,64}, \"message\": <=1024 chars}");
  }
  std::string c = code, m = message;
  auto r = store_->finish(t->id, State::failed, c, m, error_event(c, m), State::requested);
  if (!r) return fail(res, r.error());
  if (r->state != State::failed || r->error_code != c) {
    return fail(res, 409, "conflict", "transfer " + t->id + " is " + to_string(r->state));
  }
  send_json(res, 200, {{"state", "failed"}});
}

void Server::agent_routes() {
  http_->Get("/v1/agent/control", [this](const httplib::Request& req, httplib::Response& res) {
    control_stream(req, res);
  });
  http_->Post(R"(/v1/agent/transfers/([^/]+)/answer)",
              [this](const httplib::Request& req, httplib::Response& res) { answer(req, res); });
  http_->Post(R"(/v1/agent/transfers/([^/]+)/frames)",
              [this](const httplib::Request& req, httplib::Response& res,
                     const httplib::ContentReader& reader) { upload(req, res, reader); });
  http_->Get(R"(/v1/agent/transfers/([^/]+))", [this](const httplib::Request& req,
                                                      httplib::Response& res) {
    auto who = auth(req, res, TokenKind::agent);
    if (!who) return;
    auto t = owned_transfer(req.matches[1], *who, res);
    if (!t) return;
    json j = {{"state", to_string(t->state)},
              {"next_frame", t->frames},
              {"cancelled", t->state == State::cancelled},
              {"delivered", t->delivered}};
    if (!t->error_code.empty()) j["error"] = {{"error", t->error_code}, {"message", t->error_message}};
    send_json(res, 200, j);
  });
}

// ---- frame upload ------------------------------------------------------------

void Server::upload(const httplib::Request& req, httplib::Response& res,
                    const httplib::ContentReader& reader) {
  auto who = auth(req, res, TokenKind::agent);
  if (!who) return drain(reader, res);
  auto lease = lease_for(*who);
  if (!lease) {
    fail(res, 401, "unauthorized", "the token was revoked");
    return drain(reader, res);
  }
  auto t = owned_transfer(req.matches[1], *who, res);
  if (!t) return drain(reader, res);
  std::string first_h = req.get_header_value("X-Sealrelay-First-Frame");
  bool digits = !first_h.empty() && first_h.size() <= 18 &&
                std::all_of(first_h.begin(), first_h.end(), [](char c) { return c >= '0' && c <= '9'; });
  if (!digits) {
    drain(reader, res);
    return fail(res, 400, "bad_request", "X-Sealrelay-First-Frame must be a frame index");
  }
  uint64_t first = std::stoull(first_h);
  const std::string tid = t->id;
  const std::string session = random_hex(12);
  auto conflict = [&](const std::string& why) {
    auto now = store_->get_transfer(tid);
    metrics_.error("conflict");
    send_json(res, 409, {{"error", "conflict"}, {"message", why},
                         {"next_frame", now ? now->frames : 0}});
  };
  auto begun = store_->begin_upload(tid, session, first);
  if (!begun) {
    drain(reader, res);
    if (begun.error().code == "conflict") return conflict(begun.error().message);
    return fail(res, begun.error());
  }
  ++metrics_.uploads;
  int64_t queued = 0;  // this upload's share of metrics_.queue_frames
  auto set_queue = [&](const TransferInfo& info) {
    int64_t q = static_cast<int64_t>(info.frames - std::min(info.frames, info.delivered));
    metrics_.queue_frames += q - queued;
    queued = q;
  };

  upload::Reader records(cfg_.max_frame_bytes);
  uint64_t next = first;
  bool complete = false;
  std::optional<Error> err;
  std::vector<Store::Frame> batch;
  const uint64_t window = std::max<uint64_t>(cfg_.window_frames, 1);

  auto give_up_too_large = [&](const std::string& message) {
    (void)store_->finish(tid, State::failed, "too_large", message,
                         error_event("too_large", message), std::nullopt);
    err = make_error("too_large", message);
  };
  // Commits `batch` (and the end when `end`), never holding more than
  // `window` undelivered frames: waits for the requester in between.
  // The info the last append answered: when it shows room in the window,
  // the next append goes ahead without asking the store again (its
  // `delivered` can only be behind, so the room is never overestimated;
  // append itself refuses a transfer that ended or changed hands).
  std::optional<TransferInfo> known;
  auto commit = [&](bool end) -> bool {
    size_t i = 0;
    while (i < batch.size() || (end && !complete)) {
      size_t k = 0;
      if (i < batch.size()) {
        auto room = [&](const TransferInfo& x) {
          return x.frames - std::min(x.frames, x.delivered) < window || is_terminal(x.state) ||
                 x.upload_session != session;
        };
        Result<TransferInfo> info = make_error("store_error", "not read");
        if (known && room(*known)) {
          info = *known;
        } else {
          info = store_->wait_transfer(tid, room, cfg_.upload_stall);
        }
        if (!info) {
          err = info.error();
          return false;
        }
        set_queue(*info);
        uint64_t inflight = info->frames - std::min(info->frames, info->delivered);
        if (inflight >= window && !is_terminal(info->state) && info->upload_session == session) {
          err = make_error("conflict", "no requester read for " +
                                           std::to_string(cfg_.upload_stall.count()) + " s");
          return false;
        }
        k = std::min<size_t>(batch.size() - i, window - std::min(window, inflight));
        k = std::max<size_t>(k, 1);
      }
      bool last = end && i + k == batch.size();
      std::vector<Store::Frame> slice(std::make_move_iterator(batch.begin() + i),
                                      std::make_move_iterator(batch.begin() + i + k));
      std::string end_record = last ? event_stream::record(event_stream::Type::end, next + k + 1,
                                                           json_text({{"frames", next + k}}))
                                    : "";
      auto r = store_->append(tid, session, next, slice, end_record);
      if (!r) {
        if (r.error().code == "too_large") {
          give_up_too_large(r.error().message);
        } else {
          err = r.error();
        }
        return false;
      }
      for (auto& f : slice) {
        ++metrics_.frames_committed;
        metrics_.bytes_committed += f.bytes;
      }
      set_queue(*r);
      known = *r;
      next += k;
      i += k;
      if (last) complete = true;
    }
    batch.clear();
    return true;
  };

  bool ok = reader([&](const char* data, size_t len) {
    if (lease->revoked()) {  // cut at the next piece of body
      err = make_error("unauthorized", "the token was revoked");
      return false;
    }
    auto fed = records.feed(std::string_view(data, len), [&](std::string_view frame) {
      batch.push_back({std::make_shared<const std::string>(event_stream::record(
                           event_stream::Type::frame, next + batch.size() + 1, frame)),
                       frame.size()});
      return true;
    });
    if (!fed) {
      bool committed = commit(false);  // the records before the bad one were fine
      if (!committed) return false;
      if (fed.error().code == "frame_too_large") {
        give_up_too_large(fed.error().message);
      } else {
        err = make_error("bad_request", fed.error().message);
      }
      return false;
    }
    if (!batch.empty() || (records.ended() && !complete)) return commit(records.ended());
    return true;
  });

  --metrics_.uploads;
  metrics_.queue_frames -= queued;
  if (!ok) res.set_header("Connection", "close");  // the rest of the body is unread
  if (err) {
    if (err->code == "conflict") return conflict(err->message);
    return fail(res, *err);
  }
  if (!ok) {
    spdlog::info("upload of {} interrupted at frame {}", tid, next);
    return fail(res, 400, "bad_request", "the upload body was interrupted");
  }
  send_json(res, 200, {{"committed", next}, {"complete", complete}});
}

}  // namespace sealrelay::relay
