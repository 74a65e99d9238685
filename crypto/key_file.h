// The file half of keys.h: writing and reading a secret key file so that
// only this account can read it. key_file.cpp does it with POSIX modes
// (0600, owner checked); key_file_windows.cpp with an ACL (the owner,
// SYSTEM and Administrators only). keys.cpp formats and parses the content.
// On Windows the ACL check also guards files that must not be changed by
// others (acl_problem with Guard::change).
#pragma once

#include "base/result.h"

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <span>
#include <string_view>

namespace sealrelay::key_file {

// Writes `parts`, concatenated, to `path` atomically (a temporary file in
// the same folder, flushed, then renamed over `path`), readable and writable
// by this account only. Error "key_file" saying what failed.
Result<void> write(const std::filesystem::path& path, std::span<const std::string_view> parts);

// Reads the file at `path` into `buf` and returns the byte count, after
// checking that it is a regular file only this account (and, on Windows,
// SYSTEM and Administrators) can read. Errors, with the fix in the message:
// "key_missing", "key_permissions", "key_malformed" (larger than `buf`),
// "key_file".
Result<size_t> read(const std::filesystem::path& path, std::span<uint8_t> buf);

#ifdef _WIN32
// What acl_problem looks for: accounts that may read the file (a secret
// key), or that may change it or its permissions (a list of whom to trust,
// such as the agent's authorized_requesters).
enum class Guard { read, change };

// Why the security descriptor `sd` of a file lets more than its owner,
// `self` (the SID of the account using it; may be null), SYSTEM and
// Administrators read it (Guard::read) or change it (Guard::change) — an
// allow entry for another account or group (Everyone, Users, Authenticated
// Users, ...) — as a sentence; nullopt when it does not. A descriptor
// without a DACL (everyone may do anything) is refused too.
std::optional<std::string> acl_problem(const void* sd, const void* self, Guard guard = Guard::read);

// acl_problem(Guard::change) for the file open as the C runtime's `fd`,
// with this process's account as `self`.
std::optional<std::string> others_may_change(int fd);
#endif

}  // namespace sealrelay::key_file
