// The parts of the share policy (share_policy.h) that do not touch the file
// system, shared by its POSIX walk (share_policy.cpp) and its Windows walk
// (share_policy_windows.cpp); share_common.cpp implements them. Internal to
// those files.
#pragma once

#include "agent/share_policy.h"

#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace sealrelay::agent::detail {

// Whether names (globs; scopes below the share name, request_path.h) ignore
// ASCII case: on Windows, as NTFS does; elsewhere names are bytes.
#ifdef _WIN32
constexpr bool kNamesIgnoreCase = true;
#else
constexpr bool kNamesIgnoreCase = false;
#endif

// Why `root` cannot be a share root on this platform; nullopt when it can
// (share_policy.cpp: absolute; share_policy_windows.cpp: windows_names.h).
std::optional<std::string> root_problem(std::string_view root);

Error not_allowed(std::string why);  // "the path " + why
Error not_found();
Error escapes();
Error hard_link();
Error no_share();

// Components of a path as the requester sees it: share name, then `canon`.
std::vector<std::string> requester_components(const CompiledShare& share, std::span<const std::string> canon);
std::string requester_path(const CompiledShare& share, std::span<const std::string> canon);

Visibility visibility_of(const CompiledShare& share, std::span<const std::string> canon, const PathScope& scope);

// Whether `canon` or a directory above it matches an exclude pattern;
// `is_directory` says what `canon` itself is.
bool excluded(const CompiledShare& share, std::span<const std::string> canon, bool is_directory);

// Whether the file `canon` is served under the share's include patterns.
bool included(const CompiledShare& share, std::span<const std::string> canon);

// Parses `path`; its share must be visible in `scope`, which is checked
// before the share is looked up, so a scoped requester learns no share names.
Result<RequestPath> parse_in_scope(std::string_view path, const PathScope& scope);

// Sorts a listing by name (bytewise).
void sort_by_name(Listing& l);

}  // namespace sealrelay::agent::detail
