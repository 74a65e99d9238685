// The Windows key file check (crypto/key_file.h acl_problem) on security
// descriptors built here from SDDL: wine keeps no real ACLs on files, so the
// logic is tested on the descriptor it would read.
#include "crypto/key_file.h"

#include <gtest/gtest.h>
#include <windows.h>
#include <aclapi.h>
#include <sddl.h>

#include <cstdio>
#include <filesystem>
#include <memory>
#include <iterator>
#include <string>

namespace sealrelay::key_file {
namespace {

struct Sd {
  PSECURITY_DESCRIPTOR sd = nullptr;
  explicit Sd(const wchar_t* sddl) {
    if (!::ConvertStringSecurityDescriptorToSecurityDescriptorW(sddl, SDDL_REVISION_1, &sd, nullptr)) std::abort();
  }
  ~Sd() { ::LocalFree(sd); }
};

TEST(KeyFileAcl, OwnerSystemAndAdministratorsOnlyIsPrivate) {
  Sd sd(L"O:BAD:P(A;;FA;;;OW)(A;;FA;;;SY)(A;;FA;;;BA)");
  EXPECT_EQ(acl_problem(sd.sd, nullptr), std::nullopt);
}

TEST(KeyFileAcl, ReadableByUsersEveryoneOrAuthenticatedUsersIsRefused) {
  const wchar_t* readable[] = {L"O:BAD:P(A;;FA;;;SY)(A;;FR;;;BU)", L"O:BAD:P(A;;FA;;;SY)(A;;GR;;;WD)",
                               L"O:BAD:(A;;FA;;;BA)(A;;0x1;;;AU)", L"O:BAD:(A;;GA;;;IU)"};
  for (size_t i = 0; i < std::size(readable); ++i) {
    Sd sd(readable[i]);
    EXPECT_NE(acl_problem(sd.sd, nullptr), std::nullopt) << "case " << i;
  }
}

TEST(KeyFileAcl, AnAccountAllowedOnlyToReadAttributesOrDeniedIsNotAReader) {
  Sd sd(L"O:BAD:P(A;;FA;;;SY)(A;;0x80;;;BU)(D;;FA;;;WD)");  // 0x80: FILE_READ_ATTRIBUTES.
  EXPECT_EQ(acl_problem(sd.sd, nullptr), std::nullopt);
}

TEST(KeyFileAcl, TheServiceAccountReadingItsOwnKeyIsAllowed) {
  Sd sd(L"O:BAD:P(A;;FA;;;SY)(A;;FA;;;BA)(A;;FR;;;LS)");  // LS: LocalService.
  EXPECT_NE(acl_problem(sd.sd, nullptr), std::nullopt);
  PSID local_service = nullptr;
  ASSERT_TRUE(::ConvertStringSidToSidW(L"S-1-5-19", &local_service));
  EXPECT_EQ(acl_problem(sd.sd, local_service), std::nullopt);
  ::LocalFree(local_service);
}

TEST(KeyFileAcl, NoAccessListAtAllIsRefused) {
  // A NULL DACL (everyone may do anything), built by hand: wine's SDDL
  // parser turns NO_ACCESS_CONTROL into an empty DACL (nobody may).
  SECURITY_DESCRIPTOR sd;
  ASSERT_TRUE(::InitializeSecurityDescriptor(&sd, SECURITY_DESCRIPTOR_REVISION));
  ASSERT_TRUE(::SetSecurityDescriptorDacl(&sd, TRUE, nullptr, FALSE));
  EXPECT_NE(acl_problem(&sd, nullptr), std::nullopt);
  Sd empty(L"O:BAD:P");  // An empty DACL: nobody may read it.
  EXPECT_EQ(acl_problem(empty.sd, nullptr), std::nullopt);
}

// The trust list (authorized_requesters): others may read it, but only the
// owner, SYSTEM and Administrators may change it or its permissions.
TEST(KeyFileAcl, ATrustListOthersMayReadButNotChangeIsAccepted) {
  Sd sd(L"O:BAD:P(A;;FA;;;SY)(A;;FA;;;BA)(A;;FR;;;BU)(A;;0x1200a9;;;WD)");  // 0x1200a9: read and execute.
  EXPECT_EQ(acl_problem(sd.sd, nullptr, Guard::change), std::nullopt);
  EXPECT_NE(acl_problem(sd.sd, nullptr, Guard::read), std::nullopt);
}

TEST(KeyFileAcl, ATrustListOthersMayWriteAppendOrRepermissionIsRefused) {
  const wchar_t* changeable[] = {L"O:BAD:P(A;;FA;;;SY)(A;;FW;;;BU)",  L"O:BAD:P(A;;FA;;;SY)(A;;0x4;;;AU)",
                                 L"O:BAD:P(A;;FA;;;SY)(A;;WD;;;WD)",  L"O:BAD:P(A;;FA;;;SY)(A;;WO;;;BU)",
                                 L"O:BAD:P(A;;FA;;;SY)(A;;GW;;;IU)",  L"O:BAD:P(A;;FA;;;SY)(A;;FA;;;BU)"};
  for (size_t i = 0; i < std::size(changeable); ++i) {
    Sd sd(changeable[i]);
    auto why = acl_problem(sd.sd, nullptr, Guard::change);
    ASSERT_NE(why, std::nullopt) << "case " << i;
    EXPECT_NE(why->find("may change it"), std::string::npos) << *why;
  }
  SECURITY_DESCRIPTOR null_dacl;
  ASSERT_TRUE(::InitializeSecurityDescriptor(&null_dacl, SECURITY_DESCRIPTOR_REVISION));
  ASSERT_TRUE(::SetSecurityDescriptorDacl(&null_dacl, TRUE, nullptr, FALSE));
  EXPECT_NE(acl_problem(&null_dacl, nullptr, Guard::change), std::nullopt);
}

TEST(KeyFileAcl, AFileOnlyItsWriterMayChangeIsTrustedUntilEveryoneMay) {
  wchar_t dir[MAX_PATH];
  ASSERT_NE(::GetTempPathW(MAX_PATH, dir), 0u);
  std::filesystem::path path = std::filesystem::path(dir) / "sealrelay-acl-test.key";
  std::string_view parts[] = {"secret"};
  ASSERT_TRUE(write(path, parts).ok());
  FILE* f = ::_wfopen(path.c_str(), L"rb");
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(others_may_change(::_fileno(f)), std::nullopt);
  ::fclose(f);
  // Then Everyone is given full control: the same open now says so.
  Sd everyone(L"D:P(A;;FA;;;WD)");
  BOOL present = FALSE, defaulted = FALSE;
  PACL dacl = nullptr;
  ASSERT_TRUE(::GetSecurityDescriptorDacl(everyone.sd, &present, &dacl, &defaulted));
  ASSERT_EQ(::SetNamedSecurityInfoW(const_cast<wchar_t*>(path.c_str()), SE_FILE_OBJECT,
                                    DACL_SECURITY_INFORMATION | PROTECTED_DACL_SECURITY_INFORMATION, nullptr,
                                    nullptr, dacl, nullptr),
            static_cast<DWORD>(ERROR_SUCCESS));
  f = ::_wfopen(path.c_str(), L"rb");
  ASSERT_NE(f, nullptr);
  auto why = others_may_change(::_fileno(f));
  ::fclose(f);
  std::filesystem::remove(path);
  ASSERT_NE(why, std::nullopt);
  EXPECT_NE(why->find("may change it"), std::string::npos) << *why;
}

}  // namespace
}  // namespace sealrelay::key_file
