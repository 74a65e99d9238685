// The error codes of sealrelay: one table of {code, HTTP status, where it is
// seen, meaning} for every code a program puts on a wire or shows a user.
// docs/api.md §Errors and web/js/messages.js are checked against it
// (tests/unit/web/contract_dump.cpp, web/test/contract.test.mjs).
//
// Error::code (base/result.h) stays a string: crypto below proto makes codes
// too, and a code read from the network may be one this build does not know.
// Such a code stays representable (as the string) and is never compared as
// a string: code that decides on a code asks is() or parse(), and code that
// prints one from a peer prints shown().
//
// Grammar of every code: [a-z0-9_]{1,64} (what the relay accepts from an
// agent, docs/api.md). Adding a code: add the enumerator and its row (the
// rows are in enumerator order, checked at compile time), then document it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "base/result.h"

namespace sealrelay::errors {

enum class ErrorCode : uint8_t {
  // The relay's answers (HTTP statuses, docs/api.md §Errors).
  bad_request,
  unauthorized,
  forbidden,
  not_found,
  unknown_agent,
  unknown_transfer,
  conflict,
  agent_offline,
  length_required,
  too_large,
  rate_limited,
  overloaded,
  store_unavailable,
  // The relay's stream errors and its own.
  expired,
  cancelled,
  store_error,
  redis_moved,
  tokens_file,
  bind_failed,
  // The agent's refusals (message 2, docs/protocol.md §4.2) and aborts (§3).
  not_allowed,
  replayed,
  clock_skew,
  unsupported_version,
  busy,
  internal,
  handshake_failed,
  changed,
  io_error,
  // The agent's own (its log and exit status).
  bad_path,
  not_a_file,
  not_a_directory,
  bad_authorized_requesters,
  bad_pattern,
  replay_state,
  vanished,
  unreadable,
  bad_relay_reply,
  failed,
  // The receiver rules of frames (docs/protocol.md §3) and the Noise layer.
  bad_frame,
  out_of_order,
  tampered,
  trailer_mismatch,
  aborted,
  after_end,
  truncated,
  // The receiver rules of a folder stream (docs/protocol.md §4.5), and a folder pull's outcome.
  bad_tree,
  partial,
  decrypt_failed,
  nonce_exhausted,
  // Reading the relay's wire.
  bad_response,
  bad_stream,
  bad_record,
  record_too_large,
  sse_too_large,
  trailing_data,
  frame_too_large,
  upload_aborted,
  relay_error,
  unknown,
  // The requester's own (the CLI's exit codes, the page's sentences).
  network,
  tls,
  history_gone,
  transfer_lost,
  stalled,
  agent_key_changed,
  unpinned,
  bad_directory,
  unsafe_path,
  usage,
  bad_config,
  proxy_refused,
  config,
  exists,
  part_exists,
  io,
  key_file,
  key_missing,
  key_permissions,
  key_malformed,
  key_exists,
  // The page's own (web/js; shown by web/js/messages.js).
  unreachable,
  connection_lost,
  gone,
  bad_event,
  bad_event_record,
  event_too_large,
  resume_mismatch,
  size_mismatch,
  hash_failed,
  worker_failed,
  local_error,
};

// Where a code is seen; a code may travel several ways (`not_found` is both
// a relay status and an agent's refusal).
enum Via : uint8_t {
  kStatus = 1,   // the relay's JSON answer, with http_status()
  kEvent = 2,    // the relay's `error` event ending a stream, and a transfer's status
  kRefusal = 4,  // the agent's refusal in message 2 (encrypted; the relay never sees it)
  kAbort = 8,    // the agent's abort frame (encrypted)
  kLocal = 16,   // raised and shown by one program; never sent
};

struct Info {
  ErrorCode code;
  std::string_view name;
  int http_status;  // 0: never an HTTP status
  uint8_t via;      // Via bits
  std::string_view meaning;
};

// Every row, in enumerator order.
std::span<const Info> table();

std::string_view name(ErrorCode code);
// The status the relay answers this code with; nullopt for codes that never
// travel as an HTTP status (end-to-end and local ones).
std::optional<int> http_status(ErrorCode code);
std::string_view meaning(ErrorCode code);
uint8_t via(ErrorCode code);

// The code named `text` (as read from a peer or an Error); nullopt for a code
// this build does not know, or any text that is not a code.
std::optional<ErrorCode> parse(std::string_view text);

// The longest code (crypto/protocol.h's kMaxCodeBytes; the contract test checks they agree).
inline constexpr size_t kMaxCodeBytes = 64;

// `text` follows the code grammar [a-z0-9_]{1,64}.
bool well_formed(std::string_view text);

// True when `error` carries `code`.
bool is(const Error& error, ErrorCode code);

// A code from a peer, ready to print: itself when well formed, otherwise
// quoted with every byte outside [ -~] as \xNN (never the raw bytes).
std::string shown(std::string_view text);

}  // namespace sealrelay::errors

namespace sealrelay {

using errors::ErrorCode;

inline Error make_error(ErrorCode code, std::string message) {
  return Error{std::string(errors::name(code)), std::move(message)};
}

}  // namespace sealrelay
