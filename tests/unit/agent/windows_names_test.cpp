// The Windows agent's name rules (agent/windows_names.h): pure functions,
// run here on Linux and, in the Windows build, under wine.
#include "agent/windows_names.h"

#include <gtest/gtest.h>

namespace sealrelay::agent::windows_names {
namespace {

TEST(WindowsNames, OrdinaryNamesAreAccepted) {
  for (const char* name : {"a.txt", "Daily Report.xlsx", ".hidden", "a..b", "résumé.pdf", "COM10", "LPT",
                           "console", "nul_file", "con-1.txt", "auxiliary", "x.con", "ABC~1.TXT"})
    EXPECT_EQ(component_problem(name), std::nullopt) << name;
}

TEST(WindowsNames, AlternateDataStreamsAndDrivesAreRefused) {
  for (const char* name : {"a.txt:secret", "a.txt::$DATA", "C:", "c:x"})
    EXPECT_NE(component_problem(name), std::nullopt) << name;
}

TEST(WindowsNames, BackslashesAndWin32ForbiddenCharactersAreRefused) {
  for (const char* name : {"..\\..\\windows", "\\\\server", "a\\b", "a<b", "a>b", "a\"b", "a|b", "a?b", "a*b",
                           "a\x01" "b", "tab\there"})
    EXPECT_NE(component_problem(name), std::nullopt) << name;
}

TEST(WindowsNames, TrailingDotsAndSpacesAreRefused) {
  for (const char* name : {"a.txt.", "a.txt ", "a. . ", "secret.key.", "..."})
    EXPECT_NE(component_problem(name), std::nullopt) << name;
}

TEST(WindowsNames, DeviceNamesAreRefusedInAnyCaseWithOrWithoutExtension) {
  for (const char* name : {"CON", "con", "Prn", "AUX", "nul", "NUL.txt", "nul.tar.gz", "COM1", "com9.log",
                           "LPT1", "lpt0", "COM1 .log", "CONIN$", "conout$.x", "COM\xC2\xB9", "lpt\xC2\xB3.txt"})
    EXPECT_NE(component_problem(name), std::nullopt) << name;
}

TEST(WindowsNames, ShareRootsMustBeLocalAbsolutePathsWithADrive) {
  for (const char* root : {"C:\\data", "c:/data", "D:\\", "\\\\?\\C:\\data", "C:\\Program Files\\shop"})
    EXPECT_EQ(root_problem(root), std::nullopt) << root;
  for (const char* root : {"data", "C:data", "\\data", "/data", "\\\\server\\share", "//server/share",
                           "\\\\?\\UNC\\server\\share", "C:\\a\\..\\b", "C:/a/./b", "C:\\a\\..", ""})
    EXPECT_NE(root_problem(root), std::nullopt) << root;
}

TEST(WindowsNames, LongRootsUseTheLongPathPrefixAndBackslashes) {
  EXPECT_EQ(long_root("C:\\data\\"), "\\\\?\\C:\\data");
  EXPECT_EQ(long_root("c:/data/shop"), "\\\\?\\c:\\data\\shop");
  EXPECT_EQ(long_root("D:\\"), "\\\\?\\D:\\");
  EXPECT_EQ(long_root("\\\\?\\C:\\x"), "\\\\?\\C:\\x");
}

TEST(WindowsNames, CaseIsIgnoredForAsciiLettersOnly) {
  EXPECT_TRUE(equal_ignoring_case("ID.KEY", "id.key"));
  EXPECT_FALSE(equal_ignoring_case("id.key", "id.keys"));
  EXPECT_FALSE(equal_ignoring_case("\xC3\x89", "\xC3\xA9"));  // É and é: compared as bytes.
  EXPECT_EQ(ascii_lower("Daily/REPORT.csv"), "daily/report.csv");
}

}  // namespace
}  // namespace sealrelay::agent::windows_names
