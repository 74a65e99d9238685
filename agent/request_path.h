// Requester paths and path scopes: the syntax of the paths a requester asks
// for (`get`, `list`, `stat`) and of the `paths=` scopes in
// authorized_requesters, and the check of one against the other. Pure string
// work: nothing here touches the file system (share_policy.h does).
//
// Path syntax (docs for the networking code and the requester):
//   "/"                      the agent's root: lists the shares
//   "/<share>"               the root directory of a share
//   "/<share>/<c1>/.../<cn>" a file or directory inside a share
// Paths are absolute and are bytes, compared exactly (no case folding, no
// Unicode normalisation). A single trailing "/" is accepted and ignored.
// Refused with "bad_path": a relative path, an empty component ("a//b"),
// "." or "..", a NUL byte, a component over kMaxComponentBytes, a path over
// kMaxPathBytes, and a share name outside kShareNameChars.
#pragma once

#include "base/result.h"

#include <cstddef>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace sealrelay::agent {

// Longest path accepted, in bytes (PATH_MAX).
constexpr size_t kMaxPathBytes = 4096;
// Longest component accepted, in bytes (NAME_MAX).
constexpr size_t kMaxComponentBytes = 255;
// Longest share name.
constexpr size_t kMaxShareNameBytes = 64;
// A share name is 1 to kMaxShareNameBytes of these characters and does not
// start with '.' (so it is never "." or ".." and never hidden).
constexpr std::string_view kShareNameChars =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-";

// Whether `name` is a valid share name.
bool is_valid_share_name(std::string_view name);

// A syntactically valid requester path, split into components. components[0]
// is the share name; no components means "/".
struct RequestPath {
  std::vector<std::string> components;

  // The canonical text: "/" or "/c1/.../cn" (no trailing slash).
  std::string str() const;
};

// Parses a requester path (syntax above). Error "bad_path" with a sentence
// saying what is wrong; the sentence never echoes the path.
Result<RequestPath> parse_request_path(std::string_view path);

// How much of a path a scope lets a requester see.
enum class Visibility {
  // Outside the scope: refused as not_allowed, left out of listings.
  hidden,
  // A directory on the way to the scope (e.g. "/photos" for the scope
  // "/photos/2026"): it may be listed and stat'ed, but a listing of it shows
  // only the entries that lead into the scope.
  ancestor,
  // Inside the scope: everything the share policy allows.
  full,
};

// The set of paths one requester may use. A scope "/a/b" covers "/a/b" and
// everything below it ("/a/b/c"), not "/a/bc"; the scope "/" covers all. On
// Windows the components below the share name compare without ASCII case.
// Immutable; cheap to copy.
class PathScope {
 public:
  // The scope that covers every path (a requester without paths=).
  static PathScope everything();

  // A scope covering exactly the given requester paths. Error "bad_path" if
  // one of them is not a valid requester path, or the list is empty.
  static Result<PathScope> of(std::span<const std::string> paths);

  // The visibility of the path with these components (RequestPath
  // components: share name first).
  Visibility visibility(std::span<const std::string> components) const;

  // Whether this scope covers every path.
  bool is_everything() const { return everything_; }

  // The canonical scope paths; empty for everything().
  std::vector<std::string> paths() const;

 private:
  PathScope() = default;
  bool everything_ = false;
  std::vector<std::vector<std::string>> scopes_;  // Components of each scope.
};

}  // namespace sealrelay::agent
