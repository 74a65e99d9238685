// The binary event stream: the requester's transfer events without base64
// (docs/api.md §`GET /v1/transfers/{tid}/events`). A requester that sends
// `Accept: application/vnd.sealrelay.events` gets the same events as the
// SSE stream, as records:
//
//   record := type(u8) || id(u64, big-endian) || length(u32, big-endian) || data(length bytes)
//
// `data` is what the SSE event's data line holds, except for frames, which
// carry the frame's bytes themselves. Types and ids are those of the SSE
// events: answer (id 0), frame (id n+1), end (id count+1), error and gone
// (no id: 0 on the wire, and the stream's last id stays as it was), and
// heartbeat (id 0, no data). The reader is a fuzz target: it checks a
// record's type and length from its 13 header bytes before it buffers a
// single data byte.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "base/result.h"
#include "proto/sse.h"

namespace sealrelay::event_stream {

// The media type, requested in Accept and answered in Content-Type. Not
// text/*: cpp-httplib 0.11.4 compresses (and holds back) those.
inline constexpr std::string_view kContentType = "application/vnd.sealrelay.events";

enum class Type : uint8_t { heartbeat = 0, answer = 1, frame = 2, end = 3, error = 4, gone = 5 };
inline constexpr size_t kHeaderBytes = 13;
// Largest data a reader accepts: a frame (1 MiB + 4 KiB at most) with room.
inline constexpr size_t kDefaultMaxData = 2u << 20;

// Appends one record. Aborts on data longer than 2^32-1 bytes (the relay
// writes only what it stored, which its limits bound far below that).
void append_record(std::string& out, Type type, uint64_t id, std::string_view data);

std::string record(Type type, uint64_t id, std::string_view data);

// One whole record, as append_record wrote it (the relay stores events this
// way and renders them as SSE from it). nullopt when `whole` is not exactly
// one record of a known type.
struct RecordView {
  Type type;
  uint64_t id;
  std::string_view data;
};
std::optional<RecordView> read_record(std::string_view whole);

// The SSE event name of a type ("frame", ...), and back (nullopt: unknown).
std::string_view name(Type type);
std::optional<Type> type_of(std::string_view name);

// Incremental reader. Feed it the body exactly as it arrives, in any split.
// Each record becomes an sse::Event so one consumer handles both formats:
// `name` the type's name, `id` the decimal id for answer/frame/end and the
// previous id otherwise, `data` the record's data and `raw` true (a frame's
// data is its bytes, not base64). Heartbeats are not delivered.
class Reader {
 public:
  using OnEvent = std::function<void(sse::Event&&)>;

  explicit Reader(size_t max_data = kDefaultMaxData);

  // Errors are sticky: "bad_record" (an unknown type, or data on a
  // heartbeat), "record_too_large" (a length above the limit, from the
  // header alone).
  Result<void> feed(std::string_view bytes, const OnEvent& on_event);

  // True when no record is half read.
  bool at_boundary() const { return header_fill_ == 0 && !in_data_; }
  const std::string& last_event_id() const { return last_id_; }

 private:
  void dispatch(const OnEvent& on_event);

  size_t max_data_;
  uint8_t header_[kHeaderBytes] = {};
  size_t header_fill_ = 0;
  bool in_data_ = false;
  Type type_ = Type::heartbeat;
  uint64_t id_ = 0;
  uint32_t length_ = 0;
  std::string data_;
  std::string last_id_;
  std::optional<Error> failed_;
};

}  // namespace sealrelay::event_stream
