// Upload records: the body of POST /v1/agent/transfers/{tid}/frames
// (docs/api.md §Upload frames).
//
//   record := length(u32, big-endian) || payload(length bytes)
//   body   := record* end
//   end    := a record of length 0 ("the previous record was the last frame")
//
// Each payload is one opaque frame (the relay never looks inside). A body may
// stop before `end` (the upload was interrupted; it resumes with a new POST);
// nothing may follow `end`. The reader is a fuzz target: it checks a length
// against its limit before it buffers a single payload byte.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "base/result.h"

namespace sealrelay::upload {

inline constexpr size_t kHeaderBytes = 4;
// Default frame limit of the relay: a 1 MiB chunk plus room for the frame
// header, nonce and tag.
inline constexpr size_t kDefaultMaxFrameBytes = (1u << 20) + (4u << 10);
// Limit of the answer record that may open a body (X-Sealrelay-Answer,
// docs/api.md): message 2, a Noise message.
inline constexpr size_t kMaxAnswerBytes = 65535;

// Appends one record holding `frame` (1 .. 2^32-1 bytes; an empty frame would
// read as `end`, so it aborts).
void append_record(std::string& out, std::string_view frame);
void append_record(std::string& out, std::span<const uint8_t> frame);
// Appends the end record (four zero bytes).
void append_end(std::string& out);

// Incremental reader. Feed it the body as it arrives, in any split.
class Reader {
 public:
  // Called once per complete record with a view that is valid only during
  // the call. Return false to stop reading (feed() then returns
  // "upload_aborted" and the reader stays stopped).
  using OnFrame = std::function<bool(std::string_view frame)>;

  explicit Reader(size_t max_frame_bytes = kDefaultMaxFrameBytes);

  // The limit for records whose length is not read yet (a leading record
  // of another kind may have its own).
  void set_max_frame_bytes(size_t max_frame_bytes) { max_frame_ = max_frame_bytes; }

  // Consumes `bytes`. Errors are sticky: "frame_too_large" (a length above
  // the limit, found from its 4 header bytes alone), "trailing_data" (bytes
  // after the end record), "upload_aborted" (on_frame returned false).
  Result<void> feed(std::string_view bytes, const OnFrame& on_frame);

  // True once the end record has been read.
  bool ended() const { return ended_; }
  // True when no record is half read: a body that stops here lost nothing.
  bool at_boundary() const { return header_fill_ == 0 && !in_payload_; }
  // Records delivered to on_frame so far.
  uint64_t frames() const { return frames_; }
  // Length of the record being read, valid while !at_boundary() after its
  // header; used for error messages.
  uint32_t pending_length() const { return length_; }

 private:
  size_t max_frame_;
  uint8_t header_[kHeaderBytes] = {};
  size_t header_fill_ = 0;
  bool in_payload_ = false;
  uint32_t length_ = 0;
  std::string payload_;  // payload bytes of a record split across feeds
  bool ended_ = false;
  uint64_t frames_ = 0;
  std::optional<Error> failed_;
};

}  // namespace sealrelay::upload
