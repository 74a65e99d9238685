// Server-Sent Events (WHATWG HTML §9.2 "Server-sent events"): the writer the
// relay uses to render events once, ready to copy to many streams, and the
// incremental parser the agent and the CLI use to read the relay's streams.
//
// Wire shape (docs/api.md §Streams):
//   event: <name>\n  id: <id>\n  data: <line>\n ... \n      one event
//   : <comment>\n\n                                         heartbeat
// The parser is a fuzz target: every buffer it grows is bounded by Limits
// and checked before it grows.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "base/result.h"

namespace sealrelay::sse {

// The MIME type the relay sends. Exactly this string: cpp-httplib 0.11.4
// compresses (and so holds back) any other text/* type.
inline constexpr std::string_view kContentType = "text/event-stream";

// Appends one event to `out`. `name` and `id` may be empty (then the line is
// left out) and must not contain CR, LF or (for id) NUL: the caller renders
// only names and ids it made itself, so a violation aborts. `data` may hold
// LF; each line becomes its own "data:" line, and the reader joins them with
// LF again. CR in `data` aborts for the same reason.
void append_event(std::string& out, std::string_view name, std::string_view id,
                  std::string_view data);
std::string event(std::string_view name, std::string_view id, std::string_view data);

// Exact size append_event() adds, so callers can reserve once.
size_t event_size(std::string_view name, std::string_view id, std::string_view data);

// Appends a comment line plus the blank line, e.g. ": hb\n\n". Comments are
// ignored by readers; the relay uses them as heartbeats.
void append_comment(std::string& out, std::string_view text);

// One dispatched event. `name` is "message" when the stream gave none.
// `id` is the stream's last event id after this event (it persists across
// events, as in the spec).
struct Event {
  std::string name;
  std::string id;
  std::string data;
  // The data is the bytes themselves, not their base64: set for frames read
  // from the binary event stream (proto/event_stream.h), never by Parser.
  bool raw = false;
};

struct Limits {
  // Longest line the parser buffers, terminator excluded. A frame event's
  // data line is base64 of at most max frame bytes, so the default covers
  // 1 MiB + 4 KiB frames with room to spare.
  size_t max_line = 2u << 20;
  // Most data bytes one event may accumulate over all its data lines.
  size_t max_data = 2u << 20;
};

// Incremental parser. Feed it bytes exactly as they arrive (any split, CRLF,
// CR or LF line ends, an optional UTF-8 BOM at the very start). It dispatches
// events on blank lines and stops for good at the first limit violation:
// every later feed() returns the same error ("sse_too_large").
class Parser {
 public:
  using OnEvent = std::function<void(Event&&)>;

  explicit Parser(Limits limits = {});

  // Parses `bytes`, calling `on_event` for each complete event. Bytes of an
  // incomplete line or event are kept for the next call.
  Result<void> feed(std::string_view bytes, const OnEvent& on_event);

  // Reconnection delay from the last valid "retry:" field, if any.
  std::optional<uint64_t> retry_ms() const { return retry_ms_; }
  // The id to send as Last-Event-ID when reconnecting.
  const std::string& last_event_id() const { return last_id_; }

 private:
  Result<void> line(std::string_view text, const OnEvent& on_event);
  void dispatch(const OnEvent& on_event);

  Limits limits_;
  std::string partial_;      // bytes of the current unterminated line
  bool skip_lf_ = false;     // previous chunk ended in CR: drop a leading LF
  bool at_start_ = true;     // nothing parsed yet: a BOM may follow
  bool has_data_ = false;    // a data field was seen in the current event
  std::string name_;
  std::string data_;
  std::string last_id_;
  std::optional<uint64_t> retry_ms_;
  std::optional<Error> failed_;
};

}  // namespace sealrelay::sse
