#include "requester/durable.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "proto/errors.h"

namespace sealrelay::requester {
namespace fs = std::filesystem;

Result<void> sync_parent_directory(const fs::path& file) {
  fs::path dir = file.parent_path().empty() ? fs::path(".") : file.parent_path();
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return make_error(ErrorCode::io, "cannot open " + dir.string() + ": " + std::strerror(errno));
  bool ok = ::fsync(fd) == 0;
  int err = errno;
  ::close(fd);
  if (!ok) return make_error(ErrorCode::io, "cannot sync " + dir.string() + ": " + std::strerror(err));
  return {};
}

Result<void> write_file_atomically(const fs::path& path, std::string_view text) {
  std::string tmp = path.string() + ".tmp.XXXXXX";
  int fd = ::mkstemp(tmp.data());
  if (fd < 0) return make_error(ErrorCode::config, "cannot write " + path.string() + ": " + std::strerror(errno));
  bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) && ::fsync(fd) == 0;
  ok = ::close(fd) == 0 && ok;
  if (!ok || ::rename(tmp.c_str(), path.c_str()) != 0) {
    ::unlink(tmp.c_str());
    return make_error(ErrorCode::config, "cannot write " + path.string());
  }
  return sync_parent_directory(path);
}

}  // namespace sealrelay::requester
