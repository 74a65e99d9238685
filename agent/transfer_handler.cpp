#include "agent/transfer_handler.h"

#include <fstream>
#include <sstream>
#include <thread>

#include <spdlog/spdlog.h>

#include "agent/change_detect.h"
#include "agent/relay_json.h"
#include "agent/transfer_content.h"
#include "agent/request_path.h"
#include "base/base64.h"
#include "base/log_format.h"
#include "crypto/frames.h"
#include "crypto/key_file.h"
#include "crypto/payloads.h"
#include "crypto/session.h"
#include "proto/errors.h"
#include "proto/upload.h"

namespace sealrelay::agent {
namespace {

using nlohmann::json;
using SteadyTime = std::chrono::steady_clock;

// How often the relay may send an upload back to an earlier frame than it
// said it held before. Each time costs re-reading and re-sending the frames
// from there (never re-hashing them: see ContentHash); a relay that loses
// committed frames once (a store failover) is served, one that keeps doing
// it is not.
constexpr int kMaxRewinds = 3;

std::string fingerprint_or(const std::optional<PublicKey>& key) { return key ? fingerprint_of(*key) : "?"; }

// Sleeps `d`, waking early when `cancel` is set. Returns false if cancelled.
bool pause(std::chrono::nanoseconds d, const std::atomic<bool>& cancel) {
  auto until = SteadyTime::now() + d;
  while (SteadyTime::now() < until) {
    if (cancel.load()) return false;
    std::this_thread::sleep_for(std::min<std::chrono::nanoseconds>(until - SteadyTime::now(),
                                                                    std::chrono::milliseconds(100)));
  }
  return !cancel.load();
}

// One transfer's upload: answer, then frames from any committed point.
class Upload {
 public:
  Upload(const HandlerConfig& config, const std::string& tid, RateLimiter& limiter, const std::atomic<bool>& cancel,
         bool answer_in_upload)
      : config_(config), tid_(tid), limiter_(limiter), cancel_(cancel), answer_in_upload_(answer_in_upload) {}

  // Message 2: kept for the first record of the frame upload when the relay
  // takes it there (one request and connection less before the first
  // frame), else posted now.
  Result<void> answer(std::span<const uint8_t> msg2) {
    if (!answer_in_upload_) return post_answer(json{{"msg2", base64::encode(msg2)}});
    pending_answer_.emplace(msg2.begin(), msg2.end());
    return {};
  }

  Result<void> post_answer(const json& body) {
    auto relay = RelayClient::create(config_.relay);
    if (!relay) return relay.error();
    Result<json> r = make_error("network", "not tried");
    for (int attempt = 0; attempt < 5 && !cancel_.load(); ++attempt) {
      r = (*relay)->call("POST", "/v1/agent/transfers/" + tid_ + "/answer", &body);
      if (r || !errors::is(r.error(), ErrorCode::network)) break;
      pause(std::chrono::milliseconds(200 << attempt), cancel_);
    }
    if (!r) return r.error();
    return {};
  }

