#include "tests/integration/relay/harness.h"

#include <gtest/gtest.h>
#include <openssl/rand.h>

#include "base/base64.h"
#include "proto/upload.h"

namespace sealrelay::test {

std::unique_ptr<Relay> Relay::start(const std::string& dir, std::vector<std::string> extra,
                                    const std::string& name) {
  auto r = std::make_unique<Relay>();
  std::vector<std::string> argv = {binary("relay/sealrelay-relay"),
                                   "--tokens",
                                   dir + "/tokens.json",
                                   "--listen",
                                   "127.0.0.1:0",
                                   "--heartbeat-seconds",
                                   "0.2",
                                   "--log-level",
                                   "debug"};
  argv.insert(argv.end(), extra.begin(), extra.end());
  auto p = Process::spawn(argv, dir + "/" + name + ".log");
  if (!p) {
    ADD_FAILURE() << p.error().message;
    return nullptr;
  }
  r->proc_ = std::move(*p);
  auto port = r->proc_->wait_for_log(R"(listening on 127\.0\.0\.1:(\d+))", 10s);
  if (!port) {
    ADD_FAILURE() << "relay did not start:\n" << r->proc_->log();
    return nullptr;
  }
  r->port_ = std::stoi(*port);
  return r;
}

std::string Relay::token(const std::string& dir, std::vector<std::string> args) {
  std::vector<std::string> argv = {binary("relay/sealrelay-relay"), "--tokens",
                                   dir + "/tokens.json", "token"};
  argv.insert(argv.end(), args.begin(), args.end());
  auto r = run_command(argv);
  if (!r || r->exit_code != 0) {
    ADD_FAILURE() << "token command failed: " << (r ? r->err : r.error().message);
    return "";
  }
  std::string out = r->out;
  while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
  return out;
}

Reply call(int port, const std::string& method, const std::string& path, const std::string& token,
           const json& body, httplib::Headers extra) {
  httplib::Client cli("127.0.0.1", port);
  cli.set_connection_timeout(5);
  cli.set_read_timeout(10);
  if (!token.empty()) extra.emplace("Authorization", "Bearer " + token);
  httplib::Result res{nullptr, httplib::Error::Unknown};
  std::string text = body.is_null() ? "" : body.dump();
  if (method == "GET") res = cli.Get(path.c_str(), extra);
  else if (method == "DELETE") res = cli.Delete(path.c_str(), extra);
  else if (method == "POST") res = cli.Post(path.c_str(), extra, text, "application/json");
  Reply r;
  if (!res) return r;
  r.status = res->status;
  r.raw = res->body;
  r.headers = res->headers;
  r.body = json::parse(res->body, nullptr, false);
  return r;
}

std::string random_bytes(size_t n) {
  std::string s(n, '\0');
  if (n) RAND_bytes(reinterpret_cast<unsigned char*>(s.data()), static_cast<int>(n));
  return s;
}

std::string random_key_b64() { return b64(random_bytes(32)); }

std::string b64(std::string_view bytes) { return base64::encode(bytes); }

std::string unb64(const std::string& text) {
  std::vector<uint8_t> out;
  if (!base64::decode_into(text, out)) {
    ADD_FAILURE() << "bad base64 from the relay: " << text.substr(0, 80);
    return "";
  }
  return std::string(out.begin(), out.end());
}

SseReader::SseReader(int port, const std::string& path, httplib::Headers headers)
    : cli_(std::make_unique<httplib::Client>("127.0.0.1", port)) {
  cli_->set_connection_timeout(5);
  cli_->set_read_timeout(30);
  thread_ = std::thread([this, path, headers] {
    sse::Parser parser;
    auto res = cli_->Get(
        path.c_str(), headers,
        [&](const httplib::Response& r) {
          std::lock_guard lk(mu_);
          status_ = r.status;
          cv_.notify_all();
          return true;
        },
        [&](const char* d, size_t n) {
          if (on_chunk) on_chunk();
          std::lock_guard lk(mu_);
          raw_.append(d, n);
          (void)parser.feed(std::string_view(d, n),
                            [&](sse::Event&& e) { events_.push_back(std::move(e)); });
          cv_.notify_all();
          return true;
        });
    std::lock_guard lk(mu_);
    if (res && status_ == 0) status_ = res->status;
    if (res && res->status != 200) raw_ = res->body;
    closed_ = true;
    cv_.notify_all();
  });
}

SseReader::~SseReader() {
  stop();
  thread_.join();
}

void SseReader::stop() { cli_->stop(); }

bool SseReader::wait(const std::function<bool(const std::vector<sse::Event>&)>& pred,
                     std::chrono::milliseconds timeout) {
  std::unique_lock lk(mu_);
  return cv_.wait_for(lk, timeout, [&] { return pred(events_); });
}

bool SseReader::wait_closed(std::chrono::milliseconds timeout) {
  std::unique_lock lk(mu_);
  return cv_.wait_for(lk, timeout, [&] { return closed_; });
}

std::vector<sse::Event> SseReader::events() {
  std::lock_guard lk(mu_);
  return events_;
}

int SseReader::status() {
  std::unique_lock lk(mu_);
  cv_.wait_for(lk, 10s, [&] { return status_ != 0 || closed_; });
  return status_;
}

std::string SseReader::raw() {
  std::lock_guard lk(mu_);
  return raw_;
}

void Agent::connect(const std::string& last_event_id) {
  httplib::Headers h = {{"Authorization", "Bearer " + token},
                        {"X-Sealrelay-Public-Key", key},
                        {"X-Sealrelay-Version", "test-agent/1"}};
  if (!last_event_id.empty()) h.emplace("Last-Event-ID", last_event_id);
  control.reset();
  control = std::make_unique<SseReader>(port, "/v1/agent/control", h);
  // The relay records presence before it sends the headers: 200 = online.
  ASSERT_EQ(control->status(), 200) << control->raw();
}

Reply Agent::answer(const std::string& tid, const std::string& msg2) {
  return call(port, "POST", "/v1/agent/transfers/" + tid + "/answer", token, {{"msg2", b64(msg2)}});
}

Reply Agent::upload(const std::string& tid, uint64_t first, const std::vector<std::string>& frames,
                    bool end, const std::optional<std::string>& answer) {
  httplib::Client cli("127.0.0.1", port);
  cli.set_connection_timeout(5);
  cli.set_read_timeout(60);
  cli.set_write_timeout(60);
  httplib::Headers h = {{"Authorization", "Bearer " + token},
                        {"X-Sealrelay-First-Frame", std::to_string(first)}};
  if (answer) h.emplace("X-Sealrelay-Answer", "record");
  size_t next = 0;
  bool sent_end = false, sent_answer = !answer;
  auto res = cli.Post(
      ("/v1/agent/transfers/" + tid + "/frames").c_str(), h,
      [&](size_t, httplib::DataSink& sink) {
        std::string rec;
        if (!sent_answer) {
          upload::append_record(rec, std::string_view(*answer));
          sent_answer = true;
        } else if (next < frames.size()) {
          upload::append_record(rec, std::string_view(frames[next++]));
        } else if (end && !sent_end) {
          upload::append_end(rec);
          sent_end = true;
        } else {
          sink.done();
          return true;
        }
        return sink.write(rec.data(), rec.size());
      },
      "application/octet-stream");
  Reply r;
  if (!res) return r;
  r.status = res->status;
  r.raw = res->body;
  r.body = json::parse(res->body, nullptr, false);
  return r;
}

std::vector<std::string> test_frames(size_t n, size_t max_size) {
  std::vector<std::string> out;
  for (size_t i = 0; i < n; ++i) {
    size_t size = 1 + (i * 7919 + 13) % max_size;
    std::string f = random_bytes(size);
    f[0] = static_cast<char>(i);  // frames differ even if RAND repeats
    out.push_back(std::move(f));
  }
  return out;
}

}  // namespace sealrelay::test
