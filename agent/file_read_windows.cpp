#include "agent/file_read.h"
#include "agent/win_file.h"

#include "proto/errors.h"

namespace sealrelay::agent {

Result<size_t> read_at(int fd, uint64_t offset, std::span<uint8_t> into) {
  OVERLAPPED at{};
  at.Offset = static_cast<DWORD>(offset);
  at.OffsetHigh = static_cast<DWORD>(offset >> 32);
  DWORD n = 0;
  const DWORD want = static_cast<DWORD>(std::min<size_t>(into.size(), 1u << 30));
  if (!::ReadFile(win::handle_of(fd), into.data(), want, &n, &at)) {
    if (::GetLastError() == ERROR_HANDLE_EOF) return size_t{0};
    return make_error(ErrorCode::io_error, "reading the file failed (Windows error " + std::to_string(::GetLastError()) + ")");
  }
  return static_cast<size_t>(n);
}

}  // namespace sealrelay::agent