  // Uploads `content` from answer.offset as frames starting at answer.first_index;
  // resumes after interruptions from the relay's committed count, which
  // must be a frame this upload already sealed, and may go back at most
  // kMaxRewinds times.
  Result<uint64_t> send(const TransferKeys& keys, const Answer& answer, Content* content) {
    uint64_t committed = 0;
    int rewinds = 0;
    auto last_progress = SteadyTime::now();
    std::chrono::milliseconds backoff{250};
    while (true) {
      if (cancel_.load()) return make_error("cancelled", "cancelled by the requester");
      auto r = upload_from(committed, keys, answer, content);
      if (r) pending_answer_.reset();
      if (r) {
        auto complete = relay_field<bool>(*r, "reply to the frame upload", "complete", false);
        if (!complete) return complete.error();
        if (*complete) return sent_bytes_;
      }
      if (!r && (errors::is(r.error(), ErrorCode::changed) || errors::is(r.error(), ErrorCode::io_error) ||
                 errors::is(r.error(), ErrorCode::cancelled))) {
        return r.error();
      }
      // Interrupted: ask the relay where to go on from.
      auto relay = RelayClient::create(config_.relay);
      if (!relay) return relay.error();
      auto status = (*relay)->call("GET", "/v1/agent/transfers/" + tid_);
      if (status) {
        if (auto settled = settle_answer(*status); !settled) return settled.error();
        auto next = resume_point(*status, committed, rewinds);
        if (!next) return next.error();
        if (*next == kDone) return sent_bytes_;
        if (*next > committed) {
          last_progress = SteadyTime::now();
          backoff = std::chrono::milliseconds(250);
        }
        committed = *next;
      } else if (errors::is(status.error(), ErrorCode::unknown_transfer)) {
        return make_error("expired", "the relay no longer knows this transfer");
      }
      if (SteadyTime::now() - last_progress > config_.resume_for) {
        return make_error("network", "the upload made no progress for " +
                                         std::to_string(config_.resume_for.count()) + " s");
      }
      if (!pause(backoff, cancel_)) return make_error("cancelled", "cancelled by the requester");
      backoff = std::min(backoff * 2, std::chrono::milliseconds(10'000));
    }
  }

 private:
  static constexpr uint64_t kDone = UINT64_MAX;

  // After an interrupted upload that carried the answer: a relay that does
  // not have it yet (the upload broke before it, or a relay node that does
  // not take it there answered) gets it on its own, as from an older agent.
  Result<void> settle_answer(const json& status) {
    if (!pending_answer_) return {};
    auto state = relay_field<std::string>(status, "upload status", "state", std::string());
    if (!state) return state.error();
    std::vector<uint8_t> msg2 = std::move(*pending_answer_);
    pending_answer_.reset();
    if (*state != "requested") return {};
    return post_answer(json{{"msg2", base64::encode(msg2)}});
  }

  // The frame to resume from, as the relay's upload `status` says (kDone: the
  // relay has the whole upload); an error when the transfer is over or the
  // status is not one the relay could honestly send.
  Result<uint64_t> resume_point(const json& status, uint64_t committed, int& rewinds) {
    const char* what = "upload status";
    auto state = relay_field<std::string>(status, what, "state", std::string());
    if (!state) return state.error();
    auto cancelled = relay_field<bool>(status, what, "cancelled", false);
    if (!cancelled) return cancelled.error();
    auto next = relay_field<uint64_t>(status, what, "next_frame", uint64_t{0});
    if (!next) return next.error();
    if (*state == "complete") return kDone;
    if (*state == "cancelled" || *cancelled) return make_error("cancelled", "cancelled by the requester");
    if (*state == "failed" || *state == "expired") {
      std::string why = status.contains("error") ? status["error"].dump() : *state;
      return make_error(*state, "the relay ended the transfer: " + why);
    }
    if (*next > frames_sealed_) {
      return make_error(kBadRelayReply, "the relay says it holds " + std::to_string(*next) +
                                            " frames of this upload, but the agent sealed only " +
                                            std::to_string(frames_sealed_));
    }
    if (*next < committed && ++rewinds > kMaxRewinds) {
      return make_error(kBadRelayReply, "the relay sent the upload back to an earlier frame more than " +
                                            std::to_string(kMaxRewinds) + " times (now to frame " +
                                            std::to_string(*next) + " after " + std::to_string(committed) +
                                            "); giving up rather than re-reading the file again");
    }
    return *next;
  }

  Result<json> upload_from(uint64_t k, const TransferKeys& keys, const Answer& answer, Content* content) {
    const uint64_t chunk = answer.chunk_size;
    std::vector<uint8_t> buf(chunk);
    // Every data frame but the last is a whole chunk; at the trailer that is
    // the end of the content, not a whole chunk past the last one.
    uint64_t position = content ? answer.offset + k * chunk : 0;
    if (content && content->size()) position = std::min(position, *content->size());
    if (content) {
      // The trailer hashes the whole file from byte 0, and hash_ outlives
      // this attempt: only the bytes before `position` it has not seen are
      // read here (the requester's own resume offset, on the first attempt).
      // A resume point is a frame already sealed, so its prefix is hashed.
      for (uint64_t at = hash_.absorbed(); at < position;) {
        size_t n = static_cast<size_t>(std::min<uint64_t>(chunk, position - at));
        auto got = content->read(at, std::span(buf).first(n));
        if (!got) return got.error();
        if (*got != n) return make_error("changed", "the file shrank while it was being sent");
        hash_.absorb(at, std::span(buf).first(n));
        at += n;
      }
    }
    FrameSealer sealer(keys, answer.first_index + k, hash_, position);
    if (answer.compression) sealer.compress_chunks();
    uint64_t frame_no = k;
    bool finished = false;
    std::optional<Error> failure;
    std::vector<uint8_t> frame;
    std::string record;
    auto relay = RelayClient::create(config_.relay);
    if (!relay) return relay.error();
    const std::vector<uint8_t>* lead = pending_answer_ ? &*pending_answer_ : nullptr;
    auto next = [&](std::string& out) -> bool {
      if (lead) upload::append_record(out, std::span<const uint8_t>(*lead));
      lead = nullptr;
      if (!content) {  // stat or refusal: no frames, just the end of the transfer
        upload::append_end(out);
        return false;
      }
      if (cancel_.load()) {
        failure = make_error("cancelled", "cancelled by the requester");
        return false;
      }
      auto n = content->read(position, buf);
      if (!n) {
        sealer.seal_abort(n.error().code, n.error().message, frame);
        upload::append_record(out, std::span<const uint8_t>(frame));
        upload::append_end(out);
        failure = n.error();
        return false;
      }
      if (*n > 0) {
        sealer.seal_chunk(std::span(buf).first(*n), frame);
        position += *n;
        sent_bytes_ += *n;
      } else {
        auto same = content ? content->still_same() : Result<void>();
        if (!same) {
          sealer.seal_abort(same.error().code, same.error().message, frame);
          failure = same.error();
        } else {
          sealer.seal_trailer(frame);
        }
        finished = true;
      }
      if (!wait_for_bandwidth(frame.size())) {
        failure = make_error("cancelled", "cancelled by the requester");
        return false;
      }
      ++frame_no;
      frames_sealed_ = std::max(frames_sealed_, frame_no);
      upload::append_record(out, std::span<const uint8_t>(frame));
      if (finished) {
        upload::append_end(out);
        return false;
      }
      return true;
    };
    Headers headers{{"X-Sealrelay-First-Frame", std::to_string(k)}};
    if (pending_answer_) headers.emplace_back("X-Sealrelay-Answer", "record");
    auto r = (*relay)->upload("/v1/agent/transfers/" + tid_ + "/frames", headers, next);
    if (failure) return *failure;
    return r;
  }

  // Waits what the rate limit asks for `bytes`, in steps, so that a new
  // period of a timetable applies to this wait too. False if cancelled.
  bool wait_for_bandwidth(uint64_t bytes) {
    for (auto wait = limiter_.reserve(bytes); wait > Clock::duration::zero(); wait = limiter_.wait_time(0)) {
      if (!pause(std::min<Clock::duration>(wait, std::chrono::milliseconds(250)), cancel_)) return false;
    }
    return true;
  }

  const HandlerConfig& config_;
  const std::string& tid_;
  RateLimiter& limiter_;
  const std::atomic<bool>& cancel_;
  const bool answer_in_upload_;
  // Message 2 until the relay has it, when it goes in the upload.
  std::optional<std::vector<uint8_t>> pending_answer_;
  uint64_t sent_bytes_ = 0;
  uint64_t frames_sealed_ = 0;  // Frames counted from k = 0 that any attempt sealed.
  ContentHash hash_;            // Of the content from byte 0, across attempts.
};

Answer refusal(std::string code, std::string message) {
  Answer a;
  a.ok = false;
  a.error = std::move(code);
  a.message = std::move(message);
  return a;
}

int64_t seconds_of(int64_t ns) { return ns / 1'000'000'000; }

}  // namespace

bool agrees_compression(const HandlerConfig& config, const Request& request) {
  if (!request.offer_compression || request.op == Op::kStat) return false;
  auto path = parse_request_path(request.path);
  return path && !path->components.empty() && !config.uncompressed_shares.contains(path->components.front());
}

void reload_authorized_requesters(AuthorizedRequestersFile& file) {
  auto r = file.reload_if_changed();
  if (!r) {
    logging::log(spdlog::level::err, "authorized_requesters cannot be used; no requester is authorized until it is fixed",
                 {{"reason", r.error().message}});
    return;
  }
  if (*r != AuthorizedRequestersFile::Reload::reloaded) return;
  auto list = file.current();
  for (const auto& e : list->broken()) {
    logging::log(spdlog::level::warn, "authorized_requesters: a broken line is ignored (and its key refused)",
                 {{"file", file.path()}, {"reason", e.message}});
  }
  logging::log(spdlog::level::info, "authorized_requesters loaded",
               {{"file", file.path()}, {"requesters", list->entries().size()}, {"broken_lines", list->broken().size()}});
}

Result<std::unique_ptr<TransferHandler>> TransferHandler::create(HandlerConfig config, const Identity& identity,
                                                                 const Shares& shares,
                                                                 AuthorizedRequestersFile& authorized,
                                                                 RateLimiter& limiter, const WallClock& wall_clock) {
  ReplayGuard replay;
  std::ifstream in(config.replay_state);
  if (in) {
    std::stringstream text;
    text << in.rdbuf();
    auto loaded = ReplayGuard::from_json(text.str());
    if (!loaded) return make_error(loaded.error().code, config.replay_state.string() + ": " + loaded.error().message);
    replay = std::move(*loaded);
  }
  return std::unique_ptr<TransferHandler>(new TransferHandler(std::move(config), identity, shares, authorized,
                                                              limiter, wall_clock, std::move(replay)));
}

namespace {

// A unix-millisecond time as people read it (UTC).
std::string utc_text(int64_t unix_ms) {
  std::time_t secs = static_cast<std::time_t>(unix_ms / 1000);
  std::tm tm{};
  if (!gmtime_r(&secs, &tm)) return std::to_string(unix_ms) + " ms";
  char text[40];
  size_t n = std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%S", &tm);
  std::snprintf(text + n, sizeof text - n, ".%03dZ", static_cast<int>(((unix_ms % 1000) + 1000) % 1000));
  return text;
}

}  // namespace

Result<void> TransferHandler::accept_timestamp(const PublicKey& requester, int64_t ts) {
  const int64_t now = wall_clock_.unix_ms();
  std::lock_guard lock(replay_mu_);
  switch (replay_.accept(requester, ts, now)) {
    case ReplayGuard::Verdict::clock_skew:
      return make_error("clock_skew",
                        "clock skew: the request was made at " + utc_text(ts) + " by the requester's clock, and the "
                        "agent's clock says " + utc_text(now) + "; they may differ by at most " +
                        std::to_string(ReplayGuard::kMaxClockSkewMs / 60'000) +
                        " minutes (set the wrong one right, e.g. with NTP)");
    case ReplayGuard::Verdict::replayed:
      return make_error("replayed", "this request was already answered or is too old (replayed message 1)");
    case ReplayGuard::Verdict::fresh:
      break;
  }
  // Persist before answering, so a crash cannot reopen the door.
  const std::string state = replay_.to_json();
  const std::string_view parts[] = {state};
  if (!key_file::write(config_.replay_state, parts)) {  // Private and atomic, as a key.
    return make_error("internal", "the agent cannot save its replay state; see its log");
  }
  return {};
}

TransferRecord TransferHandler::handle(const std::string& tid, std::span<const uint8_t> msg1,
                                       const std::atomic<bool>& cancel, bool over_capacity,
                                       bool answer_in_upload) {
  TransferRecord rec;
  rec.transfer_id = tid;
  Upload upload(config_, tid, limiter_, cancel, answer_in_upload);
  auto done = [&](std::string result, std::string message) {
    rec.result = std::move(result);
    rec.message = std::move(message);
    return rec;
  };

  auto hs = ResponderHandshake::read(identity_, msg1);
  if (!hs) {
    (void)upload.post_answer(json{{"error", "handshake_failed"},
                                  {"message", "message 1 is not addressed to this agent's key or was altered"}});
    return done("handshake_failed", hs.error().message);
  }
  rec.requester = fingerprint_or(hs->requester_key());

  // Every refusal travels encrypted in message 2, then ends the transfer.
  auto refuse = [&](const std::string& code, const std::string& message) {
    std::string text = encode_answer(refusal(code, message));
    auto reply = hs->answer(std::span(reinterpret_cast<const uint8_t*>(text.data()), text.size()));
    if (reply && upload.answer(reply->message2)) (void)upload.send(reply->keys, refusal(code, message), nullptr);
    return done(code, message);
  };

  // The timestamp is used up first: whatever the answer, this message 1
  // can never be accepted again (docs/protocol.md §5).
  auto request = decode_request(hs->request());
  Result<void> fresh = request ? accept_timestamp(hs->requester_key(), request->timestamp_ms) : Result<void>();
  if (request) {
    rec.op = op_name(request->op);
    rec.path = request->path;
  }
  reload_authorized_requesters(authorized_);
  auto list = authorized_.current();
  const AuthorizedRequester* who = list->find(hs->requester_key());
  if (!who) {
    return refuse("unauthorized", "this requester's key (" + rec.requester +
                                      ") is not in the agent's authorized_requesters");
  }
  rec.comment = who->comment;
  if (!request) return refuse(request.error().code, request.error().message);
  if (!fresh) return refuse(fresh.error().code, fresh.error().message);
  if (over_capacity) return refuse("busy", "the agent is serving as many transfers as it may; try again shortly");

  Answer answer;
  answer.ok = true;
  answer.chunk_size = std::min<uint32_t>(request->chunk_size, config_.max_chunk_bytes);
  std::unique_ptr<Content> content;
  auto policy_refusal = [&](const Error& e) {
    return refuse(std::string(protocol_error_code(e.code)), e.message);
  };
  switch (request->op) {
    case Op::kStat: {
      auto info = shares_.stat(request->path, who->scope);
      if (!info) return policy_refusal(info.error());
      answer.type = info->type == agent::EntryType::file ? sealrelay::EntryType::kFile
                                                         : sealrelay::EntryType::kDirectory;
      answer.name = info->name;
      answer.size = info->size;
      answer.mtime = seconds_of(info->mtime_ns);
      answer.chunk_size = 0;
      answer.frames = false;
      break;
    }
    case Op::kList: {
      auto listing = shares_.list(request->path, who->scope);
      if (!listing) return policy_refusal(listing.error());
      auto info = shares_.stat(request->path, who->scope);
      std::vector<ListEntry> entries;
      for (const auto& e : listing->entries) {
        entries.push_back(ListEntry{e.name,
                                    e.type == agent::EntryType::file ? sealrelay::EntryType::kFile
                                                                     : sealrelay::EntryType::kDirectory,
                                    e.size, seconds_of(e.mtime_ns)});
      }
      content = std::make_unique<MemoryContent>(encode_listing(entries));
      answer.type = sealrelay::EntryType::kDirectory;
      answer.name = info ? info->name : "";
      answer.size = *content->size();
      answer.mtime = info ? seconds_of(info->mtime_ns) : 0;
      answer.frames = true;
      break;
    }
    case Op::kTree: {
#ifdef _WIN32
      return refuse("not_allowed",
                    "this Windows agent does not serve folder pulls yet; pull the files one by one (sealrelay ls, "
                    "sealrelay get)");
#else
      auto root = shares_.open_tree(request->path, who->scope);
      if (!root) return policy_refusal(root.error());
      auto options = TreeWalkOptions::of(*request);
      if (!options) return refuse("bad_request", options.error().message);
      // A count first, for the requester's progress; the stream is the truth.
      auto count = count_tree(*root, *options, *request);
      if (!count) return policy_refusal(count.error());
      answer.type = sealrelay::EntryType::kDirectory;
      answer.name = root->name;
      answer.size = count->bytes;
      answer.files = count->files;
      answer.mtime = root->dir.st.st_mtime;
      answer.frames = true;
      auto tree = std::make_unique<TreeContent>(std::move(*root), std::move(*options), *request);
      if (auto started = tree->start(); !started) return policy_refusal(started.error());
      content = std::move(tree);
      break;
#endif
    }
    case Op::kGet: {
      auto file = shares_.open_file(request->path, who->scope);
      if (!file) return policy_refusal(file.error());
      auto watch = FileWatch::start(file->fd.get(), file->dir.get(), file->name);
      if (!watch) return refuse("internal", "cannot watch the file for changes");
      answer.type = sealrelay::EntryType::kFile;
      answer.name = file->info.name;
      // The size the change check holds the file to, not an earlier stat.
      answer.size = static_cast<uint64_t>(watch->snapshot().size);
      answer.mtime = seconds_of(file->info.mtime_ns);
      uint64_t offset = std::min(request->offset, answer.size);
      answer.offset = offset / answer.chunk_size * answer.chunk_size;
      answer.first_index = answer.offset / answer.chunk_size;
      answer.frames = true;
      content = std::make_unique<FileContent>(std::move(*file), std::move(*watch));
      break;
    }
  }

  answer.compression = answer.frames && agrees_compression(config_, *request);
  std::string text = encode_answer(answer);
  auto reply = hs->answer(std::span(reinterpret_cast<const uint8_t*>(text.data()), text.size()));
  if (!reply) return done("internal", reply.error().message);
  if (auto posted = upload.answer(reply->message2); !posted) {
    return done(posted.error().code, posted.error().message);
  }
  auto sent = upload.send(reply->keys, answer, content.get());
  if (!sent) return done(sent.error().code, sent.error().message);
  rec.bytes = *sent;
  return done("ok", "");
}

}  // namespace sealrelay::agent
