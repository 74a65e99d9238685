// Relay credentials: the tokens file and its in-memory verifier.
//
// A token is "srt_" + 16 hex (its id, for lookup) + "_" + 64 hex (256 random
// bits). The file keeps per token only its id, kind, subject and the SHA-256
// of the whole token string; the token itself is printed once at creation.
// SHA-256 suffices (no slow hash) because the secret is 256 random bits, not
// a password. Comparison is constant time (CRYPTO_memcmp).
//
// File: JSON {"version":1,"tokens":[{"id","kind":"agent"|"requester",
// "agent" | "name"+"agents":[...] ,"sha256","created"}]}, mode 0600, replaced
// atomically (write temp + fsync + rename), changes serialised with flock.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "base/result.h"

namespace sealrelay::relay {

enum class TokenKind { agent, requester };

struct TokenRecord {
  std::string id;
  TokenKind kind = TokenKind::agent;
  std::string agent;                // agent tokens: the agent id
  std::string name;                 // requester tokens: a label
  std::vector<std::string> agents;  // requester tokens: scope ("*" = all)
  std::string sha256_hex;
  int64_t created = 0;
  // Why the relay accepts nothing with this token ("" = it is usable): an
  // entry written by hand or by an older relay, whose agent id (or a scope
  // entry) breaks the agent-id rule (base/ids.h). Kept so `token list`
  // shows it and `token revoke` can remove it.
  std::string defect;
};

// Who is calling, after authentication.
struct Principal {
  TokenKind kind = TokenKind::agent;
  std::string token_id;  // "" for a client certificate
  std::string agent;     // agent principals
  std::string name;      // requester principals
  std::vector<std::string> agents;
  bool via_certificate = false;
  // Requester scope check.
  bool sees(std::string_view agent_id) const;
  // Rate-limit key: the token id or "cert:<agent>".
  std::string key() const { return token_id.empty() ? "cert:" + agent : token_id; }
};

// Admin operations on the file (the `token` subcommands). Each takes the
// file lock, reads, changes, writes atomically.
namespace token_file {
Result<std::vector<TokenRecord>> load(const std::string& path);  // absent file: empty
// Returns the new token string (to print once).
Result<std::string> add_agent(const std::string& path, const std::string& agent_id);
Result<std::string> add_requester(const std::string& path, const std::string& name,
                                  const std::vector<std::string>& agents);
// Error "not_found" when no token has that id.
Result<void> revoke(const std::string& path, const std::string& id);
}  // namespace token_file

// Server side: verifies bearer tokens against the file, re-reading it when
// its mtime, size or inode change (checked at most every `recheck`, and at
// once for an unknown token id, so a new token works immediately; a
// revocation takes effect within `recheck`). A token with a defect is left
// out (logged with its id and the fix): it fails closed, alone. Refusing the
// whole file instead would stop every agent for one bad line, and, since a
// reload that fails keeps the old set, would keep honouring tokens revoked
// in the same file.
// Thread-safe.
class TokenVerifier {
 public:
  explicit TokenVerifier(std::string path,
                         std::chrono::milliseconds recheck = std::chrono::milliseconds(500));
  // Loads the file now. Errors only for an unreadable or malformed file;
  // an absent file is an empty token set.
  Result<void> load();
  // Error "unauthorized" for anything but a valid, present token.
  Result<Principal> verify(std::string_view token);
  size_t size();
  // Whether token `id` is in the set loaded now (no reload).
  bool holds(std::string_view id);
  // Re-reads the file if it changed, then hands over the ids of tokens
  // accepted before and not any more (revoked, or their entry changed)
  // since the last call. The server calls it every second and ends what
  // those tokens opened.
  std::vector<std::string> take_revoked();

 private:
  // Re-reads the file if it changed; checks at most every recheck_ unless
  // `force` (an unknown token id: it may have been added a moment ago).
  void maybe_reload(bool force);

  const std::string path_;
  const std::chrono::milliseconds recheck_;
  std::mutex mu_;
  // Guarded by mu_ (the map itself is immutable once published):
  std::shared_ptr<const std::unordered_map<std::string, TokenRecord>> records_;
  std::chrono::steady_clock::time_point next_check_{};
  std::vector<std::string> revoked_;  // not yet taken by take_revoked()
  struct FileId {
    dev_t dev = 0;
    ino_t ino = 0;
    off_t size = -1;
    int64_t mtime_ns = -1;
    bool operator==(const FileId&) const = default;
  } file_id_;
};

// Parses "srt_<16 hex>_<64 hex>" into its id; nullopt when malformed.
std::optional<std::string> token_id_of(std::string_view token);

}  // namespace sealrelay::relay
