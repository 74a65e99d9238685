// TransferHandler: what the agent does with one transfer request from its
// control stream — the Noise_IK responder, the trust and replay checks, the
// share policy, and the encrypted upload of the answer's frames with resume
// (docs/protocol.md, docs/api.md). One call per transfer, on its own thread.
#pragma once

#include <atomic>
#include <filesystem>
#include <memory>
#include <mutex>
#include <set>
#include <string>

#include "agent/authorized_requesters.h"
#include "agent/rate_limit.h"
#include "agent/share_policy.h"
#include "base/clock.h"
#include "crypto/keys.h"
#include "crypto/payloads.h"
#include "crypto/replay.h"
#include "proto/relay_client.h"

namespace sealrelay::agent {

struct HandlerConfig {
  RelayConfig relay;
  std::filesystem::path replay_state;          // persisted ReplayGuard (0600)
  uint32_t max_chunk_bytes = protocol::kDefaultChunkBytes;
  // How long an interrupted upload keeps trying to resume before it gives up.
  std::chrono::seconds resume_for{600};
  // Shares whose frames are never compressed (`--compress NAME:off`): the
  // relay then does not even learn how compressible each chunk is
  // (docs/security.md). Every other share compresses when the requester
  // offers it (`auto`).
  std::set<std::string> uncompressed_shares;
};

// Whether the answer to `request` agrees compression: the requester offered
// it, frames follow, and the path is in a share that does not have it off.
// Listings of "/" (every share's name) are never compressed.
bool agrees_compression(const HandlerConfig& config, const Request& request);

// What one transfer came to, for the local log.
struct TransferRecord {
  std::string transfer_id;
  std::string requester;     // fingerprint, or "?" before the handshake
  std::string comment;       // from authorized_requesters
  std::string op, path;      // local log only: never sent in clear
  uint64_t bytes = 0;        // content bytes sent this session
  std::string result;        // "ok" or an error code
  std::string message;
};

// Reloads `file` if it changed and logs what the reload found: each broken
// line (by number, and why), how many requesters are authorized, or why
// the file could not be read (then nobody is). Once per version of the file.
void reload_authorized_requesters(AuthorizedRequestersFile& file);

class TransferHandler {
 public:
  // Everything passed by reference must outlive the handler. Fails when the
  // replay state on disk is malformed.
  static Result<std::unique_ptr<TransferHandler>> create(HandlerConfig config, const Identity& identity,
                                                         const Shares& shares, AuthorizedRequestersFile& authorized,
                                                         RateLimiter& limiter, const WallClock& wall_clock);

  // Handles the transfer `transfer_id` whose message 1 is `msg1`; returns
  // when it is finished, failed or cancelled (`cancel` set). With
  // `over_capacity` an authorized requester gets an encrypted `busy`. With
  // `answer_in_upload` (the relay's transfer event offered it) the answer
  // opens the frame upload instead of a request of its own.
  // Thread-safe.
  TransferRecord handle(const std::string& transfer_id, std::span<const uint8_t> msg1,
                        const std::atomic<bool>& cancel, bool over_capacity = false,
                        bool answer_in_upload = false);

 private:
  TransferHandler(HandlerConfig config, const Identity& identity, const Shares& shares,
                  AuthorizedRequestersFile& authorized, RateLimiter& limiter, const WallClock& wall_clock,
                  ReplayGuard replay)
      : config_(std::move(config)), identity_(identity), shares_(shares), authorized_(authorized),
        limiter_(limiter), wall_clock_(wall_clock), replay_(std::move(replay)) {}
  // The replay guard's verdict on `ts`, persisted before it is returned;
  // an error (refused as such) when the state cannot be saved.
  Result<void> accept_timestamp(const PublicKey& requester, int64_t ts);

  const HandlerConfig config_;
  const Identity& identity_;
  const Shares& shares_;
  AuthorizedRequestersFile& authorized_;
  RateLimiter& limiter_;
  const WallClock& wall_clock_;
  std::mutex replay_mu_;
  ReplayGuard replay_;  // Guarded by replay_mu_
};

}  // namespace sealrelay::agent
