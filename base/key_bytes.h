// The one size of a key: X25519 public and private keys, and the symmetric
// keys derived from them (docs/protocol.md §Handshake). Every program names
// it from here: crypto's protocol::kKeyBytes, fingerprints, the agent's
// authorized_requesters and the relay's directory.
#pragma once

#include <cstddef>

namespace sealrelay {

inline constexpr size_t kKeyBytes = 32;

}  // namespace sealrelay
