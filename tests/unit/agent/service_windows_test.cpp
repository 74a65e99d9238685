// The Windows service's access lists (agent/service_plan.h) as the
// descriptors Windows would build from them, read by the key file check
// (crypto/key_file.h acl_problem), and service.h's folder preparation.
// Wine keeps no real ACLs on files and enforces none, so the lists are
// tested as descriptors, as in key_file_windows_test.cpp.
#include "agent/service.h"
#include "crypto/key_file.h"

#include <gtest/gtest.h>
#include <windows.h>
#include <sddl.h>

#include <filesystem>
#include <fstream>

#include "tests/unit/agent/test_support.h"

namespace sealrelay::agent::service {
namespace {

namespace fs = std::filesystem;

struct Sd {
  PSECURITY_DESCRIPTOR sd = nullptr;
  explicit Sd(const std::string& sddl) {
    std::wstring w(sddl.begin(), sddl.end());
    if (!::ConvertStringSecurityDescriptorToSecurityDescriptorW(w.c_str(), SDDL_REVISION_1, &sd, nullptr))
      std::abort();
  }
  ~Sd() { ::LocalFree(sd); }
};

struct Sid {
  PSID sid = nullptr;
  explicit Sid(const wchar_t* text) {
    if (!::ConvertStringSidToSidW(text, &sid)) std::abort();
  }
  ~Sid() { ::LocalFree(sid); }
};

TEST(ServiceAcl, TheKeyAsTheServiceFolderHoldsItPassesTheKeyCheckWhenTheServiceReadsIt) {
  Sd key("O:BA" + key_sddl());
  Sid local_service(L"S-1-5-19");
  EXPECT_EQ(key_file::acl_problem(key.sd, local_service.sid), std::nullopt);
}

TEST(ServiceAcl, TheServiceKeyIsRefusedToAnyOtherAccountBecauseTheServiceMayReadIt) {
  // Another account running `run` on the service's key: LocalService is a
  // reader that is not it, so the check refuses the key, as it should.
  Sd key("O:BA" + key_sddl());
  Sid someone(L"S-1-5-21-1-2-3-1001");
  auto why = key_file::acl_problem(key.sd, someone.sid);
  ASSERT_NE(why, std::nullopt);
}

TEST(ServiceAcl, TheKeyAccessListGrantsTheServiceAccountReadNotWrite) {
  Sd key(key_sddl());
  BOOL present = FALSE, defaulted = FALSE;
  PACL dacl = nullptr;
  ASSERT_TRUE(::GetSecurityDescriptorDacl(key.sd, &present, &dacl, &defaulted));
  ASSERT_TRUE(present && dacl);
  Sid local_service(L"S-1-5-19");
  int seen = 0;
  for (DWORD i = 0; i < dacl->AceCount; ++i) {
    void* ace = nullptr;
    ASSERT_TRUE(::GetAce(dacl, i, &ace));
    auto* allowed = static_cast<ACCESS_ALLOWED_ACE*>(ace);
    if (!::EqualSid(&allowed->SidStart, local_service.sid)) continue;
    ++seen;
    EXPECT_TRUE(allowed->Mask & FILE_READ_DATA);
    EXPECT_FALSE(allowed->Mask & (FILE_WRITE_DATA | FILE_APPEND_DATA | WRITE_DAC | WRITE_OWNER | DELETE));
  }
  EXPECT_EQ(seen, 1);
}

TEST(ServiceAcl, PrepareCreatesTheStateAndLogFolders) {
  agent::testing::TempDir tmp;
  Paths p = paths(tmp.path());
  fs::create_directories(p.state_dir);
  { std::ofstream(p.state_dir / "identity.key") << "x"; }
  auto ok = prepare(p);
  ASSERT_TRUE(ok.ok()) << ok.error().message;
  EXPECT_TRUE(fs::is_directory(p.state_dir));
  EXPECT_TRUE(fs::is_directory(p.logs_dir));
  // What the key got is not read back: wine reports its own default DACL
  // (Everyone) for files, not the one set.
}

TEST(ServiceAcl, TheProgramDataFoldersAreFound) {
  auto p = program_data_paths();
  ASSERT_TRUE(p.has_value());
  EXPECT_EQ(p->state_dir.filename(), "agent");
  EXPECT_EQ(p->state_dir.parent_path().filename(), "sealrelay");
}

}  // namespace
}  // namespace sealrelay::agent::service
