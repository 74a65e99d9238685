// The file-system-free half of the share policy (share_rules.h), shared by
// the POSIX and the Windows walks.
#include "agent/share_rules.h"

#include <algorithm>

#include "proto/errors.h"

namespace sealrelay::agent {

namespace detail {

Error not_allowed(std::string why) { return make_error(ErrorCode::not_allowed, "the path " + std::move(why)); }
Error not_found() { return make_error(ErrorCode::not_found, "no such file or directory"); }
Error escapes() { return not_allowed("leads outside its share"); }
Error hard_link() {
  return not_allowed("is a file with more than one hard link, and this share does not serve those");
}
Error no_share() { return make_error(ErrorCode::not_found, "no share of that name"); }

std::vector<std::string> requester_components(const CompiledShare& share,
                                              std::span<const std::string> canon) {
  std::vector<std::string> out;
  out.reserve(canon.size() + 1);
  out.push_back(share.config.name);
  out.insert(out.end(), canon.begin(), canon.end());
  return out;
}

Visibility visibility_of(const CompiledShare& share, std::span<const std::string> canon,
                         const PathScope& scope) {
  if (scope.is_everything()) return Visibility::full;
  return scope.visibility(requester_components(share, canon));
}

bool excluded(const CompiledShare& share, std::span<const std::string> canon, bool is_directory) {
  for (size_t n = 1; n <= canon.size(); ++n) {
    bool dir = n < canon.size() || is_directory;
    if (any_matches(share.exclude, canon.first(n), dir)) return true;
  }
  return false;
}

bool included(const CompiledShare& share, std::span<const std::string> canon) {
  if (share.include.empty()) return true;
  for (size_t n = 1; n <= canon.size(); ++n) {
    if (any_matches(share.include, canon.first(n), n < canon.size())) return true;
  }
  return false;
}

std::string requester_path(const CompiledShare& share, std::span<const std::string> canon) {
  return RequestPath{requester_components(share, canon)}.str();
}

Result<RequestPath> parse_in_scope(std::string_view path, const PathScope& scope) {
  auto parsed = parse_request_path(path);
  if (!parsed) return parsed.error();
  if (!parsed->components.empty() &&
      scope.visibility(std::span(parsed->components).first(1)) == Visibility::hidden)
    return not_allowed("is outside the paths this requester may use");
  return parsed;
}

void sort_by_name(Listing& l) {
  std::sort(l.entries.begin(), l.entries.end(),
            [](const EntryInfo& a, const EntryInfo& b) { return a.name < b.name; });
}

}  // namespace detail

using detail::CompiledShare;

std::string_view protocol_error_code(std::string_view code) {
  using enum ErrorCode;
  auto known = errors::parse(code);
  switch (known.value_or(internal)) {
    case not_found: return errors::name(not_found);
    case not_allowed: case too_large: return errors::name(not_allowed);
    case bad_path: case not_a_file: case not_a_directory: return errors::name(bad_request);
    default: return errors::name(internal);
  }
}

Result<Shares> Shares::create(std::vector<ShareConfig> configs) {
  std::vector<CompiledShare> shares;
  for (auto& c : configs) {
    auto bad = [&](std::string why) {
      return make_error(ErrorCode::bad_config, "share '" + c.name + "': " + std::move(why));
    };
    if (!is_valid_share_name(c.name))
      return bad("a share name is 1 to 64 letters, digits, '.', '_' or '-', not starting with '.'");
    if (auto why = detail::root_problem(c.root)) return bad(*why);
    CompiledShare s;
    for (const auto& [patterns, out] : {std::pair{&c.include, &s.include}, {&c.exclude, &s.exclude}}) {
      for (const auto& p : *patterns) {
        auto g = GlobPattern::compile(p, detail::kNamesIgnoreCase);
        if (!g) return bad(g.error().message);
        out->push_back(std::move(*g));
      }
    }
    s.config = std::move(c);
    shares.push_back(std::move(s));
  }
  std::sort(shares.begin(), shares.end(),
            [](const auto& a, const auto& b) { return a.config.name < b.config.name; });
  for (size_t i = 1; i < shares.size(); ++i) {
    if (shares[i].config.name == shares[i - 1].config.name)
      return make_error(ErrorCode::bad_config, "share '" + shares[i].config.name + "' is defined twice");
  }
  return Shares(std::move(shares));
}

std::vector<std::string> Shares::names() const {
  std::vector<std::string> out;
  for (const auto& s : shares_) out.push_back(s.config.name);
  return out;
}

const CompiledShare* Shares::find(std::string_view name) const {
  auto it = std::lower_bound(shares_.begin(), shares_.end(), name,
                             [](const auto& s, std::string_view n) { return s.config.name < n; });
  return it != shares_.end() && it->config.name == name ? &*it : nullptr;
}

Result<OpenedFile> Shares::open_file(std::string_view path, const PathScope& scope) const {
  constexpr int kAttempts = 3;
  for (int i = 1;; ++i) {
    auto r = open_file_once(path, scope);
    if (r || !errors::is(r.error(), ErrorCode::changed) || i == kAttempts) return r;
  }
}

}  // namespace sealrelay::agent
