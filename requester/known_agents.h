// known_agents: the requester's pins of agent static keys, like SSH's
// known_hosts. The relay's directory is a hint; this file is the authority.
//
// File format, one agent per line, each agent at most once:
//   <agent-id> <base64 public key> [# comment: fingerprint, when pinned]
// Blank lines and lines starting with # are ignored. Anything else — an id
// outside the grammar of base/ids.h, a key that is not 32 bytes of base64,
// a third field that is not a comment, an agent listed twice — makes the
// whole file an error naming the line: a pin is never chosen by line order.
#pragma once

#include <filesystem>
#include <map>
#include <optional>
#include <string>

#include "base/result.h"
#include "crypto/keys.h"

namespace sealrelay::requester {

class KnownAgents {
 public:
  // A missing file is an empty list; a malformed one is an error naming the line.
  static Result<KnownAgents> load(const std::filesystem::path& path);

  std::optional<PublicKey> find(const std::string& agent) const;
  const std::map<std::string, PublicKey>& all() const { return pins_; }

  // Pins (or re-pins) `agent` to `key` and saves the file atomically (0600).
  // Refuses (nothing written) an id outside the grammar or an all-zero key.
  Result<void> pin(const std::string& agent, const PublicKey& key);
  Result<void> remove(const std::string& agent);

 private:
  Result<void> save() const;
  std::filesystem::path path_;
  std::map<std::string, PublicKey> pins_;
};

}  // namespace sealrelay::requester
