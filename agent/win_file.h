// Windows only: the handle and path helpers of the Windows share policy,
// change detection and reads (the *_windows.cpp files of agent/).
#pragma once

#ifndef _WIN32
#error "agent/win_file.h is for the Windows build only"
#endif

#include <windows.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "agent/unique_fd.h"
#include "base/result.h"

namespace sealrelay::agent::win {

// Sole owner of one HANDLE, closed when it goes away.
class Handle {
 public:
  Handle() = default;
  explicit Handle(HANDLE h) : h_(h == INVALID_HANDLE_VALUE ? nullptr : h) {}
  Handle(Handle&& o) noexcept : h_(o.release()) {}
  Handle& operator=(Handle&& o) noexcept {
    if (this != &o) {
      reset();
      h_ = o.release();
    }
    return *this;
  }
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;
  ~Handle() { reset(); }

  HANDLE get() const { return h_; }
  explicit operator bool() const { return h_ != nullptr; }
  [[nodiscard]] HANDLE release() {
    HANDLE h = h_;
    h_ = nullptr;
    return h;
  }
  void reset() {
    if (h_) ::CloseHandle(h_);
    h_ = nullptr;
  }

 private:
  HANDLE h_ = nullptr;
};

// UTF-8 → UTF-16 and back; invalid UTF-8 gives "" (and no name is "").
std::wstring wide(std::string_view utf8);
std::string utf8(std::wstring_view wide);

// What the OS says of an open file or directory.
struct FileInfo {
  uint64_t volume = 0;   // Volume serial number.
  uint64_t file_id = 0;  // File index on that volume.
  uint64_t size = 0;
  int64_t mtime_ns = 0;  // Last write, nanoseconds since the Unix epoch.
  uint32_t links = 0;
  uint32_t attributes = 0;
  bool directory() const { return attributes & FILE_ATTRIBUTE_DIRECTORY; }
  bool reparse_point() const { return attributes & FILE_ATTRIBUTE_REPARSE_POINT; }
};
Result<FileInfo> info_of(HANDLE h);

// The path the OS gives for an open handle, as "\\?\C:\..." (symbolic links,
// junctions and 8.3 short names resolved to the long names on disk), UTF-8.
Result<std::string> final_path(HANDLE h);

// Opens `path` (UTF-8, a "\\?\" long path) without following a reparse
// point at its end, directories too, sharing read, write and delete (POS
// software keeps its files open and must not be blocked by the agent).
// `access` is GENERIC_READ or FILE_READ_ATTRIBUTES. Sets GetLastError on
// failure (an empty Handle).
Handle open_no_follow(const std::string& path, DWORD access);

// The handle as a CRT descriptor (UniqueFd), which then owns it.
Result<UniqueFd> to_fd(Handle h);

// The handle behind a CRT descriptor (still owned by it).
HANDLE handle_of(int fd);

}  // namespace sealrelay::agent::win
