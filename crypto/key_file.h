// The file half of keys.h: writing and reading a secret key file so that
// only this account can read it. key_file.cpp does it with POSIX modes
// (0600, owner checked); key_file_windows.cpp with an ACL (the owner,
// SYSTEM and Administrators only). keys.cpp formats and parses the content.
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
// Why the security descriptor `sd` (of a key file) lets more than its
// owner, `self` (the SID of the account reading it; may be null), SYSTEM and
// Administrators read the file — an allow entry with read access for
// another account or group (Everyone, Users, Authenticated Users, ...) — as
// a sentence; nullopt when it does not. A descriptor without a DACL
// (everyone may do anything) is refused too.
std::optional<std::string> acl_problem(const void* sd, const void* self);
#endif

}  // namespace sealrelay::key_file
