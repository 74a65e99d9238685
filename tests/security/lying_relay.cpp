#include "tests/security/lying_relay.h"

#include <charconv>
#include <condition_variable>
#include <deque>

#include "base/base64.h"
#include "proto/event_stream.h"

namespace sealrelay::test {

using nlohmann::json;

std::string render(const sse::Event& e) {
  std::string out;
  sse::append_event(out, e.name, e.id, e.data);
  return out;
}

// The binary record of an SSE-shaped event: a frame's base64 becomes its
// bytes (data that is not base64 goes as it is: garbage for the requester
// to refuse); an event the format has no type for is dropped.
std::string render_binary(const sse::Event& e) {
  auto type = event_stream::type_of(e.name);
  if (!type) return "";
  uint64_t id = 0;
  std::from_chars(e.id.data(), e.id.data() + e.id.size(), id);
  if (*type != event_stream::Type::frame) return event_stream::record(*type, id, e.data);
  std::vector<uint8_t> raw;
  if (!base64::decode_into(e.data, raw)) return event_stream::record(*type, id, e.data);
  return event_stream::record(*type, id, std::string_view(reinterpret_cast<const char*>(raw.data()), raw.size()));
}

// One requester event stream: an upstream reader thread feeding rendered,
// rewritten events to the downstream provider through a queue.
struct LyingRelay::Stream {
  std::mutex mu;
  std::condition_variable cv;
  int status = 0;              // upstream status, 0 until known; -1: no answer
  std::string error_body;      // upstream body when status != 200
  std::deque<std::string> out;  // rendered events for the requester
  bool upstream_done = false;
  std::atomic<bool> downstream_gone{false};
  std::thread reader;
};

namespace {

// The headers that mean something to the relay (the API's own and auth).
httplib::Headers upstream_headers(const httplib::Request& req) {
  httplib::Headers h;
  for (const auto& [name, value] : req.headers) {
    std::string lower = name;
    for (auto& ch : lower) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    if (lower == "authorization" || lower == "last-event-id" || lower.starts_with("x-sealrelay-")) {
      h.emplace(name, value);
    }
  }
  return h;
}

}  // namespace

LyingRelay::LyingRelay(int upstream_port) : upstream_port_(upstream_port) {
  server_.new_task_queue = [] { return new httplib::ThreadPool(32); };
  server_.set_read_timeout(60, 0);
  server_.set_write_timeout(30, 0);
  server_.Get(R"(/v1/transfers/([^/]+)/events)",
              [this](const httplib::Request& req, httplib::Response& res) { events(req, res); });
  server_.Get("/v1/agent/control", [this](const httplib::Request& req, httplib::Response& res) { events(req, res); });
  auto fwd = [this](const httplib::Request& req, httplib::Response& res) { forward(req, res); };
  server_.Get(".*", fwd);
  server_.Post(".*", fwd);
  server_.Delete(".*", fwd);
  port_ = server_.bind_to_any_port("127.0.0.1");
  thread_ = std::thread([this] { server_.listen_after_bind(); });
}

LyingRelay::~LyingRelay() {
  stopping_ = true;
  std::vector<std::shared_ptr<Stream>> streams;
  {
    std::lock_guard lk(mu_);
    streams = streams_;
  }
  for (auto& s : streams) {
    s->downstream_gone = true;
    s->cv.notify_all();
  }
  server_.stop();
  if (thread_.joinable()) thread_.join();
  for (auto& s : streams) {
    if (s->reader.joinable()) s->reader.join();
  }
}

std::vector<LyingRelay::Created> LyingRelay::created() {
  std::lock_guard lk(mu_);
  return created_;
}

std::vector<std::vector<sse::Event>> LyingRelay::upstream_streams() {
  std::lock_guard lk(mu_);
  return upstream_;
}

void LyingRelay::forward(const httplib::Request& req, httplib::Response& res) {
  if (answer_agent_call && req.path.starts_with("/v1/agent/transfers/")) {
    if (auto reply = answer_agent_call(req.method, req.path)) {
      res.status = reply->status;
      res.set_content(reply->body, "application/json");
      return;
    }
  }
  httplib::Client up("127.0.0.1", upstream_port_);
  up.set_connection_timeout(5);
  up.set_read_timeout(30);
  httplib::Headers h = upstream_headers(req);
  std::string body = req.body;
  const bool create = req.method == "POST" && req.path == "/v1/transfers";
  json create_body;
  if (create) {
    ++transfer_posts_;
    create_body = json::parse(body, nullptr, false);
    if (rewrite_create && create_body.is_object()) {
      rewrite_create(create_body);
      body = create_body.dump();
    }
  }
  httplib::Result r{nullptr, httplib::Error::Unknown};
  if (req.method == "GET") r = up.Get(req.path.c_str(), h);
  else if (req.method == "DELETE") r = up.Delete(req.path.c_str(), h);
  else r = up.Post(req.path.c_str(), h, body, req.get_header_value("Content-Type").c_str());
  if (!r) {
    res.status = 502;
    res.set_content(R"({"error":"network","message":"the lying relay lost its upstream"})", "application/json");
    return;
  }
  std::string out = r->body;
  if (req.method == "GET" && req.path == "/v1/agents" && r->status == 200 && rewrite_agents) {
    json dir = json::parse(out, nullptr, false);
    if (dir.is_object()) {
      rewrite_agents(dir);
      out = dir.dump();
    }
  }
  if (create && r->status == 201 && create_body.is_object()) {
    json reply = json::parse(out, nullptr, false);
    std::string auth = req.get_header_value("Authorization");
    std::lock_guard lk(mu_);
    created_.push_back(Created{reply.value("transfer_id", ""), create_body.value("agent", ""),
                               create_body.value("msg1", ""), auth.substr(auth.find(' ') + 1)});
  }
  res.status = r->status;
  for (const char* name : {"Retry-After", "WWW-Authenticate"}) {
    if (r->has_header(name)) res.set_header(name, r->get_header_value(name));
  }
  res.set_content(out, r->get_header_value("Content-Type").c_str());
}

void LyingRelay::events(const httplib::Request& req, httplib::Response& res) {
  auto st = std::make_shared<Stream>();
  const std::string tid = req.matches.size() > 1 ? std::string(req.matches[1]) : std::string();
  const std::string path = req.path;
  httplib::Headers h = upstream_headers(req);
  const bool binary = binary_events && !tid.empty() &&
                      req.get_header_value("Accept").find(event_stream::kContentType) != std::string::npos;
  if (binary) h.emplace("Accept", std::string(event_stream::kContentType));
  auto rendered = [binary](const sse::Event& e) { return binary ? render_binary(e) : render(e); };
  size_t slot;
  {
    std::lock_guard lk(mu_);
    streams_.push_back(st);
    upstream_.emplace_back();
    slot = upstream_.size() - 1;
  }
  st->reader = std::thread([this, st, tid, path, h, slot, binary, rendered] {
    httplib::Client up("127.0.0.1", upstream_port_);
    up.set_connection_timeout(5);
    up.set_read_timeout(60);
    sse::Parser parser;
    event_stream::Reader records;
    const Emit emit = [st, rendered](const sse::Event& e) {
      std::string text = rendered(e);
      if (text.empty()) return;  // an empty write would end the stream
      std::lock_guard lk(st->mu);
      st->out.push_back(std::move(text));
      st->cv.notify_all();
    };
    auto r = up.Get(
        path.c_str(), h,
        [&](const httplib::Response& resp) {
          std::lock_guard lk(st->mu);
          st->status = resp.status;
          st->cv.notify_all();
          return true;
        },
        [&](const char* d, size_t n) {
          if (st->downstream_gone || stopping_) return false;
          int status;
          {
            std::lock_guard lk(st->mu);
            status = st->status;
            if (status != 200) st->error_body.append(d, n);
          }
          if (status != 200) return true;
          auto on_event = [&](sse::Event&& e) {
            if (e.raw) {  // hooks see the SSE shape
              e.data = base64::encode(std::string_view(e.data));
              e.raw = false;
            }
            {
              std::lock_guard lk(mu_);
              upstream_[slot].push_back(e);
            }
            if (rewrite_events) {
              rewrite_events(tid, std::move(e), emit);
            } else {
              emit(e);
            }
          };
          auto fed = binary ? records.feed(std::string_view(d, n), on_event)
                            : parser.feed(std::string_view(d, n), on_event);
          return fed.ok();
        });
    std::lock_guard lk(st->mu);
    if (!r && st->status == 0) st->status = -1;
    st->upstream_done = true;
    st->cv.notify_all();
  });
  // Wait for the upstream status: a refusal is passed on as it came.
  std::unique_lock lk(st->mu);
  st->cv.wait(lk, [&] { return st->status != 0 || st->upstream_done; });
  if (st->status != 200) {
    st->cv.wait(lk, [&] { return st->upstream_done; });
    res.status = st->status > 0 ? st->status : 502;
    res.set_content(st->error_body, "application/json");
    return;
  }
  lk.unlock();
  if (on_stream_open) {
    std::vector<std::string> first;
    on_stream_open(path, [&first, rendered](const sse::Event& e) {
      if (std::string text = rendered(e); !text.empty()) first.push_back(std::move(text));
    });
    std::lock_guard lk(st->mu);
    st->out.insert(st->out.begin(), first.begin(), first.end());  // ahead of anything from upstream
  }
  res.set_header("Cache-Control", "no-cache");
  res.set_chunked_content_provider(
      std::string(binary ? event_stream::kContentType : sse::kContentType),
      [this, st](size_t, httplib::DataSink& sink) {
        std::unique_lock lk(st->mu);
        st->cv.wait_for(lk, std::chrono::milliseconds(200),
                        [&] { return !st->out.empty() || st->upstream_done || stopping_; });
        if (stopping_) return false;
        while (!st->out.empty()) {
          std::string chunk = std::move(st->out.front());
          st->out.pop_front();
          lk.unlock();
          if (!sink.write(chunk.data(), chunk.size())) return false;
          lk.lock();
        }
        if (st->upstream_done) {
          sink.done();
          return true;
        }
        lk.unlock();
        return sink.is_writable();
      },
      [st](bool) {
        st->downstream_gone = true;
        st->cv.notify_all();
      });
}

}  // namespace sealrelay::test
