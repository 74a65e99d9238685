#include "requester/transfer.h"

#include <charconv>

#include <unistd.h>

#include <sys/file.h>

#include <fcntl.h>

#include <chrono>
#include <condition_variable>
#include <optional>
#include <random>
#include <thread>

#include "base/base64.h"
#include "base/ids.h"
#include "proto/errors.h"
#include "crypto/frames.h"
#include "crypto/session.h"
#include "requester/terminal.h"

namespace sealrelay::requester {
namespace {

using Clock = std::chrono::steady_clock;

std::span<const uint8_t> as_bytes(std::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

// What the event loop has learned so far; survives reconnects.
struct StreamState {
  std::optional<InitiatorHandshake> handshake;
  std::optional<FrameOpener> opener;
  std::optional<Answer> answer;
  std::string last_id;
  bool offered_compression = false;
  bool tree = false;            // a folder stream: its length is the trailer's to check
  bool ended = false;           // the relay sent `end`
  bool done = false;            // nothing more to read (stat, refusal, or the trailer verified)
  std::optional<Error> failure;
  uint64_t bytes = 0;           // content bytes held, incl. prefix
  uint64_t received = 0;        // this session
  std::vector<uint8_t> frame, chunk;
};

// An error whose message may quote the relay: escaped for the terminal.
Error from_relay(Error e) {
  e.message = escaped(e.message);
  return e;
}

Error answer_refusal(const Answer& a) {
  return make_error(a.error, "the agent refused: " + escaped(a.message.empty() ? a.error : a.message));
}

// Handles one event. Returns false to stop reading (done or failed).
bool on_event(sse::Event&& e, StreamState& st, Sink* sink, const std::function<void(const Progress&)>& on_progress) {
  auto fail = [&](Error err) {
    st.failure = std::move(err);
    return false;
  };
  if (e.name == "answer") {
    if (st.answer) return fail(make_error("bad_response", "the relay sent the answer twice"));
    std::vector<uint8_t> msg2;
    if (!base64::decode_into(e.data, msg2)) return fail(make_error("bad_response", "answer is not base64"));
    auto done = st.handshake->finish(msg2);
    if (!done) return fail(done.error());
    auto answer = decode_answer(done->payload);
    if (!answer) return fail(answer.error());
    st.answer = *answer;
    st.last_id = e.id;
    if (!answer->ok) return fail(answer_refusal(*answer));
    if (answer->compression && !st.offered_compression) {
      return fail(make_error("bad_response", "the agent agreed to compression this request did not offer"));
    }
    if (!answer->frames) {
      st.done = true;
      return false;
    }
    st.opener.emplace(done->keys, answer->first_index, FrameLimits{answer->chunk_size, answer->compression});
    st.bytes = answer->offset;
    if (sink) {
      auto begun = sink->begin(*answer, [&](std::span<const uint8_t> prefix) { st.opener->absorb_prefix(prefix); });
      if (!begun) return fail(begun.error());
    }
    if (on_progress) on_progress(Progress{st.bytes, answer->size});
    return true;
  }
  if (e.name == "frame") {
    if (!st.opener) return fail(make_error("bad_response", "a frame arrived before the answer"));
    std::span<const uint8_t> frame = as_bytes(e.data);
    if (!e.raw) {
      if (!base64::decode_into(e.data, st.frame)) return fail(make_error("tampered", "a frame is not valid base64"));
      frame = st.frame;
    }
    auto kind = st.opener->open(frame, st.chunk);
    if (!kind) return fail(kind.error());
    st.last_id = e.id;
    if (*kind == FrameOpener::Kind::kTrailer) {
      // The trailer verified what arrived; it must also be what was announced
      // (a tree announces its files' bytes, not the stream's).
      if (!st.tree && st.bytes != st.answer->size) {
        return fail(make_error("trailer_mismatch", "the agent announced " + std::to_string(st.answer->size) +
                                                       " bytes but sent " + std::to_string(st.bytes)));
      }
      st.done = true;
      return false;
    }
    if (!st.tree && st.bytes + st.chunk.size() > st.answer->size) {
      return fail(make_error("bad_frame", "the agent sent more bytes than it announced"));
    }
    if (sink) {
      auto w = sink->write(st.chunk);
      if (!w) return fail(w.error());
    }
    st.bytes += st.chunk.size();
    st.received += st.chunk.size();
    if (on_progress) on_progress(Progress{st.bytes, st.answer->size});
    return true;
  }
  if (e.name == "end") {
    st.ended = true;
    return false;
  }
  if (e.name == "error") {
    auto j = nlohmann::json::parse(e.data, nullptr, false);
    std::string code = j.is_object() && j.value("error", nlohmann::json()).is_string() ? j["error"].get<std::string>()
                                                                                          : "relay_error";
    std::string message = j.is_object() && j.value("message", nlohmann::json()).is_string()
                              ? j["message"].get<std::string>()
                              : std::string();
    return fail(make_error(code, "the relay ended the transfer: " + escaped(message.empty() ? code : message)));
  }
  if (e.name == "gone") {
    return fail(make_error("history_gone", "the relay no longer holds the frames this download needs; run the same "
                                           "command again with --resume to continue from the partial file"));
  }
  return true;  // unknown events are ignored (docs/api.md)
}

// Watches the event stream from another thread. The read loop looks at
// `cancel` only when an event arrives, and a stream that carries only the
// relay's heartbeats (an agent that died mid-transfer) delivers none: the
// watchdog stops the blocked client when the user cancels, or when no event
// arrived for `stall`.
class Watchdog {
 public:
  Watchdog(RelayClient& relay, const std::atomic<bool>* cancel, std::chrono::seconds stall)
      : relay_(relay), cancel_(cancel), stall_(stall), thread_([this] { run(); }) {}
  ~Watchdog() {
    {
      std::lock_guard lk(mu_);
      done_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }
  Watchdog(const Watchdog&) = delete;
  Watchdog& operator=(const Watchdog&) = delete;

  // An event arrived: the stream is alive.
  void event() {
    std::lock_guard lk(mu_);
    last_event_ = Clock::now();
  }
  bool stalled() const { return stalled_.load(); }

 private:
  void run() {
    std::unique_lock lk(mu_);
    while (!done_) {
      cv_.wait_for(lk, std::chrono::milliseconds(100));
      if (done_) break;
      const bool cancelled = cancel_ && cancel_->load();
      if (!cancelled && Clock::now() - last_event_ < stall_) continue;
      if (!cancelled) stalled_ = true;
      relay_.stop();  // thread-safe: shuts the socket the stream blocks on
    }
  }

  RelayClient& relay_;
  const std::atomic<bool>* const cancel_;
  const std::chrono::seconds stall_;
  std::atomic<bool> stalled_{false};
  std::mutex mu_;
  std::condition_variable cv_;
  Clock::time_point last_event_ = Clock::now();  // Guarded by mu_
  bool done_ = false;                            // Guarded by mu_
  std::thread thread_;                           // last: starts once the rest is built
};

// Sleeps `d`, waking early when `cancel` is set.
void pause(std::chrono::milliseconds d, const std::atomic<bool>* cancel) {
  auto until = Clock::now() + d;
  while (Clock::now() < until && !(cancel && cancel->load())) {
    std::this_thread::sleep_for(std::min<Clock::duration>(std::chrono::milliseconds(50), until - Clock::now()));
  }
}

}  // namespace

Result<Target> parse_target(std::string_view text) {
  size_t colon = text.find(':');
  if (colon == std::string_view::npos || colon == 0) {
    return make_error("usage", "\"" + std::string(text) + "\" is not AGENT:/path");
  }
  Target t{std::string(text.substr(0, colon)), std::string(text.substr(colon + 1))};
  if (!ids::valid_agent_id(t.agent)) {
    return make_error("usage", "\"" + escaped(t.agent) + "\" is not an agent id (" + std::string(ids::kAgentIdRule) +
                                   ")");
  }
  if (t.path.empty()) t.path = "/";
  if (t.path.front() != '/') t.path.insert(t.path.begin(), '/');
  return t;
}

int64_t TimestampSource::next() {
  std::lock_guard lock(mu_);
  int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                    std::chrono::system_clock::now().time_since_epoch())
                    .count();
  last_ = std::max(now, last_ + 1);
  if (shared_file_.empty()) return last_;
  int fd = ::open(shared_file_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) return last_;
  if (::flock(fd, LOCK_EX) == 0) {
    char text[24] = {};
    ssize_t n = ::pread(fd, text, sizeof text - 1, 0);
    int64_t shared = 0;
    if (n > 0) std::from_chars(text, text + n, shared);
    last_ = std::max(last_, shared + 1);
    std::string out = std::to_string(last_);
    if (::pwrite(fd, out.data(), out.size(), 0) == static_cast<ssize_t>(out.size())) {
      (void)::ftruncate(fd, static_cast<off_t>(out.size()));
    }
  }
  ::close(fd);  // releases the lock
  return last_;
}

Result<void> MemorySink::begin(const Answer& answer, const std::function<void(std::span<const uint8_t>)>&) {
  if (answer.size > max_) return make_error("too_large", "the listing is larger than this client accepts");
  data_.clear();
  return {};
}

Result<void> MemorySink::write(std::span<const uint8_t> chunk) {
  if (data_.size() + chunk.size() > max_) return make_error("too_large", "more content than announced");
  data_.insert(data_.end(), chunk.begin(), chunk.end());
  return {};
}

Result<Outcome> run_request(const RelayConfig& relay_config, const Identity& me, const std::string& agent,
                            const PublicKey& agent_key, const RequestOptions& options, TimestampSource& clock,
                            Sink* sink, const std::function<void(const Progress&)>& on_progress,
                            const std::atomic<bool>* cancel) {
  auto client = RelayClient::create(relay_config);
  if (!client) return client.error();
  RelayClient& relay = **client;

  Request request;
  request.op = options.op;
  request.path = options.path;
  request.offset = sink ? sink->resume_offset() : 0;
  request.chunk_size = options.chunk_size;
  request.timestamp_ms = clock.next();
  request.offer_compression = options.offer_compression && options.op != Op::kStat;
  if (options.op == Op::kTree) {
    request.select = options.select;
    request.contents = options.contents;
    request.resume = options.resume;
  }
  std::string payload = encode_request(request);

  StreamState st;
  st.offered_compression = request.offer_compression;
  st.tree = options.op == Op::kTree;
  auto started = InitiatorHandshake::start(me, agent_key, as_bytes(payload));
  if (!started) return started.error();
  st.handshake.emplace(std::move(*started));

  nlohmann::json create{{"agent", agent}, {"msg1", base64::encode(st.handshake->message1())}};
  auto created = relay.call("POST", "/v1/transfers", &create);
  if (!created) return from_relay(created.error());
  if (!created->contains("transfer_id") || !(*created)["transfer_id"].is_string()) {
    return make_error("bad_response", "the relay did not return a transfer id");
  }
  // The id goes into URLs (and the relay is not trusted): the relay's own
  // form, or nothing.
  const std::string tid = (*created)["transfer_id"].get<std::string>();
  if (!ids::valid_transfer_id(tid)) {
    return make_error("bad_response", "the relay returned a transfer id that is not one (\"" + escaped(tid) +
                                          "\"); nothing more was sent");
  }
  const std::string events = "/v1/transfers/" + tid + "/events";

  std::mt19937_64 rng(std::random_device{}());
  auto failing_since = Clock::now();
  std::chrono::milliseconds backoff{200};
  // Every failure cancels the transfer at the relay (best effort), on a
  // fresh client (the watchdog may have stopped the one the stream used):
  // otherwise its frames and the agent's transfer slot stay taken until the
  // relay's timeouts, and an agent may go on sending a stream nobody reads.
  auto finish_with = [&](Error e) -> Result<Outcome> {
    if (auto fresh = RelayClient::create(relay_config)) (void)(*fresh)->call("DELETE", "/v1/transfers/" + tid);
    if (sink && st.answer && st.answer->ok && st.answer->frames) sink->abandon(e);
    return e;
  };
  Watchdog watchdog(relay, cancel, options.stall_timeout);
  while (true) {
    if (cancel && cancel->load()) {
      return finish_with(make_error("cancelled", "cancelled"));
    }
    if (watchdog.stalled()) {
      return finish_with(make_error(
          "stalled", "no data from agent \"" + agent + "\" for " + std::to_string(options.stall_timeout.count()) +
                         " s: it stopped sending (it may have restarted, or lost its connection); run the same "
                         "command again with --resume to continue from the partial file"));
    }
    uint64_t bytes_before = st.bytes;
    bool answered_before = st.answer.has_value();
    auto r = relay.stream(events, st.last_id, {kAcceptEvents}, [&](sse::Event&& e) {
      watchdog.event();
      if (cancel && cancel->load()) return false;
      return on_event(std::move(e), st, sink, on_progress);
    });
    if (st.failure) return finish_with(*st.failure);
    if (st.done) break;
    if (st.ended) {
      // `end` without a verified trailer: the relay (or agent) cut the stream.
      auto f = st.opener ? st.opener->finish() : Result<void>(make_error("truncated", "the stream ended early"));
      return finish_with(f ? make_error("truncated", "the stream ended early") : f.error());
    }
    if ((cancel && cancel->load()) || watchdog.stalled()) continue;
    if (!r && !errors::is(r.error(), ErrorCode::network) && !errors::is(r.error(), ErrorCode::bad_response)) {
      if (errors::is(r.error(), ErrorCode::unknown_transfer)) {
        return finish_with(make_error("transfer_lost", "the relay no longer knows this transfer (it restarted or the "
                                                       "transfer expired); run again with --resume"));
      }
      return finish_with(from_relay(r.error()));
    }
    // The stream broke or closed early: reconnect with Last-Event-ID.
    if (st.bytes != bytes_before || st.answer.has_value() != answered_before) {
      failing_since = Clock::now();
      backoff = std::chrono::milliseconds(200);
    }
    if (Clock::now() - failing_since > options.reconnect_for) {
      return finish_with(make_error("network", "lost the relay for more than " +
                                                   std::to_string(options.reconnect_for.count()) +
                                                   " s; run again with --resume to continue"));
    }
    auto jitter = std::uniform_int_distribution<int64_t>(0, backoff.count())(rng);
    pause(backoff / 2 + std::chrono::milliseconds(jitter / 2), cancel);
    backoff = std::min(backoff * 2, std::chrono::milliseconds(5000));
  }

  if (sink && st.answer->frames) {
    auto committed = sink->commit();
    if (!committed) return finish_with(committed.error());
  }
  // Done: the relay may drop what it kept for a resume (best effort; it
  // expires anyway).
  (void)relay.call("DELETE", "/v1/transfers/" + tid + "?done=1");
  return Outcome{*st.answer, tid, st.received};
}

}  // namespace sealrelay::requester
