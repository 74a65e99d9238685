// What a folder pull tells its user (requester/tree_report.h).
#include <gtest/gtest.h>

#include "requester/tree_report.h"

namespace sealrelay::requester {
namespace {

// The agent announces how many files it will send; a SKIP record (a link
// out of the share, an unreadable folder) is not one of them, so the
// progress line's "files done/total" does not count it. A file the agent
// skipped at its FILE_END (it changed) was announced, and counts.
TEST(TreeReport, TheProgressCountHoldsFilesNotTheAgentsSkipRecords) {
  TreeReport report(OutputMode::kQuiet, "shop-1:/s/dir");
  report.started(2, 10);
  EntryResult link{"outlink", false, EntryOutcome::kSkipped, 0, std::nullopt, "symlink_out"};
  link.skip_record = true;
  report.entry(link);
  EXPECT_EQ(report.files_done(), 0u);
  report.entry(EntryResult{"moving.log", false, EntryOutcome::kSkipped, 4, std::nullopt, "changed"});
  report.entry(EntryResult{"a.txt", false, EntryOutcome::kOk, 6, Sha256Digest{}, ""});
  EXPECT_EQ(report.files_done(), 2u);
  EXPECT_EQ(report.skipped(), 2u);
  EXPECT_EQ(report.ok(), 1u);
  report.entry(EntryResult{"sub", true, EntryOutcome::kFailed, 0, std::nullopt, "a file is in the way"});
  EXPECT_EQ(report.files_done(), 2u);
}

}  // namespace
}  // namespace sealrelay::requester
