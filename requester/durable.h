// Files the CLI replaces by rename (known_agents, a verified download):
// the rename is durable only once the directory holding it is fsynced.
#pragma once

#include <filesystem>
#include <string_view>

#include "base/result.h"

namespace sealrelay::requester {

// Writes `text` to `path` atomically: a temporary file (0600) next to it,
// fsynced, renamed over `path`, then the directory fsynced.
Result<void> write_file_atomically(const std::filesystem::path& path, std::string_view text);

// fsyncs the directory that holds `file` (after a rename into it).
Result<void> sync_parent_directory(const std::filesystem::path& file);

}  // namespace sealrelay::requester
