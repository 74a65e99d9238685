// service.h's folders: %ProgramData%\sealrelay\ and the access lists of
// service_plan.h set on them and on the key. Wine accepts these calls but
// enforces none of it; the lists themselves are tested as descriptors
// (tests/unit/agent/service_windows_test.cpp).
#include "agent/service.h"

#include <windows.h>
#include <aclapi.h>
#include <sddl.h>
#include <shlobj.h>

#include <fmt/format.h>

#include <memory>
#include <system_error>

#include "agent/win_file.h"
#include "proto/errors.h"

namespace sealrelay::agent::service {
namespace {

namespace fs = std::filesystem;

struct LocalFreer {
  void operator()(void* p) const { ::LocalFree(p); }
};

Error acl_error(const fs::path& path, DWORD code) {
  return make_error(ErrorCode::io_error, fmt::format("cannot set the access list of {} (Windows error {}); run this from "
                                               "an elevated prompt (Run as administrator)",
                                               win::utf8(path.wstring()), code));
}

// Replaces the DACL of `path` by the protected one in `sddl`; a folder's
// inheritable entries reach what it holds (except a protected key file).
Result<void> set_dacl(const fs::path& path, const std::string& sddl) {
  PSECURITY_DESCRIPTOR sd = nullptr;
  if (!::ConvertStringSecurityDescriptorToSecurityDescriptorW(win::wide(sddl).c_str(), SDDL_REVISION_1, &sd,
                                                              nullptr))
    return acl_error(path, ::GetLastError());
  std::unique_ptr<void, LocalFreer> owned(sd);
  BOOL present = FALSE, defaulted = FALSE;
  PACL dacl = nullptr;
  if (!::GetSecurityDescriptorDacl(sd, &present, &dacl, &defaulted)) return acl_error(path, ::GetLastError());
  std::wstring name = path.wstring();
  DWORD rc = ::SetNamedSecurityInfoW(name.data(), SE_FILE_OBJECT,
                                     DACL_SECURITY_INFORMATION | PROTECTED_DACL_SECURITY_INFORMATION, nullptr,
                                     nullptr, dacl, nullptr);
  if (rc != ERROR_SUCCESS) return acl_error(path, rc);
  return {};
}

}  // namespace

std::optional<Paths> program_data_paths() {
  PWSTR found = nullptr;
  if (FAILED(::SHGetKnownFolderPath(FOLDERID_ProgramData, 0, nullptr, &found))) return std::nullopt;
  std::unique_ptr<wchar_t, decltype(&::CoTaskMemFree)> owned(found, &::CoTaskMemFree);
  return paths(fs::path(std::wstring(found)));
}

Result<void> prepare(const Paths& p) {
  for (const fs::path& dir : {p.state_dir, p.logs_dir}) {
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec) {
      return make_error(ErrorCode::io_error, fmt::format("cannot create {}: {}; run this from an elevated prompt (Run "
                                                   "as administrator)", win::utf8(dir.wstring()), ec.message()));
    }
    if (auto ok = set_dacl(dir, folder_sddl()); !ok) return ok;
  }
  fs::path key = p.state_dir / "identity.key";
  std::error_code ec;
  if (fs::exists(key, ec)) return set_dacl(key, key_sddl());
  return {};
}

}  // namespace sealrelay::agent::service
