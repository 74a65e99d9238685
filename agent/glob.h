// GlobPattern: the include/exclude patterns of a share, matched against a
// path relative to the share root, split into components. Syntax, close to
// .gitignore:
//   * `*` matches any run of characters within one component, `?` one
//     character, `[abc]` / `[a-z]` / `[!a]` a set (fnmatch(3) without flags:
//     `*` also matches a leading '.', `\` escapes), bytes compared
//     exactly, or ASCII letters without case when compiled with
//     ignore_case (the Windows agent's shares: NTFS names ignore case);
//   * a pattern without '/' (e.g. `*.key`, `.git`) matches a file or
//     directory of that name at any depth;
//   * a pattern with a '/' (e.g. `logs/*.gz`, `/tmp`) is anchored at the
//     share root (a leading '/' only marks that) and matches component by
//     component; a `**` component matches zero or more components
//     (`logs/**/*.gz`, `**/cache`);
//   * a trailing '/' (e.g. `build/`) matches directories only.
// Refused when compiling: an empty pattern, an empty component ("a//b"), a
// "." or ".." component, a NUL byte, more than kMaxPathBytes.
#pragma once

#include "base/result.h"

#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace sealrelay::agent {

class GlobPattern {
 public:
  // Compiles `pattern` (syntax above). Error "bad_pattern" when malformed.
  static Result<GlobPattern> compile(std::string_view pattern, bool ignore_case = false);

  // Whether the share-relative path `components` (non-empty) matches;
  // `is_directory` says whether it names a directory, for patterns with a
  // trailing '/'.
  bool matches(std::span<const std::string> components, bool is_directory) const;

  // The pattern as written.
  const std::string& text() const { return text_; }

 private:
  GlobPattern() = default;
  std::string text_;
  std::vector<std::string> parts_;  // Components; "**" is the wildcard.
  bool anchored_ = false;
  bool directories_only_ = false;
  bool ignore_case_ = false;
};

// Whether any of `patterns` matches.
bool any_matches(std::span<const GlobPattern> patterns, std::span<const std::string> components,
                 bool is_directory);

}  // namespace sealrelay::agent
