#include "agent/win_file.h"

#include <fcntl.h>
#include <io.h>

#include <vector>

#include "proto/errors.h"

namespace sealrelay::agent::win {

std::wstring wide(std::string_view s) {
  if (s.empty()) return {};
  int n = ::MultiByteToWideChar(CP_UTF8, MB_ERR_INVALID_CHARS, s.data(), static_cast<int>(s.size()), nullptr, 0);
  if (n <= 0) return {};
  std::wstring out(static_cast<size_t>(n), L'\0');
  ::MultiByteToWideChar(CP_UTF8, MB_ERR_INVALID_CHARS, s.data(), static_cast<int>(s.size()), out.data(), n);
  return out;
}

std::string utf8(std::wstring_view w) {
  if (w.empty()) return {};
  int n = ::WideCharToMultiByte(CP_UTF8, 0, w.data(), static_cast<int>(w.size()), nullptr, 0, nullptr, nullptr);
  if (n <= 0) return {};
  std::string out(static_cast<size_t>(n), '\0');
  ::WideCharToMultiByte(CP_UTF8, 0, w.data(), static_cast<int>(w.size()), out.data(), n, nullptr, nullptr);
  return out;
}

Result<FileInfo> info_of(HANDLE h) {
  BY_HANDLE_FILE_INFORMATION i;
  if (!::GetFileInformationByHandle(h, &i))
    return make_error(ErrorCode::io_error, "cannot read the file's information (error " +
                                               std::to_string(::GetLastError()) + ")");
  FileInfo out;
  out.volume = i.dwVolumeSerialNumber;
  out.file_id = (uint64_t{i.nFileIndexHigh} << 32) | i.nFileIndexLow;
  out.size = (uint64_t{i.nFileSizeHigh} << 32) | i.nFileSizeLow;
  // FILETIME counts 100 ns from 1601-01-01; 11644473600 s before the epoch.
  int64_t ticks = static_cast<int64_t>((uint64_t{i.ftLastWriteTime.dwHighDateTime} << 32) |
                                       i.ftLastWriteTime.dwLowDateTime);
  out.mtime_ns = (ticks - 116444736000000000LL) * 100;
  out.links = i.nNumberOfLinks;
  out.attributes = i.dwFileAttributes;
  return out;
}

Result<std::string> final_path(HANDLE h) {
  std::vector<wchar_t> buf(512);
  for (;;) {
    DWORD n = ::GetFinalPathNameByHandleW(h, buf.data(), static_cast<DWORD>(buf.size()),
                                          FILE_NAME_NORMALIZED | VOLUME_NAME_DOS);
    if (n == 0) return make_error(ErrorCode::io_error, "cannot resolve a path on the agent");
    if (n < buf.size()) return utf8(std::wstring_view(buf.data(), n));
    if (n > 32768) return make_error(ErrorCode::not_allowed, "the path is too long");
    buf.resize(n + 1);
  }
}

Handle open_no_follow(const std::string& path, DWORD access) {
  std::wstring w = wide(path);
  if (w.empty()) {
    ::SetLastError(ERROR_INVALID_NAME);
    return Handle();
  }
  return Handle(::CreateFileW(w.c_str(), access, FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE, nullptr,
                              OPEN_EXISTING, FILE_FLAG_BACKUP_SEMANTICS | FILE_FLAG_OPEN_REPARSE_POINT, nullptr));
}

Result<UniqueFd> to_fd(Handle h) {
  int fd = ::_open_osfhandle(reinterpret_cast<intptr_t>(h.get()), _O_RDONLY | _O_BINARY);
  if (fd < 0) return make_error(ErrorCode::io_error, "cannot set up the open file");
  (void)h.release();  // Owned by the descriptor now.
  return UniqueFd(fd);
}

HANDLE handle_of(int fd) { return reinterpret_cast<HANDLE>(::_get_osfhandle(fd)); }

}  // namespace sealrelay::agent::win
