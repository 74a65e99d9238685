// The Windows agent (sealrelay-agent.exe) under wine64 against this build's
// Linux relay and CLI: a 64 MiB pull, a listing, and a traversal table with
// Windows' own traps. Wine maps the Linux root to drive Z:, so the agent's
// paths are given as "Z:/...". The Windows build comes from the ctest
// fixture cross_windows_build; without it (or without wine) these tests
// report skipped, and fail when SEALRELAY_REQUIRE_CROSS names windows or is
// 1 (CI does not yet). The checks are tests/cross/cross_agent.h's.
#include "tests/cross/cross_agent.h"

namespace sealrelay::test {
namespace {

class WindowsAgent : public CrossAgentTest {
 protected:
  std::string id() const override { return "win-1"; }
  std::string_view target() const override { return "windows"; }
  std::optional<std::string> absent() const override { return cross::windows_agent_absent(); }
  std::vector<std::string> argv(const std::vector<std::string>& args) const override {
    return cross::windows_agent_argv(args);
  }
  std::string local(const std::string& path) const override { return cross::windows_local(path); }
};

TEST_F(WindowsAgent, ASixtyFourMiBRandomFileArrivesBitIdentical) { pull_a_64_mib_file(); }

TEST_F(WindowsAgent, ListsAFolder) { list_a_folder(); }

TEST_F(WindowsAgent, RefusesPathsThatLeaveTheShare) {
  refuse_paths_that_leave_the_share({
      {"/demo/../etc/passwd", "'..'"},
      {"/etc/passwd", "no share"},
      {"/demo/a/../../x", "'..'"},
      // Wine follows Unix links itself; the agent sees that the object it
      // opened is not where the path says (GetFinalPathNameByHandleW).
      {"/demo/absolute-link", "no such file"},
      {"/demo/relative-link", "no such file"},
      {"/demo/dir-link/also-secret.txt", "no such file"},
      {"/demo/big.bin:stream", "alternate data stream"},
      {"/demo/NUL", "device"},
      {"/demo/con.txt", "device"},
      {"/demo/note.txt.", "ending in '.'"},
      {"/demo/sub\\..\\..\\secret.txt", "separator"},
      {"/demo/C:secret.txt", "drive"},
      {"/demo/NOTE.TXT", "no such file"},
  });
}

}  // namespace
}  // namespace sealrelay::test
