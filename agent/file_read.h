// Positional reads of a file being served (transfer_handler.cpp): pread on
// POSIX (file_read.cpp), ReadFile at an offset on Windows
// (file_read_windows.cpp). Either way the descriptor's own offset is not
// what decides where the bytes come from.
#pragma once

#include "base/result.h"

#include <cstddef>
#include <cstdint>
#include <span>

namespace sealrelay::agent {

// Reads up to into.size() bytes of the open file `fd` at `offset`; the
// count read, 0 at the end of the file. Error "io_error" when the read
// fails (interrupted reads are retried).
Result<size_t> read_at(int fd, uint64_t offset, std::span<uint8_t> into);

}  // namespace sealrelay::agent
