#include "relay/upload_session.h"

#include <algorithm>
#include <iterator>
#include <utility>

#include "proto/errors.h"
#include "proto/event_stream.h"
#include "relay/records.h"

namespace sealrelay::relay {

namespace {

uint64_t undelivered(const TransferInfo& t) { return t.frames - std::min(t.frames, t.delivered); }

}  // namespace

Result<std::unique_ptr<UploadSession>> UploadSession::begin(Store& store, Metrics& metrics,
                                                            UploadLimits limits,
                                                            const std::string& tid,
                                                            uint64_t first) {
  std::string session = random_hex(12);
  auto begun = store.begin_upload(tid, session, first);
  if (!begun) return begun.error();
  return std::unique_ptr<UploadSession>(
      new UploadSession(store, metrics, limits, tid, std::move(session), first));
}

Result<std::unique_ptr<UploadSession>> UploadSession::begin_after_answer(
    Store& store, Metrics& metrics, UploadLimits limits, const std::string& tid, uint64_t first,
    AnswerFn answer) {
  std::unique_ptr<UploadSession> up(
      new UploadSession(store, metrics, limits, tid, random_hex(12), first));
  up->answer_ = std::move(answer);
  up->records_.set_max_frame_bytes(upload::kMaxAnswerBytes);
  return up;
}

bool UploadSession::take_answer(std::string_view msg2) {
  auto answer = std::exchange(answer_, nullptr);
  records_.set_max_frame_bytes(limits_.max_frame_bytes);
  auto answered = answer(msg2);
  auto begun = answered ? store_.begin_upload(tid_, session_, next_) : Result<TransferInfo>(answered.error());
  if (!begun) failed_ = begun.error();
  return begun.ok();
}

UploadSession::UploadSession(Store& store, Metrics& metrics, UploadLimits limits, std::string tid,
                             std::string session, uint64_t first)
    : store_(store), metrics_(metrics), limits_(limits),
      window_(std::max<uint64_t>(limits.window_frames, 1)), tid_(std::move(tid)),
      session_(std::move(session)), records_(limits.max_frame_bytes), next_(first) {
  ++metrics_.uploads;
}

UploadSession::~UploadSession() {
  --metrics_.uploads;
  metrics_.queue_frames -= queued_;
}

Result<void> UploadSession::feed(std::string_view piece) {
  auto fed = records_.feed(piece, [this](std::string_view frame) {
    if (answer_) return take_answer(frame);
    batch_.push_back({std::make_shared<const std::string>(event_stream::record(
                          event_stream::Type::frame, next_ + batch_.size() + 1, frame)),
                      frame.size()});
    return true;
  });
  if (failed_) return *failed_;
  if (answer_ && records_.ended()) {
    return make_error(ErrorCode::bad_request, "the upload ended before its answer record");
  }
  // Refused from its length alone, and the transfer stays unanswered.
  if (answer_ && !fed) return make_error(ErrorCode::too_large, "the answer record: " + fed.error().message);
  if (!fed) {
    auto committed = commit(false);  // the records before the bad one were fine
    if (!committed) return committed;
    // The reader's errors (proto/upload.h): bytes after the end record, or
    // else (on_frame never stops it) a frame over the limit.
    if (!records_.ended()) return give_up_too_large(fed.error().message);
    return make_error(ErrorCode::bad_request, fed.error().message);
  }
  if (!batch_.empty() || (records_.ended() && !complete_)) return commit(records_.ended());
  return {};
}

Result<void> UploadSession::commit(bool end) {
  size_t i = 0;
  while (i < batch_.size() || (end && !complete_)) {
    size_t k = 0;
    if (i < batch_.size()) {
      auto room = window_room();
      if (!room) return room.error();
      // At least one: a transfer that ended or changed hands has no room,
      // and append() says why.
      k = std::max<size_t>(std::min<uint64_t>(batch_.size() - i, *room), 1);
    }
    auto appended = append(i, k, end && i + k == batch_.size());
    if (!appended) return appended;
    i += k;
  }
  batch_.clear();
  return {};
}

Result<uint64_t> UploadSession::window_room() {
  auto has_room = [this](const TransferInfo& x) {
    return undelivered(x) < window_ || is_terminal(x.state) || x.upload_session != session_;
  };
  auto info = known_ && has_room(*known_) ? Result<TransferInfo>(*known_)
                                          : store_.wait_transfer(tid_, has_room, limits_.stall);
  if (!info) return info.error();
  set_queue(*info);
  uint64_t inflight = undelivered(*info);
  if (inflight >= window_ && !is_terminal(info->state) && info->upload_session == session_) {
    return make_error(ErrorCode::conflict,
                      "no requester read for " + std::to_string(limits_.stall.count()) + " s");
  }
  return window_ - std::min(window_, inflight);
}

Result<void> UploadSession::append(size_t i, size_t k, bool last) {
  std::vector<Store::Frame> slice(std::make_move_iterator(batch_.begin() + i),
                                  std::make_move_iterator(batch_.begin() + i + k));
  auto r = store_.append(tid_, session_, next_, slice, last ? end_event(next_ + k) : "");
  if (!r) {
    if (errors::is(r.error(), ErrorCode::too_large)) return give_up_too_large(r.error().message);
    return r.error();
  }
  for (auto& f : slice) {
    ++metrics_.frames_committed;
    metrics_.bytes_committed += f.bytes;
  }
  set_queue(*r);
  known_ = *r;
  next_ += k;
  if (last) complete_ = true;
  return {};
}

Error UploadSession::give_up_too_large(const std::string& message) {
  (void)store_.finish(tid_, State::failed, "too_large", message, error_event("too_large", message),
                      std::nullopt);
  return make_error(ErrorCode::too_large, message);
}

void UploadSession::set_queue(const TransferInfo& info) {
  auto q = static_cast<int64_t>(undelivered(info));
  metrics_.queue_frames += q - queued_;
  queued_ = q;
}

}  // namespace sealrelay::relay
