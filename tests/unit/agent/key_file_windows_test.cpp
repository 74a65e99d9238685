// The Windows key file check (crypto/key_file.h acl_problem) on security
// descriptors built here from SDDL: wine keeps no real ACLs on files, so the
// logic is tested on the descriptor it would read.
#include "crypto/key_file.h"

#include <gtest/gtest.h>
#include <windows.h>
#include <sddl.h>

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

}  // namespace
}  // namespace sealrelay::key_file
