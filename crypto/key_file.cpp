// key_file.h on POSIX: mode 0600, owned by this user.
#include "crypto/key_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fmt/format.h>

namespace sealrelay::key_file {
namespace {

namespace fs = std::filesystem;

Error file_error(const fs::path& path, std::string_view what) {
  return make_error("key_file", fmt::format("{}: {}: {}", path.string(), what, std::strerror(errno)));
}

bool write_all(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

}  // namespace

Result<void> write(const fs::path& path, std::span<const std::string_view> parts) {
  fs::path dir = path.has_parent_path() ? path.parent_path() : fs::path(".");
  std::string tmpl = (dir / (path.filename().string() + ".tmp.XXXXXX")).string();
  int fd = ::mkstemp(tmpl.data());  // mode 0600
  if (fd < 0) return file_error(tmpl, "cannot create temporary key file");

  bool ok = ::fchmod(fd, 0600) == 0;
  for (std::string_view part : parts) ok = ok && write_all(fd, part);
  ok = ok && ::fsync(fd) == 0;
  ok = (::close(fd) == 0) && ok;
  if (!ok || ::rename(tmpl.c_str(), path.c_str()) != 0) {
    Error e = file_error(path, "cannot write key file");
    ::unlink(tmpl.c_str());
    return e;
  }
  int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
  return {};
}

Result<size_t> read(const fs::path& path, std::span<uint8_t> buf) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) {
    if (errno == ENOENT) {
      return make_error("key_missing", fmt::format("{} does not exist; create it with the init/keygen command",
                                                   path.string()));
    }
    return file_error(path, "cannot open key file");
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    Error e = file_error(path, "cannot stat key file");
    ::close(fd);
    return e;
  }
  auto refuse = [&](std::string code, std::string message) -> Result<size_t> {
    ::close(fd);
    return make_error(std::move(code), std::move(message));
  };
  if (!S_ISREG(st.st_mode)) return refuse("key_file", fmt::format("{} is not a regular file", path.string()));
  if ((st.st_mode & 077) != 0) {
    return refuse("key_permissions",
                  fmt::format("{} is accessible by group or others (mode {:o}); a secret key must be private: "
                              "run `chmod 600 {}`",
                              path.string(), st.st_mode & 0777, path.string()));
  }
  if (st.st_uid != ::geteuid()) {
    return refuse("key_permissions", fmt::format("{} is owned by uid {}, not by this user (uid {}); run `chown "
                                                 "$(id -u) {}`",
                                                 path.string(), st.st_uid, ::geteuid(), path.string()));
  }
  if (st.st_size > static_cast<off_t>(buf.size())) {
    return refuse("key_malformed", fmt::format("{} is too large to be a key file", path.string()));
  }

  size_t len = 0;
  while (len < buf.size()) {
    ssize_t n = ::read(fd, buf.data() + len, buf.size() - len);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      Error e = file_error(path, "cannot read key file");
      ::close(fd);
      return e;
    }
    if (n == 0) break;
    len += static_cast<size_t>(n);
  }
  ::close(fd);
  return len;
}

}  // namespace sealrelay::key_file
