// One upload of frames into a transfer, without HTTP: the body's records
// (proto/upload.h) as they arrive, committed to the store in batches, never
// more than `window_frames` frames ahead of what a requester has read.
//
// Backpressure is the window: when it is full, feed() blocks (in
// Store::wait_transfer) until a requester's stream marks frames delivered,
// so a slow requester slows the agent's upload instead of filling the
// relay. No read for `stall` ends the upload with a conflict (the agent
// resumes later from next_frame).
//
//   auto up = UploadSession::begin(store, metrics, limits, tid, first);
//   while (body) if (auto r = (*up)->feed(piece); !r) ... r.error() ...
//   (*up)->next(), (*up)->complete()
//
// An upload that opens with the agent's answer (X-Sealrelay-Answer: record,
// docs/api.md) starts with begin_after_answer(): its first record is message
// 2, handed to `answer`, and the frames begin once that succeeded. The
// answer and the first frame then share one request and one connection.
//
// Errors (values, codes of docs/api.md): conflict (another upload took over,
// the transfer is not at `first`, or the window stalled), too_large (the
// transfer failed: a frame or the total over its limit), bad_request (the
// records are malformed), cancelled, unknown_transfer, or the store's.
// After an error the session takes no more input.
//
// Thread safety: one thread at a time (the connection's).
#pragma once

#include <chrono>
#include <functional>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "proto/upload.h"
#include "relay/metrics.h"
#include "relay/store.h"

namespace sealrelay::relay {

struct UploadLimits {
  size_t max_frame_bytes = upload::kDefaultMaxFrameBytes;
  uint64_t window_frames = 16;  // undelivered frames at most (0 counts as 1)
  std::chrono::seconds stall{300};
};

class UploadSession {
 public:
  // Starts (or takes over from an older session) the upload of `tid` at
  // frame `first`. Counts itself in `metrics` (uploads, queue_frames) until
  // destroyed; `store` and `metrics` must outlive it.
  static Result<std::unique_ptr<UploadSession>> begin(Store& store, Metrics& metrics,
                                                      UploadLimits limits, const std::string& tid,
                                                      uint64_t first);
  // The upload of `tid` whose body's first record is message 2: `answer`
  // gets that record's payload (and says whether the transfer took it);
  // then the upload begins at `first` as with begin(). A body that ends
  // before the answer record is a bad_request.
  using AnswerFn = std::function<Result<void>(std::string_view msg2)>;
  static Result<std::unique_ptr<UploadSession>> begin_after_answer(Store& store, Metrics& metrics,
                                                                   UploadLimits limits, const std::string& tid,
                                                                   uint64_t first, AnswerFn answer);
  ~UploadSession();
  UploadSession(const UploadSession&) = delete;
  UploadSession& operator=(const UploadSession&) = delete;

  // The next piece of the body, in any split. Returns once its complete
  // records are committed (waiting for window room as needed).
  Result<void> feed(std::string_view piece);

  // The next frame index: frames before it are committed.
  uint64_t next() const { return next_; }
  // The end record was read and the transfer completed.
  bool complete() const { return complete_; }

 private:
  UploadSession(Store& store, Metrics& metrics, UploadLimits limits, std::string tid,
                std::string session, uint64_t first);

  // The answer record: answers the transfer, then begins the upload.
  // False (the reason in failed_) when either fails.
  bool take_answer(std::string_view msg2);

  // Commits batch_ (and the end when `end`), window by window.
  Result<void> commit(bool end);
  // Frames the window has room for, waiting for a requester when it has none.
  Result<uint64_t> window_room();
  // Appends batch_[i, i + k), with the end record when `last`.
  Result<void> append(size_t i, size_t k, bool last);
  Error give_up_too_large(const std::string& message);
  void set_queue(const TransferInfo& info);

  Store& store_;
  Metrics& metrics_;
  const UploadLimits limits_;
  const uint64_t window_;
  const std::string tid_;
  const std::string session_;  // the store's owner token of this upload
  AnswerFn answer_;             // set until the answer record is read
  std::optional<Error> failed_;  // why take_answer stopped the reader
  upload::Reader records_;
  std::vector<Store::Frame> batch_;  // read, not yet committed
  uint64_t next_;
  bool complete_ = false;
  int64_t queued_ = 0;  // this upload's share of metrics_.queue_frames
  // The info the last append answered: when it shows room in the window the
  // next append goes ahead without asking the store again (its `delivered`
  // can only be behind, so the room is never overestimated; append itself
  // refuses a transfer that ended or changed hands).
  std::optional<TransferInfo> known_;
};

}  // namespace sealrelay::relay
