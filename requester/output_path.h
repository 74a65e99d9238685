// Where a download may write. Every output path the CLI makes up itself —
// a fan-out's folder per agent, a file name taken from a remote path — is
// joined under the output folder here, and only here, and checked to stay
// under it: an agent id or a name from the network never leads outside -o.
#pragma once

#include <filesystem>

#include "base/result.h"

namespace sealrelay::requester {

// `root` / `relative`, refused (code "unsafe_path", the reason in the
// message) unless it stays under `root`:
//  * lexically: `relative` is not empty, not absolute, and has no "", "."
//    or ".." component, and the joined path, normalized, is under `root`;
//  * on disk: every directory between `root` and the file (created, mode
//    0777 & ~umask, when `create_parents`) resolves (symlinks followed) to a
//    place under the real path of `root`, so a planted symlink cannot
//    redirect the download. The file's own name is not followed by the
//    writer (PartFile: O_NOFOLLOW, rename replaces a link).
// `root` must exist.
Result<std::filesystem::path> path_under(const std::filesystem::path& root, const std::filesystem::path& relative,
                                         bool create_parents);

}  // namespace sealrelay::requester
