// The agent's trust list: which requesters (by their X25519 static public
// key, learnt from Noise_IK message 1) may use the agent, and which paths
// each may use. Read from an `authorized_requesters` file, in the spirit of
// SSH's authorized_keys:
//
//   # comment lines and blank lines are ignored
//   <key> [paths=<path>[,<path>...]] [comment...]
//
//   <key>   the requester's public key: standard base64 with padding of its
//           32 bytes (44 characters), as `sealrelay whoami` prints it.
//   paths=  optional, and only directly after the key: the requester paths
//           (request_path.h) this requester may use, comma-separated, no
//           spaces; "/a/b" covers "/a/b" and below, not "/a/bc". Without
//           it the requester may use every share.
//   comment the rest of the line, kept for logs (e.g. "alice@ops laptop").
//
// Strict, line by line, and failing closed: a malformed key, a bad or
// empty scope, "paths=" anywhere but right after the key (a misplaced scope
// must not silently grant everything), the same key twice, a NUL byte make
// that line broken. A broken line grants nothing, and a key that appears on
// any broken line is refused even where it also has a valid line (which of
// the two did the admin mean?). Valid lines keep working, so one typo does
// not lock everyone out, and never keeps a removed key in force. A file
// over kMaxAuthorizedRequestersBytes authorizes nobody. Lines may end in
// "\r\n".
#pragma once

#include "agent/change_detect.h"
#include "agent/request_path.h"
#include "base/key_bytes.h"
#include "base/result.h"

#include <array>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace sealrelay::agent {

// Largest authorized_requesters file accepted (about 10,000 entries).
constexpr size_t kMaxAuthorizedRequestersBytes = 1 << 20;

using RequesterKey = std::array<uint8_t, kKeyBytes>;

// One line of the file.
struct AuthorizedRequester {
  RequesterKey key{};
  PathScope scope = PathScope::everything();
  std::string comment;  // May be empty.
  int line = 0;         // 1-based line number in the file, for messages.
};

// A parsed trust list. Immutable; safe to share between threads.
class AuthorizedRequesters {
 public:
  // The empty list: nobody is authorized.
  AuthorizedRequesters() = default;

  // Parses the text of an authorized_requesters file: the valid lines, and
  // in broken() each broken one. Error "bad_authorized_requesters" only for
  // a file too large to read at all.
  static Result<AuthorizedRequesters> parse(std::string_view text);

  // The entry whose key is exactly `key`, or nullptr. The pointer is valid
  // as long as this list is.
  const AuthorizedRequester* find(std::span<const uint8_t, kKeyBytes> key) const;

  // Every entry in force, in file order.
  const std::vector<AuthorizedRequester>& entries() const { return entries_; }

  // The broken lines, in file order: code "bad_authorized_requesters",
  // message "line N: why" (never the line's text).
  const std::vector<Error>& broken() const { return broken_; }

 private:
  std::vector<AuthorizedRequester> entries_;
  std::vector<Error> broken_;
  std::map<RequesterKey, size_t> by_key_;  // Index into entries_.
};

// The authorized_requesters file on disk, reloaded when it changes. The
// networking code calls reload_if_changed() before it answers a handshake
// (or on a timer) and looks keys up in current().
class AuthorizedRequestersFile {
 public:
  // Nothing is loaded yet: current() is the empty list until the first
  // successful reload_if_changed().
  explicit AuthorizedRequestersFile(std::string path) : path_(std::move(path)) {}

  enum class Reload { unchanged, reloaded };

  // Stats the file (following symlinks); when its device, inode, size,
  // mtime or ctime differ from the version loaded last, reads and parses
  // it, and its valid lines replace the old list (reloaded); each broken
  // line is logged (warn) with its number and why. On a failure to read
  // it at all — missing, unreadable, not a regular file, writable by others
  // ("not_allowed"), too big ("bad_authorized_requesters") — nobody is
  // authorized until it is fixed (a revocation must never be undone by a
  // broken file), and the error is logged and returned once per version of
  // the file: calls that find the same broken version (or the same missing
  // file) again return unchanged (last_error() still has it). Thread-safe.
  Result<Reload> reload_if_changed();

  // The list in force. Holding the pointer keeps that list alive even if a
  // reload replaces it. Thread-safe.
  std::shared_ptr<const AuthorizedRequesters> current() const;

  // The error of the last reload attempt, if the file could not be read.
  // Thread-safe.
  std::optional<Error> last_error() const;

  const std::string& path() const { return path_; }

 private:
  const std::string path_;
  mutable std::mutex mu_;
  std::shared_ptr<const AuthorizedRequesters> current_ =  // Guarded by mu_.
      std::make_shared<const AuthorizedRequesters>();
  std::optional<FileSnapshot> loaded_;  // Guarded by mu_. Version in force.
  std::optional<FileSnapshot> failed_;  // Guarded by mu_. Last broken version
                                        // (none when it could not be stat'ed).
  std::optional<Error> last_error_;     // Guarded by mu_.
};

}  // namespace sealrelay::agent
