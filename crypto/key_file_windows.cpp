// key_file.h on Windows: the file gets a protected DACL granting full
// access to its owner, SYSTEM and Administrators only (nothing inherited
// from the folder); reading refuses a file whose DACL lets anyone else read
// it, with the icacls command that fixes it.
#include "crypto/key_file.h"

#include <windows.h>
#include <aclapi.h>
#include <io.h>
#include <sddl.h>

#include <fmt/format.h>

#include <memory>
#include <string>
#include <vector>

namespace sealrelay::key_file {
namespace {

namespace fs = std::filesystem;

// Owner, SYSTEM, Administrators: full control; P: inheritance blocked.
constexpr const wchar_t* kPrivateSddl = L"D:P(A;;FA;;;OW)(A;;FA;;;SY)(A;;FA;;;BA)";

Error file_error(const fs::path& path, std::string_view what) {
  return make_error("key_file", fmt::format("{}: {} (Windows error {})", path.string(), what, ::GetLastError()));
}

struct LocalFreer {
  void operator()(void* p) const { ::LocalFree(p); }
};

struct HandleCloser {
  void operator()(HANDLE h) const { ::CloseHandle(h); }
};
using Handle = std::unique_ptr<void, HandleCloser>;

// Whether `sid` is the file's owner, the account reading it, SYSTEM or the
// Administrators group (or "owner rights", S-1-3-4).
bool trusted(PSID sid, PSID owner, PSID self) {
  if ((owner && ::EqualSid(sid, owner)) || (self && ::EqualSid(sid, self))) return true;
  return ::IsWellKnownSid(sid, WinLocalSystemSid) || ::IsWellKnownSid(sid, WinBuiltinAdministratorsSid) ||
         ::IsWellKnownSid(sid, WinCreatorOwnerRightsSid);
}

// This process's account, for acl_problem.
std::vector<unsigned char> self_sid() {
  HANDLE token = nullptr;
  if (!::OpenProcessToken(::GetCurrentProcess(), TOKEN_QUERY, &token)) return {};
  Handle owned(token);
  DWORD n = 0;
  ::GetTokenInformation(token, TokenUser, nullptr, 0, &n);
  std::vector<unsigned char> buf(n);
  if (n == 0 || !::GetTokenInformation(token, TokenUser, buf.data(), n, &n)) return {};
  auto* user = reinterpret_cast<TOKEN_USER*>(buf.data());
  std::vector<unsigned char> sid(::GetLengthSid(user->User.Sid));
  ::CopySid(static_cast<DWORD>(sid.size()), sid.data(), user->User.Sid);
  return sid;
}

std::string name_of(PSID sid) {
  wchar_t name[256], domain[256];
  DWORD n = 256, d = 256;
  SID_NAME_USE use;
  if (::LookupAccountSidW(nullptr, sid, name, &n, domain, &d, &use)) {
    std::wstring w(name, n);
    return std::string(fs::path(w).string());
  }
  wchar_t* text = nullptr;
  if (!::ConvertSidToStringSidW(sid, &text)) return "an unknown account";
  std::unique_ptr<void, LocalFreer> owned(text);
  return fs::path(std::wstring(text)).string();
}

}  // namespace

std::optional<std::string> acl_problem(const void* sd_in, const void* self, Guard guard) {
  auto sd = const_cast<PSECURITY_DESCRIPTOR>(sd_in);
  BOOL present = FALSE, defaulted = FALSE;
  PACL dacl = nullptr;
  if (!::GetSecurityDescriptorDacl(sd, &present, &dacl, &defaulted)) return "its permissions cannot be read";
  if (!present || !dacl) return "it has no access list, so everyone may read it";
  PSID owner = nullptr;
  (void)::GetSecurityDescriptorOwner(sd, &owner, &defaulted);
  constexpr DWORD kRead = FILE_READ_DATA | GENERIC_READ | GENERIC_ALL;
  // Changing the permissions or the owner is changing the file, one step later.
  constexpr DWORD kChange = FILE_WRITE_DATA | FILE_APPEND_DATA | GENERIC_WRITE | GENERIC_ALL | WRITE_DAC | WRITE_OWNER;
  const DWORD mask = guard == Guard::read ? kRead : kChange;
  const char* verb = guard == Guard::read ? " may read it" : " may change it";
  for (DWORD i = 0; i < dacl->AceCount; ++i) {
    void* ace = nullptr;
    if (!::GetAce(dacl, i, &ace)) return "its permissions cannot be read";
    auto* header = static_cast<ACE_HEADER*>(ace);
    if (header->AceType != ACCESS_ALLOWED_ACE_TYPE || (header->AceFlags & INHERIT_ONLY_ACE)) continue;
    auto* allowed = static_cast<ACCESS_ALLOWED_ACE*>(ace);
    PSID sid = &allowed->SidStart;
    if ((allowed->Mask & mask) && !trusted(sid, owner, const_cast<PSID>(self))) return name_of(sid) + verb;
  }
  return std::nullopt;
}

std::optional<std::string> others_may_change(int fd) {
  auto h = reinterpret_cast<HANDLE>(::_get_osfhandle(fd));
  PSECURITY_DESCRIPTOR sd = nullptr;
  if (h == INVALID_HANDLE_VALUE ||
      ::GetSecurityInfo(h, SE_FILE_OBJECT, DACL_SECURITY_INFORMATION | OWNER_SECURITY_INFORMATION, nullptr, nullptr,
                        nullptr, nullptr, &sd) != ERROR_SUCCESS)
    return "its permissions cannot be read";
  std::unique_ptr<void, LocalFreer> owned_sd(sd);
  auto self = self_sid();
  return acl_problem(sd, self.empty() ? nullptr : self.data(), Guard::change);
}

Result<void> write(const fs::path& path, std::span<const std::string_view> parts) {
  PSECURITY_DESCRIPTOR sd = nullptr;
  if (!::ConvertStringSecurityDescriptorToSecurityDescriptorW(kPrivateSddl, SDDL_REVISION_1, &sd, nullptr))
    return file_error(path, "cannot build the key file's permissions");
  std::unique_ptr<void, LocalFreer> owned_sd(sd);
  SECURITY_ATTRIBUTES sa{sizeof sa, sd, FALSE};
  fs::path tmp = path;
  tmp += ".tmp";
  Handle h(::CreateFileW(tmp.c_str(), GENERIC_WRITE, 0, &sa, CREATE_ALWAYS, FILE_ATTRIBUTE_NORMAL, nullptr));
  if (h.get() == INVALID_HANDLE_VALUE) {
    (void)h.release();
    return file_error(tmp, "cannot create temporary key file");
  }
  bool ok = true;
  for (std::string_view part : parts) {
    DWORD n = 0;
    ok = ok && ::WriteFile(h.get(), part.data(), static_cast<DWORD>(part.size()), &n, nullptr) && n == part.size();
  }
  ok = ok && ::FlushFileBuffers(h.get());
  h.reset();
  if (!ok || !::MoveFileExW(tmp.c_str(), path.c_str(), MOVEFILE_REPLACE_EXISTING | MOVEFILE_WRITE_THROUGH)) {
    Error e = file_error(path, "cannot write key file");
    ::DeleteFileW(tmp.c_str());
    return e;
  }
  return {};
}

Result<size_t> read(const fs::path& path, std::span<uint8_t> buf) {
  Handle h(::CreateFileW(path.c_str(), GENERIC_READ | READ_CONTROL, FILE_SHARE_READ, nullptr, OPEN_EXISTING,
                         FILE_FLAG_OPEN_REPARSE_POINT, nullptr));
  if (h.get() == INVALID_HANDLE_VALUE) {
    (void)h.release();
    DWORD err = ::GetLastError();
    if (err == ERROR_FILE_NOT_FOUND || err == ERROR_PATH_NOT_FOUND)
      return make_error("key_missing", fmt::format("{} does not exist; create it with the init/keygen command",
                                                   path.string()));
    return file_error(path, "cannot open key file");
  }
  BY_HANDLE_FILE_INFORMATION info;
  if (!::GetFileInformationByHandle(h.get(), &info)) return file_error(path, "cannot stat key file");
  if (info.dwFileAttributes & (FILE_ATTRIBUTE_DIRECTORY | FILE_ATTRIBUTE_REPARSE_POINT))
    return make_error("key_file", fmt::format("{} is not a regular file", path.string()));
  PSECURITY_DESCRIPTOR sd = nullptr;
  if (::GetSecurityInfo(h.get(), SE_FILE_OBJECT, DACL_SECURITY_INFORMATION | OWNER_SECURITY_INFORMATION, nullptr,
                        nullptr, nullptr, nullptr, &sd) != ERROR_SUCCESS)
    return file_error(path, "cannot read the key file's permissions");
  std::unique_ptr<void, LocalFreer> owned_sd(sd);
  auto self = self_sid();
  if (auto why = acl_problem(sd, self.empty() ? nullptr : self.data())) {
    return make_error("key_permissions",
                      fmt::format("{}: {}; a secret key must be private: run `icacls \"{}\" /inheritance:r /grant:r "
                                  "*S-1-5-18:F *S-1-5-32-544:F` (SYSTEM and Administrators only) and grant the "
                                  "agent's account, e.g. `/grant:r \"NT AUTHORITY\\LocalService:F\"`",
                                  path.string(), *why, path.string()));
  }
  if (info.nFileSizeHigh != 0 || info.nFileSizeLow > buf.size())
    return make_error("key_malformed", fmt::format("{} is too large to be a key file", path.string()));
  DWORD n = 0;
  if (!::ReadFile(h.get(), buf.data(), static_cast<DWORD>(buf.size()), &n, nullptr))
    return file_error(path, "cannot read key file");
  return size_t{n};
}

}  // namespace sealrelay::key_file
