#include "agent/file_read.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "proto/errors.h"

namespace sealrelay::agent {

Result<size_t> read_at(int fd, uint64_t offset, std::span<uint8_t> into) {
  for (;;) {
    ssize_t n = ::pread(fd, into.data(), into.size(), static_cast<off_t>(offset));
    if (n >= 0) return static_cast<size_t>(n);
    if (errno != EINTR) return make_error(ErrorCode::io_error, std::string("reading the file failed: ") + std::strerror(errno));
  }
}

}  // namespace sealrelay::agent
