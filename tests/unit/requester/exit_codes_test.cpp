#include "requester/exit_codes.h"

#include <gtest/gtest.h>

#include <string>

namespace sealrelay::requester {
namespace {

TEST(ExitCodes, MapEveryFamilyToItsDocumentedCode) {
  EXPECT_EQ(exit_code_for("unauthorized"), kExitAuth);
  EXPECT_EQ(exit_code_for("forbidden"), kExitAuth);
  EXPECT_EQ(exit_code_for("not_found"), kExitNotFound);
  EXPECT_EQ(exit_code_for("not_allowed"), kExitNotFound);
  EXPECT_EQ(exit_code_for("unknown_agent"), kExitNotFound);
  for (const char* c : {"tampered", "out_of_order", "truncated", "trailer_mismatch", "handshake_failed",
                        "agent_key_changed"}) {
    EXPECT_EQ(exit_code_for(c), kExitIntegrity) << c;
  }
  EXPECT_EQ(exit_code_for("network"), kExitNetwork);
  EXPECT_EQ(exit_code_for("history_gone"), kExitNetwork);
  EXPECT_EQ(exit_code_for("usage"), kExitUsage);
  EXPECT_EQ(exit_code_for("something_new"), kExitFailure);
}


TEST(ExitCodes, ACodeTheTableDoesNotKnowIsAPlainFailure) {
  for (const char* code : {"something_new", "", "NOT_FOUND", "not_found\n"}) {
    EXPECT_EQ(exit_code_for(code), kExitFailure) << code;
  }
}

}  // namespace
}  // namespace sealrelay::requester
