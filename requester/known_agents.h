// known_agents: the requester's pins of agent static keys, like SSH's
// known_hosts. The relay's directory is a hint; this file is the authority.
//
// File format, one agent per line:
//   <agent-id> <base64 public key> [# comment: fingerprint, when pinned]
// Blank lines and lines starting with # are ignored.
#pragma once

#include <filesystem>
#include <map>
#include <optional>
#include <string>

#include "crypto/keys.h"
#include "proto/result.h"

namespace sealrelay::requester {

// Agent ids as the relay accepts them: [A-Za-z0-9._-]{1,64}.
bool valid_agent_id(std::string_view id);

class KnownAgents {
 public:
  // A missing file is an empty list; a malformed one is an error naming the line.
  static Result<KnownAgents> load(const std::filesystem::path& path);

  std::optional<PublicKey> find(const std::string& agent) const;
  const std::map<std::string, PublicKey>& all() const { return pins_; }

  // Pins (or re-pins) `agent` to `key` and saves the file atomically (0600).
  Result<void> pin(const std::string& agent, const PublicKey& key);
  Result<void> remove(const std::string& agent);

 private:
  Result<void> save() const;
  std::filesystem::path path_;
  std::map<std::string, PublicKey> pins_;
};

}  // namespace sealrelay::requester
