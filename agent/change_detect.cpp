#include "agent/change_detect.h"

#include <fcntl.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "proto/errors.h"

namespace sealrelay::agent {

namespace {

int64_t ns_of(const struct timespec& ts) {
  return static_cast<int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

Error io_error(const char* what) {
  return make_error(ErrorCode::io_error, std::string(what) + ": " + std::strerror(errno));
}

Error changed(std::string what) {
  return make_error(ErrorCode::changed, "the file " + what + " while it was being sent");
}

}  // namespace

FileSnapshot snapshot_from_stat(const struct stat& st) {
  return FileSnapshot{st.st_dev, st.st_ino, static_cast<int64_t>(st.st_size),
                      ns_of(st.st_mtim), ns_of(st.st_ctim)};
}

Result<FileSnapshot> snapshot_of(int fd) {
  struct stat st;
  if (::fstat(fd, &st) != 0) return io_error("cannot stat the open file");
  return snapshot_from_stat(st);
}

Result<FileWatch> FileWatch::start(int fd, int dir_fd, std::string name) {
  auto snap = snapshot_of(fd);
  if (!snap) return snap.error();
  UniqueFd dir;
  if (dir_fd >= 0) {
    dir.reset(::fcntl(dir_fd, F_DUPFD_CLOEXEC, 0));
    if (!dir) return io_error("cannot duplicate the directory descriptor");
  }
  return FileWatch(*snap, std::move(dir), std::move(name));
}

Result<void> FileWatch::still_same(int fd) const {
  struct stat st;
  if (::fstat(fd, &st) != 0) return io_error("cannot stat the open file");
  FileSnapshot now = snapshot_from_stat(st);
  if (now.dev != snapshot_.dev || now.ino != snapshot_.ino) std::abort();  // Another file: misuse.
  if (now.size < snapshot_.size) return changed("was truncated");
  if (now.size > snapshot_.size) return changed("grew");
  if (now.mtime_ns != snapshot_.mtime_ns) return changed("was modified");
  if (now.ctime_ns != snapshot_.ctime_ns) return changed("had its metadata changed");
  if (st.st_nlink == 0) return changed("was deleted");
  if (dir_) {
    struct stat at;
    if (::fstatat(dir_.get(), name_.c_str(), &at, AT_SYMLINK_NOFOLLOW) != 0) {
      if (errno == ENOENT) return changed("was deleted or renamed");
      return io_error("cannot stat the file's name");
    }
    if (at.st_dev != snapshot_.dev || at.st_ino != snapshot_.ino)
      return changed("was replaced");
  }
  return {};
}

}  // namespace sealrelay::agent
