#include "agent/request_path.h"

#include <algorithm>

#include "agent/windows_names.h"
#include "proto/errors.h"

namespace sealrelay::agent {

bool is_valid_share_name(std::string_view name) {
  return !name.empty() && name.size() <= kMaxShareNameBytes && name.front() != '.' &&
         name.find_first_not_of(kShareNameChars) == std::string_view::npos;
}

std::string RequestPath::str() const {
  if (components.empty()) return "/";
  std::string out;
  for (const auto& c : components) out += "/" + c;
  return out;
}

namespace {

Error bad_path(std::string why) { return make_error(ErrorCode::bad_path, "the path " + std::move(why)); }

}  // namespace

Result<RequestPath> parse_request_path(std::string_view path) {
  if (path.size() > kMaxPathBytes) return bad_path("is longer than 4096 bytes");
  if (path.find('\0') != std::string_view::npos) return bad_path("contains a NUL byte");
  if (path.empty() || path.front() != '/') return bad_path("must start with '/'");
  RequestPath out;
  if (path == "/") return out;
  std::string_view rest = path.substr(1);
  if (rest.back() == '/') rest.remove_suffix(1);  // One trailing slash is ignored.
  for (;;) {
    size_t slash = rest.find('/');
    std::string_view c = rest.substr(0, slash);
    if (c.empty()) return bad_path("has an empty component ('//')");
    if (c == "." || c == "..") return bad_path("has a '.' or '..' component");
    if (c.size() > kMaxComponentBytes) return bad_path("has a component longer than 255 bytes");
    out.components.emplace_back(c);
    if (slash == std::string_view::npos) break;
    rest = rest.substr(slash + 1);
  }
  if (!is_valid_share_name(out.components.front()))
    return bad_path("does not start with a valid share name");
  return out;
}

PathScope PathScope::everything() {
  PathScope s;
  s.everything_ = true;
  return s;
}

Result<PathScope> PathScope::of(std::span<const std::string> paths) {
  if (paths.empty()) return make_error(ErrorCode::bad_path, "a path scope needs at least one path");
  PathScope s;
  for (const auto& p : paths) {
    auto parsed = parse_request_path(p);
    if (!parsed) return parsed.error();
    if (parsed->components.empty()) s.everything_ = true;
    s.scopes_.push_back(std::move(parsed->components));
  }
  return s;
}

namespace {

// Whether two components are the same name. On Windows names below the
// share name ignore ASCII case, as NTFS does (a scope "/exports/Daily"
// covers the folder "daily"); share names are always exact.
bool same_name(const std::string& a, const std::string& b, bool share_name) {
#ifdef _WIN32
  if (!share_name) return windows_names::equal_ignoring_case(a, b);
#else
  (void)share_name;
#endif
  return a == b;
}

// Whether `prefix` is a component-wise prefix of `path`.
bool is_prefix(std::span<const std::string> prefix, std::span<const std::string> path) {
  if (prefix.size() > path.size()) return false;
  for (size_t i = 0; i < prefix.size(); ++i)
    if (!same_name(prefix[i], path[i], i == 0)) return false;
  return true;
}

}  // namespace

Visibility PathScope::visibility(std::span<const std::string> components) const {
  if (everything_) return Visibility::full;
  Visibility best = Visibility::hidden;
  for (const auto& scope : scopes_) {
    if (is_prefix(scope, components)) return Visibility::full;
    if (is_prefix(components, scope)) best = Visibility::ancestor;
  }
  return best;
}

std::vector<std::string> PathScope::paths() const {
  std::vector<std::string> out;
  for (const auto& scope : scopes_) out.push_back(RequestPath{scope}.str());
  return out;
}

}  // namespace sealrelay::agent
