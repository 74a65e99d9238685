// FileWatch on Windows (change_detect.h is the contract): the file's
// identity is its volume serial and file index; its version its size,
// last-write and change times (FILE_BASIC_INFO) in 100 ns ticks.
#include "agent/change_detect.h"
#include "agent/win_file.h"

#include <io.h>

#include <cstdlib>

#include "proto/errors.h"

namespace sealrelay::agent {

namespace {

Error io_error(const char* what) {
  return make_error(ErrorCode::io_error, std::string(what) + " (Windows error " + std::to_string(::GetLastError()) + ")");
}

Error changed(std::string what) {
  return make_error(ErrorCode::changed, "the file " + what + " while it was being sent");
}

int64_t ns_of(LARGE_INTEGER filetime) { return (filetime.QuadPart - 116444736000000000LL) * 100; }

// The snapshot of the open handle `h`, and whether its deletion is pending.
Result<FileSnapshot> snapshot_of_handle(HANDLE h, bool* delete_pending = nullptr) {
  auto info = win::info_of(h);
  if (!info) return info.error();
  FILE_BASIC_INFO basic;
  if (!::GetFileInformationByHandleEx(h, FileBasicInfo, &basic, sizeof basic)) return io_error("cannot stat the open file");
  if (delete_pending) {
    FILE_STANDARD_INFO standard;
    if (!::GetFileInformationByHandleEx(h, FileStandardInfo, &standard, sizeof standard))
      return io_error("cannot stat the open file");
    *delete_pending = standard.DeletePending || standard.NumberOfLinks == 0;
  }
  return FileSnapshot{info->volume, info->file_id, static_cast<int64_t>(info->size), ns_of(basic.LastWriteTime),
                      ns_of(basic.ChangeTime)};
}

}  // namespace

// mingw's stat: seconds only, no file index; authorized_requesters.cpp's
// reload check (size and times) is what uses it.
FileSnapshot snapshot_from_stat(const struct stat& st) {
  return FileSnapshot{static_cast<uint64_t>(st.st_dev), static_cast<uint64_t>(st.st_ino),
                      static_cast<int64_t>(st.st_size), static_cast<int64_t>(st.st_mtime) * 1'000'000'000,
                      static_cast<int64_t>(st.st_ctime) * 1'000'000'000};
}

Result<FileSnapshot> snapshot_of(int fd) { return snapshot_of_handle(win::handle_of(fd)); }

Result<FileWatch> FileWatch::start(int fd, int dir_fd, std::string name) {
  auto snap = snapshot_of(fd);
  if (!snap) return snap.error();
  UniqueFd dir;
  if (dir_fd >= 0) {
    dir.reset(::_dup(dir_fd));
    if (!dir) return io_error("cannot duplicate the directory handle");
  }
  return FileWatch(*snap, std::move(dir), std::move(name));
}

Result<void> FileWatch::still_same(int fd) const {
  bool deleted = false;
  auto now = snapshot_of_handle(win::handle_of(fd), &deleted);
  if (!now) return now.error();
  // Another file is misuse. The file index only: wine reports volume 0 for
  // a handle whose file was renamed (Windows keeps the serial).
  if (now->ino != snapshot_.ino) std::abort();
  if (now->size < snapshot_.size) return changed("was truncated");
  if (now->size > snapshot_.size) return changed("grew");
  if (now->mtime_ns != snapshot_.mtime_ns) return changed("was modified");
  if (now->ctime_ns != snapshot_.ctime_ns) return changed("had its metadata changed");
  if (deleted) return changed("was deleted");
  if (dir_) {
    auto dir_path = win::final_path(win::handle_of(dir_.get()));
    if (!dir_path) return dir_path.error();
    win::Handle h = win::open_no_follow(*dir_path + "\\" + name_, FILE_READ_ATTRIBUTES);
    if (!h) {
      DWORD err = ::GetLastError();
      if (err == ERROR_FILE_NOT_FOUND || err == ERROR_PATH_NOT_FOUND) return changed("was deleted or renamed");
      return io_error("cannot stat the file's name");
    }
    auto at = win::info_of(h.get());
    if (!at) return at.error();
    if (at->volume != snapshot_.dev || at->file_id != snapshot_.ino) return changed("was replaced");
  }
  return {};
}

}  // namespace sealrelay::agent
