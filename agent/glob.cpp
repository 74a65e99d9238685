#include "agent/glob.h"

#include "agent/request_path.h"
#include "proto/errors.h"

#include <optional>

namespace sealrelay::agent {

namespace {

Error bad_pattern(std::string_view pattern, std::string why) {
  return make_error(ErrorCode::bad_pattern, "pattern '" + std::string(pattern) + "' " + std::move(why));
}

char fold(char c, bool ignore_case) {
  return ignore_case && c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

// Matches the bracket expression starting at p[i] ('[') against `c`. Sets
// `end` to the index after its ']'; returns nullopt when there is no ']'
// (the '[' is then an ordinary character, as in fnmatch).
std::optional<bool> bracket_matches(std::string_view p, size_t i, char c, bool ignore_case, size_t& end) {
  size_t j = i + 1;
  bool negate = j < p.size() && (p[j] == '!' || p[j] == '^');
  if (negate) ++j;
  bool found = false;
  for (bool first = true; j < p.size() && (first || p[j] != ']'); first = false) {
    char lo = p[j] == '\\' && j + 1 < p.size() ? p[++j] : p[j];
    ++j;
    char hi = lo;
    if (j + 1 < p.size() && p[j] == '-' && p[j + 1] != ']') {
      hi = p[j + 1] == '\\' && j + 2 < p.size() ? p[j + 2] : p[j + 1];
      j += p[j + 1] == '\\' ? 3 : 2;
    }
    const char f = fold(c, ignore_case);
    if ((c >= lo && c <= hi) || (f >= fold(lo, ignore_case) && f <= fold(hi, ignore_case))) found = true;
  }
  if (j >= p.size()) return std::nullopt;
  end = j + 1;
  return found != negate;
}

// fnmatch(3) without flags ('*' and '?' match any byte, a leading '.'
// included; '[...]' sets; '\\' escapes), optionally ignoring ASCII case.
// Backtracks only to the last '*': linear in practice, quadratic at worst.
bool component_matches(std::string_view p, std::string_view n, bool ignore_case) {
  size_t pi = 0, ni = 0, star_p = std::string_view::npos, star_n = 0;
  while (ni < n.size()) {
    size_t next = pi + 1;
    bool ok = false;
    if (pi < p.size() && p[pi] == '*') {
      star_p = pi++;
      star_n = ni;
      continue;
    }
    if (pi < p.size()) {
      if (p[pi] == '?') {
        ok = true;
      } else if (p[pi] == '[') {
        auto b = bracket_matches(p, pi, n[ni], ignore_case, next);
        ok = b ? *b : n[ni] == '[';
        if (!b) next = pi + 1;
      } else {
        char lit = p[pi];
        if (lit == '\\') lit = pi + 1 < p.size() ? p[++next - 1] : '\0';  // A trailing '\\' never matches.
        ok = lit != '\0' && fold(lit, ignore_case) == fold(n[ni], ignore_case);
      }
    }
    if (ok) {
      pi = next;
      ++ni;
    } else if (star_p != std::string_view::npos) {
      pi = star_p + 1;
      ni = ++star_n;
    } else {
      return false;
    }
  }
  while (pi < p.size() && p[pi] == '*') ++pi;
  return pi == p.size();
}

}  // namespace

Result<GlobPattern> GlobPattern::compile(std::string_view pattern, bool ignore_case) {
  if (pattern.find('\0') != std::string_view::npos)
    return bad_pattern("", "contains a NUL byte");
  if (pattern.size() > kMaxPathBytes) return bad_pattern("", "is longer than 4096 bytes");
  GlobPattern g;
  g.text_ = std::string(pattern);
  g.ignore_case_ = ignore_case;
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
    return parts_[0] == "**" || component_matches(parts_[0], components.back(), ignore_case_);
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
        next[j] = j < n && ok[j + 1] && component_matches(parts_[i], components[j], ignore_case_);
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
