#include "requester/exit_codes.h"

#include "proto/errors.h"

namespace sealrelay::requester {

int exit_code_for(std::string_view error_code) {
  auto known = errors::parse(error_code);
  if (!known) return kExitFailure;  // a code this build does not know
  // No default: a new code does not compile until it has its exit status.
  using enum ErrorCode;
  switch (*known) {
    case usage: case bad_config: case proxy_refused: case config: case exists: case part_exists: case key_missing:
    case key_permissions: case key_malformed: case key_exists: case unpinned: case unsafe_path:
      return kExitUsage;
    case unauthorized: case forbidden:
      return kExitAuth;
    case unknown_agent: case agent_offline: case not_found: case not_allowed: case busy: case aborted:
    case replayed: case clock_skew: case unsupported_version: case bad_request: case too_large:
    case unknown_transfer:
      return kExitNotFound;
    case bad_directory: case tampered: case out_of_order: case bad_frame: case after_end: case trailer_mismatch:
    case truncated: case bad_tree: case handshake_failed: case agent_key_changed: case bad_response: case bad_stream: case tls:
      return kExitIntegrity;
    case network: case history_gone: case transfer_lost: case stalled: case store_unavailable: case overloaded:
    case rate_limited: case expired: case conflict:
      return kExitNetwork;
    case partial:
      return kExitPartial;
    case cancelled:
      return kExitInterrupted;
    case length_required: case store_error: case redis_moved: case tokens_file: case bind_failed: case internal: case changed:
    case io_error: case bad_path: case not_a_file: case not_a_directory: case bad_authorized_requesters:
    case bad_pattern: case replay_state: case vanished: case unreadable: case bad_relay_reply: case failed: case frame_too_large:
    case decrypt_failed: case nonce_exhausted: case bad_record: case record_too_large: case sse_too_large:
    case trailing_data: case upload_aborted: case relay_error: case unknown: case io: case key_file:
    case unreachable: case connection_lost: case gone: case bad_event: case bad_event_record:
    case event_too_large: case resume_mismatch: case size_mismatch: case hash_failed: case worker_failed:
    case local_error:
      return kExitFailure;
  }
  return kExitFailure;
}

}  // namespace sealrelay::requester
