// Transfers as the relay's routes see them, without HTTP: create, look up
// (only the principal's own), answer or refuse (the agent), cancel or
// release (the requester), and the lazy expiry of an unanswered transfer.
// Each call validates its input and returns a domain error as a value
// (codes of docs/api.md's error table); the HTTP glue maps it to a status.
//
// Time is the store's clock (Store::now_ms), so a test on MemoryStore with a
// hand-driven clock sees a transfer expire without sleeping.
//
// Thread safety: as the store; the object itself holds nothing mutable.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "base/result.h"
#include "relay/store.h"
#include "relay/tokens.h"

namespace sealrelay::relay {

class Transfers {
 public:
  // An answer is due `answer_timeout` after the transfer was created.
  Transfers(Store& store, std::chrono::seconds answer_timeout)
      : store_(store), answer_timeout_(answer_timeout) {}

  // A requester asks `agent` for a transfer with handshake message 1
  // (base64). Errors: unknown_agent (absent or out of scope), bad_request,
  // too_large (msg1 over 65535 bytes), agent_offline, rate_limited (the
  // agent has too many transfers open), or the store's.
  Result<TransferInfo> create(const Principal& who, const std::string& agent,
                              const std::string& msg1_b64);
  // The transfer if `who` may see it (its agent, or the requester that
  // created it while still in scope), expired first when overdue.
  // Error unknown_transfer otherwise: a stranger cannot tell absent from not
  // theirs.
  Result<TransferInfo> owned(const std::string& tid, const Principal& who);
  // The requester's transfers in scope, newest first, each expired if overdue.
  Result<std::vector<TransferInfo>> list(const Principal& who);

  // The agent's handshake answer (message 2, base64): requested -> answered.
  // Errors: bad_request, too_large, conflict (not requested any more).
  Result<TransferInfo> answer(const TransferInfo& t, const std::string& msg2_b64);
  // The agent could not process message 1: the transfer fails with the
  // agent's code ([a-z0-9_]{1,64}) and message (<= 1024 bytes). A code
  // absent or invalid, or a message that is absent (not a string), is
  // bad_request. Error conflict when it was no longer requested.
  Result<TransferInfo> refuse(const TransferInfo& t, const std::optional<std::string>& code,
                              const std::optional<std::string>& message);
  // The requester gives up: cancelled, and the agent is told. Cancelling an
  // ended transfer leaves it as it is.
  Result<TransferInfo> cancel(const TransferInfo& t);
  // The requester has its file: the frames kept for a resume go now, not at
  // the transfer's TTL; it stays complete and the agent is not told. A
  // transfer not complete is cancelled instead.
  Result<TransferInfo> release(const TransferInfo& t);

  // `t`, expired in the store first when it is still requested and its
  // answer is overdue.
  TransferInfo expire_if_overdue(TransferInfo t);

 private:
  Store& store_;
  const std::chrono::seconds answer_timeout_;
};

}  // namespace sealrelay::relay
