#include "proto/errors.h"

#include <array>
#include <cstdio>

namespace sealrelay::errors {
namespace {

using E = ErrorCode;
constexpr uint8_t kStatusEvent = kStatus | kEvent;

constexpr auto kTable = std::to_array<Info>({
    {E::bad_request, "bad_request", 400, kStatus | kRefusal,
     "the request is malformed: bad JSON, field, header, body framing or path (relay); a message 1 the agent "
     "cannot use (agent)"},
    {E::unauthorized, "unauthorized", 401, kStatus | kRefusal,
     "no valid token or client certificate (relay); the requester's key is not in the agent's "
     "authorized_requesters (agent)"},
    {E::forbidden, "forbidden", 403, kStatus, "a valid token of the wrong kind, or for another agent"},
    {E::not_found, "not_found", 404, kStatus | kRefusal,
     "no such route or static file (relay); no such file or directory in the agent's shares (agent)"},
    {E::unknown_agent, "unknown_agent", 404, kStatus,
     "the agent does not exist or is outside the requester token's scope"},
    {E::unknown_transfer, "unknown_transfer", 404, kStatus,
     "no such transfer, it expired, or it belongs to someone else"},
    {E::conflict, "conflict", 409, kStatus,
     "the transfer is not in a state that allows this (answered twice, frames out of turn, already ended)"},
    {E::agent_offline, "agent_offline", 409, kStatus, "the agent exists but has no control stream open"},
    {E::length_required, "length_required", 411, kStatus,
     "a request with a body but no Content-Length, other than the chunked frame upload"},
    {E::too_large, "too_large", 413, kStatusEvent,
     "a body, handshake message, frame or whole transfer exceeds its limit"},
    {E::rate_limited, "rate_limited", 429, kStatus,
     "too many requests per token or address, or too many transfers for the agent; retry after Retry-After"},
    {E::overloaded, "overloaded", 503, kStatus,
     "the relay node holds --max-connections connections; retry after Retry-After"},
    {E::store_unavailable, "store_unavailable", 503, kStatus, "the relay cannot reach its store (Redis)"},
    {E::expired, "expired", 0, kEvent,
     "the agent did not answer in time, or the transfer was idle past the relay's transfer TTL"},
    {E::cancelled, "cancelled", 0, kEvent | kLocal,
     "the requester cancelled the transfer (as a status the relay answers conflict)"},
    {E::store_error, "store_error", 0, kLocal,
     "the relay's store gave an unexpected reply (answered as store_unavailable)"},
    {E::redis_moved, "redis_moved", 0, kLocal,
     "a Redis Cluster node said MOVED or ASK: the relay reads the slot map again and retries"},
    {E::tokens_file, "tokens_file", 0, kLocal, "the relay's tokens file cannot be read or is malformed"},
    {E::bind_failed, "bind_failed", 0, kLocal, "the relay cannot listen on its address"},
    {E::not_allowed, "not_allowed", 0, kRefusal,
     "the path is outside the shares or the requester's scope, not a regular file or directory, or a file with "
     "several hard links on a share that does not allow them"},
    {E::replayed, "replayed", 0, kRefusal, "the agent has already seen this message 1 (its timestamp)"},
    {E::clock_skew, "clock_skew", 0, kRefusal,
     "the request's timestamp is more than 10 minutes from the agent's clock"},
    {E::unsupported_version, "unsupported_version", 0, kRefusal,
     "a payload of a protocol version this side does not speak"},
    {E::busy, "busy", 0, kRefusal, "the agent is running as many transfers as it allows"},
    {E::internal, "internal", 0, kRefusal, "the agent failed on its side; its log says why"},
    {E::handshake_failed, "handshake_failed", 0, kEvent | kLocal,
     "message 1 is not addressed to the agent's key or was altered (posted by the agent in the clear), or "
     "message 2 did not verify against the pinned key (requester)"},
    {E::changed, "changed", 0, kAbort, "the file changed while the agent was sending it"},
    {E::io_error, "io_error", 0, kAbort | kLocal, "the agent could not read the file or one of its own files"},
    {E::bad_path, "bad_path", 0, kLocal, "a request path or path scope breaks the path syntax (refused as bad_request)"},
    {E::not_a_file, "not_a_file", 0, kLocal, "a get on a directory (refused as bad_request)"},
    {E::not_a_directory, "not_a_directory", 0, kLocal, "a list on a file (refused as bad_request)"},
    {E::bad_authorized_requesters, "bad_authorized_requesters", 0, kLocal,
     "the agent's authorized_requesters file is malformed"},
    {E::bad_pattern, "bad_pattern", 0, kLocal, "a share's glob pattern is malformed"},
    {E::replay_state, "replay_state", 0, kLocal, "the agent's saved replay state is malformed"},
    {E::vanished, "vanished", 0, kLocal,
     "a file of a folder pull went away between the walk and its open (sent as a skipped file)"},
    {E::unreadable, "unreadable", 0, kLocal,
     "a file or folder of a folder pull the agent may not read (sent as a skipped entry)"},
    {E::bad_relay_reply, "bad_relay_reply", 0, kLocal,
     "the relay sent the agent something it could not honestly send"},
    {E::failed, "failed", 0, kLocal, "the relay's upload status says the transfer failed (its error says why)"},
    {E::bad_frame, "bad_frame", 0, kLocal, "a frame whose size, version or flags are impossible"},
    {E::out_of_order, "out_of_order", 0, kLocal, "a frame that is not the next one (reordered, dropped or duplicated)"},
    {E::tampered, "tampered", 0, kLocal, "a frame that does not authenticate"},
    {E::trailer_mismatch, "trailer_mismatch", 0, kLocal,
     "the trailer's byte count or SHA-256 differs from what arrived"},
    {E::aborted, "aborted", 0, kLocal, "the agent aborted the transfer with an abort frame giving its reason"},
    {E::after_end, "after_end", 0, kLocal, "something arrived after the final frame"},
    {E::truncated, "truncated", 0, kLocal, "the stream ended before the trailer verified"},
    {E::bad_tree, "bad_tree", 0, kLocal,
     "the agent's folder stream breaks its rules (order, bounds, a hostile or malformed name)"},
    {E::partial, "partial", 0, kLocal,
     "a folder pull ended with some entries skipped or failed; every other entry arrived verified"},
    {E::decrypt_failed, "decrypt_failed", 0, kLocal, "a Noise message failed authentication"},
    {E::nonce_exhausted, "nonce_exhausted", 0, kLocal, "a Noise cipher state ran out of nonces"},
    {E::bad_response, "bad_response", 0, kLocal, "the relay's answer or event is malformed or out of turn"},
    {E::bad_stream, "bad_stream", 0, kLocal, "the relay's event stream is malformed"},
    {E::bad_record, "bad_record", 0, kLocal, "a binary event record of an unknown type or with impossible data"},
    {E::record_too_large, "record_too_large", 0, kLocal, "a binary event record longer than the reader's limit"},
    {E::sse_too_large, "sse_too_large", 0, kLocal, "an SSE line or event longer than the parser's limit"},
    {E::trailing_data, "trailing_data", 0, kLocal, "bytes after the end record of an upload"},
    {E::frame_too_large, "frame_too_large", 0, kLocal,
     "an upload record longer than the reader's frame limit (the relay answers too_large)"},
    {E::upload_aborted, "upload_aborted", 0, kLocal, "the receiver of an upload stopped reading it"},
    {E::relay_error, "relay_error", 0, kLocal, "the relay's error event gave no code"},
    {E::unknown, "unknown", 0, kLocal, "an abort frame gave no code"},
    {E::network, "network", 0, kLocal, "the relay could not be reached or the connection broke"},
    {E::tls, "tls", 0, kLocal, "TLS with the relay failed or its certificate did not verify"},
    {E::history_gone, "history_gone", 0, kLocal, "the relay no longer holds the frames a resume needs"},
    {E::transfer_lost, "transfer_lost", 0, kLocal, "the relay no longer knows a transfer in progress"},
    {E::stalled, "stalled", 0, kLocal, "no data came from the agent for --stall-timeout seconds"},
    {E::agent_key_changed, "agent_key_changed", 0, kLocal,
     "the agent's key differs from the pinned or expected fingerprint"},
    {E::unpinned, "unpinned", 0, kLocal, "the agent is not pinned in known_agents"},
    {E::bad_directory, "bad_directory", 0, kLocal, "the relay's agent list held no usable agent id"},
    {E::unsafe_path, "unsafe_path", 0, kLocal, "a name from the agent would be written outside the output folder"},
    {E::usage, "usage", 0, kLocal, "the command line or settings are incomplete or wrong"},
    {E::bad_config, "bad_config", 0, kLocal, "a configuration value is malformed"},
    {E::proxy_refused, "proxy_refused", 0, kLocal, "the HTTP proxy refused the credentials given for it (407)"},
    {E::config, "config", 0, kLocal, "a configuration file cannot be read, written or parsed"},
    {E::exists, "exists", 0, kLocal, "the output file already exists (use --force)"},
    {E::part_exists, "part_exists", 0, kLocal, "a partial download is in the way (use --resume or --force)"},
    {E::io, "io", 0, kLocal, "the requester could not write or sync an output file"},
    {E::key_file, "key_file", 0, kLocal, "an identity key file cannot be read, created or is not a regular file"},
    {E::key_missing, "key_missing", 0, kLocal, "no identity key yet (run keygen)"},
    {E::key_permissions, "key_permissions", 0, kLocal, "an identity key file is readable by others (chmod 600)"},
    {E::key_malformed, "key_malformed", 0, kLocal, "an identity key file is malformed"},
    {E::key_exists, "key_exists", 0, kLocal, "an identity key already exists (use --force to replace it)"},
    {E::unreachable, "unreachable", 0, kLocal, "the page could not reach the relay"},
    {E::connection_lost, "connection_lost", 0, kLocal, "the page lost the relay's event stream too many times"},
    {E::gone, "gone", 0, kLocal, "the relay no longer holds the frames a resume needs (the page's history_gone)"},
    {E::bad_event, "bad_event", 0, kLocal, "an event of the relay's stream is malformed or out of turn (page)"},
    {E::bad_event_record, "bad_event_record", 0, kLocal, "a binary event record is malformed (page)"},
    {E::event_too_large, "event_too_large", 0, kLocal, "a binary event record longer than the page's limit"},
    {E::resume_mismatch, "resume_mismatch", 0, kLocal, "the agent answered a resume from another byte than asked"},
    {E::size_mismatch, "size_mismatch", 0, kLocal, "the content's size differs from the size the agent announced"},
    {E::hash_failed, "hash_failed", 0, kLocal, "the page could not compute the content's SHA-256 (its Worker died)"},
    {E::worker_failed, "worker_failed", 0, kLocal, "the page's decryption Worker did not start"},
    {E::local_error, "local_error", 0, kLocal, "the browser could not save the download"},
});

constexpr bool in_enum_order() {
  for (size_t i = 0; i < kTable.size(); ++i) {
    if (static_cast<size_t>(kTable[i].code) != i) return false;
  }
  return true;
}
static_assert(in_enum_order(), "rows of kTable must follow the enumerators of ErrorCode");
static_assert(static_cast<size_t>(ErrorCode::local_error) + 1 == kTable.size(), "a code without a row");

const Info& row(ErrorCode code) { return kTable[static_cast<size_t>(code)]; }

}  // namespace

std::span<const Info> table() { return kTable; }

std::string_view name(ErrorCode code) { return row(code).name; }

std::optional<int> http_status(ErrorCode code) {
  if (row(code).http_status == 0) return std::nullopt;
  return row(code).http_status;
}

std::string_view meaning(ErrorCode code) { return row(code).meaning; }

uint8_t via(ErrorCode code) { return row(code).via; }

std::optional<ErrorCode> parse(std::string_view text) {
  for (const Info& i : kTable) {
    if (i.name == text) return i.code;
  }
  return std::nullopt;
}

bool well_formed(std::string_view text) {
  if (text.empty() || text.size() > kMaxCodeBytes) return false;
  for (char c : text) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) return false;
  }
  return true;
}

bool is(const Error& error, ErrorCode code) { return error.code == name(code); }

std::string shown(std::string_view text) {
  if (well_formed(text)) return std::string(text);
  std::string out = "\"";
  for (unsigned char c : text) {
    if (c < 0x20 || c > 0x7e || c == '"' || c == '\\') {
      char hex[5];
      std::snprintf(hex, sizeof hex, "\\x%02x", c);
      out += hex;
    } else {
      out.push_back(static_cast<char>(c));
    }
  }
  return out + "\"";
}

}  // namespace sealrelay::errors
