#include "agent/glob.h"

#include "agent/request_path.h"
#include "proto/errors.h"

#include <fnmatch.h>

namespace sealrelay::agent {

namespace {

Error bad_pattern(std::string_view pattern, std::string why) {
  return make_error(ErrorCode::bad_pattern, "pattern '" + std::string(pattern) + "' " + std::move(why));
}

bool component_matches(const std::string& pattern, const std::string& name) {
  return ::fnmatch(pattern.c_str(), name.c_str(), 0) == 0;
}

}  // namespace

Result<GlobPattern> GlobPattern::compile(std::string_view pattern) {
  if (pattern.find('\0') != std::string_view::npos)
    return bad_pattern("", "contains a NUL byte");
  if (pattern.size() > kMaxPathBytes) return bad_pattern("", "is longer than 4096 bytes");
  GlobPattern g;
  g.text_ = std::string(pattern);
  std::string_view rest = pattern;
  if (!rest.empty() && rest.back() == '/') {
    g.directories_only_ = true;
    rest.remove_suffix(1);
  }
  if (!rest.empty() && rest.front() == '/') {
    g.anchored_ = true;
    rest.remove_prefix(1);
  }
  if (rest.empty()) return bad_pattern(pattern, "is empty");
  if (rest.find('/') != std::string_view::npos) g.anchored_ = true;
  for (;;) {
    size_t slash = rest.find('/');
    std::string_view c = rest.substr(0, slash);
    if (c.empty()) return bad_pattern(pattern, "has an empty component ('//')");
    if (c == "." || c == "..") return bad_pattern(pattern, "has a '.' or '..' component");
    g.parts_.emplace_back(c);
    if (slash == std::string_view::npos) break;
    rest = rest.substr(slash + 1);
  }
  return g;
}

bool GlobPattern::matches(std::span<const std::string> components, bool is_directory) const {
  if (components.empty()) return false;
  if (directories_only_ && !is_directory) return false;
  if (!anchored_) {
    return parts_[0] == "**" || component_matches(parts_[0], components.back());
  }
  // ok[j]: parts_[i..] matches components[j..], computed from the last part
  // backwards. O(parts * components), no backtracking blow-up on many "**".
  const size_t n = components.size();
  std::vector<char> ok(n + 1, 0), next(n + 1, 0);
  ok[n] = 1;  // No parts left matches no components left.
  for (size_t i = parts_.size(); i-- > 0;) {
    next.assign(n + 1, 0);
    const bool star = parts_[i] == "**";
    for (size_t j = n + 1; j-- > 0;) {
      if (star) {
        next[j] = ok[j] || (j < n && next[j + 1]);
      } else {
        next[j] = j < n && ok[j + 1] && component_matches(parts_[i], components[j]);
      }
    }
    ok.swap(next);
  }
  return ok[0];
}

bool any_matches(std::span<const GlobPattern> patterns, std::span<const std::string> components,
                 bool is_directory) {
  for (const auto& p : patterns)
    if (p.matches(components, is_directory)) return true;
  return false;
}

}  // namespace sealrelay::agent
