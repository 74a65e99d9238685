#include "base/ids.h"

#include <gtest/gtest.h>

#include <string>

namespace sealrelay {
namespace {

TEST(AgentId, AcceptsTheIdsAdminsGiveTheirSites) {
  for (const char* id : {"shop-1", "a", "Z9", "prod.agent_2", "1", "x.y-z_w"}) {
    EXPECT_TRUE(ids::valid_agent_id(id)) << id;
  }
  EXPECT_TRUE(ids::valid_agent_id(std::string(64, 'a')));
}

TEST(AgentId, RefusesWhatCouldBecomeAPathAnOptionOrATerminalEscape) {
  for (const char* id : {"", ".", "..", "../x", "../../x", "/abs", "a/b", "a\\b", ".hidden",
                         "-rf", "_x", "prod-agent AAAA", "a\tb", "a\nb", "a\x1b[31m", "caf\xc3\xa9",
                         "a:b", "a*", "C:"}) {
    EXPECT_FALSE(ids::valid_agent_id(id)) << id;
  }
  EXPECT_FALSE(ids::valid_agent_id(std::string(65, 'a')));
  EXPECT_FALSE(ids::valid_agent_id(std::string("ok\0evil", 7)));
}

TEST(TransferId, AcceptsOnlyWhatTheRelayMakes) {
  EXPECT_TRUE(ids::valid_transfer_id("t_0123456789abcdef0123456789abcdef"));
  for (const char* id : {"", "t_", "t_0123456789abcdef0123456789abcde",
                         "t_0123456789abcdef0123456789abcdef0", "t_0123456789ABCDEF0123456789abcdef",
                         "x_0123456789abcdef0123456789abcdef", "t_0123456789abcdef0123456789abcd/.",
                         "t_../../../../../../../../etc/pas"}) {
    EXPECT_FALSE(ids::valid_transfer_id(id)) << id;
  }
}

}  // namespace
}  // namespace sealrelay
