#include "agent/request_path.h"

#include <gtest/gtest.h>

#include <ostream>
#include <string>
#include <vector>

namespace sealrelay::agent {
namespace {

using namespace std::string_literals;

struct Refused {
  const char* name;
  std::string path;
};
void PrintTo(const Refused& v, std::ostream* os) { *os << v.name; }

class RequestPathRefuses : public ::testing::TestWithParam<Refused> {};

TEST_P(RequestPathRefuses, WithBadPath) {
  auto r = parse_request_path(GetParam().path);
  ASSERT_FALSE(r.ok()) << RequestPath{r.value()}.str();
  EXPECT_EQ(r.error().code, "bad_path");
  if (GetParam().path.size() > 8) {
    EXPECT_EQ(r.error().message.find(GetParam().path), std::string::npos)
        << "the message must not echo the path";
  }
}

INSTANTIATE_TEST_SUITE_P(
    Table, RequestPathRefuses,
    ::testing::Values(
        Refused{"Empty", ""}, Refused{"Relative", "photos/a.jpg"},
        Refused{"DotDot", "/photos/../etc/passwd"}, Refused{"DotDotAtTheEnd", "/photos/2026/.."},
        Refused{"DotDotAsShare", "/../etc"}, Refused{"Dot", "/photos/./a.jpg"},
        Refused{"DotAsShare", "/./photos"}, Refused{"DoubleSlash", "/photos//a.jpg"},
        Refused{"LeadingDoubleSlash", "//photos/a.jpg"}, Refused{"OnlyDoubleSlash", "//"},
        Refused{"TwoTrailingSlashes", "/photos/a/"s + "/"},
        Refused{"NulInTheMiddle", "/photos/a.jpg\0/../../etc"s},
        Refused{"NulAtTheEnd", "/photos/a.jpg\0"s}, Refused{"NulAlone", "\0"s},
        Refused{"ComponentOf256Bytes", "/photos/" + std::string(256, 'a')},
        Refused{"PathOver4096Bytes", [] {
                  std::string p = "/photos";
                  while (p.size() <= 4096) p += "/abcdefg";
                  return p;
                }()},
        Refused{"ShareNameStartingWithDot", "/.hidden/a"},
        Refused{"ShareNameWithSpace", "/my share/a"},
        Refused{"ShareNameWithBackslash", "/a\\b/c"},
        Refused{"ShareNameTooLong", "/" + std::string(65, 's')},
        Refused{"ShareNameNonAscii", "/ph\xc3\xb6tos/a"}, Refused{"Backslashes", "\\photos\\a"},
        Refused{"WindowsDrive", "C:/photos"}, Refused{"Url", "file:///etc/passwd"}),
    [](const auto& info) { return std::string(info.param.name); });

TEST(RequestPath, AcceptsExactly4096BytesAndNotOneMore) {
  std::string p = "/photos/" + std::string(200, 'a');
  while (p.size() < 4096) p += "/" + std::string(std::min<size_t>(200, 4096 - p.size() - 1), 'b');
  ASSERT_EQ(p.size(), 4096u);
  EXPECT_TRUE(parse_request_path(p).ok());
  EXPECT_FALSE(parse_request_path(p + "c").ok());
}

struct Accepted {
  const char* name;
  std::string path;
  std::vector<std::string> components;
};
void PrintTo(const Accepted& v, std::ostream* os) { *os << v.name; }

class RequestPathAccepts : public ::testing::TestWithParam<Accepted> {};

TEST_P(RequestPathAccepts, AndSplitsIntoComponents) {
  auto r = parse_request_path(GetParam().path);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->components, GetParam().components);
}

INSTANTIATE_TEST_SUITE_P(
    Table, RequestPathAccepts,
    ::testing::Values(
        Accepted{"Root", "/", {}}, Accepted{"Share", "/photos", {"photos"}},
        Accepted{"ShareWithTrailingSlash", "/photos/", {"photos"}},
        Accepted{"Nested", "/photos/2026/05/a.jpg", {"photos", "2026", "05", "a.jpg"}},
        Accepted{"NestedWithTrailingSlash", "/photos/2026/", {"photos", "2026"}},
        Accepted{"DotsInsideNames", "/logs/...hidden/a..b/.x", {"logs", "...hidden", "a..b", ".x"}},
        Accepted{"SpacesAndUtf8InNames", "/p/my file \xc3\xa9.txt", {"p", "my file \xc3\xa9.txt"}},
        Accepted{"BackslashInsideAName", "/p/a\\..\\b", {"p", "a\\..\\b"}},
        Accepted{"ComponentOf255Bytes", "/p/" + std::string(255, 'a'), {"p", std::string(255, 'a')}},
        Accepted{"ShareNameCharacters", "/A-z_0.9", {"A-z_0.9"}},
        Accepted{"ShareNameOf64Bytes", "/" + std::string(64, 's'), {std::string(64, 's')}}),
    [](const auto& info) { return std::string(info.param.name); });

TEST(RequestPath, StrIsCanonical) {
  EXPECT_EQ(parse_request_path("/")->str(), "/");
  EXPECT_EQ(parse_request_path("/a/b/")->str(), "/a/b");
}

PathScope scope(std::vector<std::string> paths) {
  auto s = PathScope::of(paths);
  if (!s) std::abort();
  return *s;
}

Visibility vis(const PathScope& s, const std::string& path) {
  return s.visibility(parse_request_path(path)->components);
}

TEST(PathScope, CoversTheScopeAndEverythingBelowIt) {
  auto s = scope({"/a/b"});
  EXPECT_EQ(vis(s, "/a/b"), Visibility::full);
  EXPECT_EQ(vis(s, "/a/b/c"), Visibility::full);
  EXPECT_EQ(vis(s, "/a/b/c/d.txt"), Visibility::full);
}

TEST(PathScope, DoesNotCoverASiblingThatSharesAPrefix) {
  auto s = scope({"/a/b"});
  EXPECT_EQ(vis(s, "/a/bc"), Visibility::hidden);
  EXPECT_EQ(vis(s, "/a/b.old"), Visibility::hidden);
  EXPECT_EQ(vis(s, "/ab"), Visibility::hidden);
  EXPECT_EQ(vis(s, "/a/c"), Visibility::hidden);
  EXPECT_EQ(vis(s, "/b"), Visibility::hidden);
}

TEST(PathScope, MakesTheDirectoriesOnTheWayAncestors) {
  auto s = scope({"/a/b/c"});
  EXPECT_EQ(vis(s, "/"), Visibility::ancestor);
  EXPECT_EQ(vis(s, "/a"), Visibility::ancestor);
  EXPECT_EQ(vis(s, "/a/b"), Visibility::ancestor);
  EXPECT_EQ(vis(s, "/a/b/c"), Visibility::full);
}

TEST(PathScope, TheUnionOfSeveralScopesApplies) {
  auto s = scope({"/photos/2026", "/logs"});
  EXPECT_EQ(vis(s, "/logs/app.log"), Visibility::full);
  EXPECT_EQ(vis(s, "/photos/2026/a.jpg"), Visibility::full);
  EXPECT_EQ(vis(s, "/photos"), Visibility::ancestor);
  EXPECT_EQ(vis(s, "/photos/2025"), Visibility::hidden);
  EXPECT_EQ(vis(s, "/backups"), Visibility::hidden);
}

TEST(PathScope, TheRootScopeCoversEverything) {
  auto s = scope({"/"});
  EXPECT_TRUE(s.is_everything());
  EXPECT_EQ(vis(s, "/"), Visibility::full);
  EXPECT_EQ(vis(s, "/x/y"), Visibility::full);
}

TEST(PathScope, EverythingCoversEverything) {
  auto s = PathScope::everything();
  EXPECT_TRUE(s.is_everything());
  EXPECT_EQ(vis(s, "/"), Visibility::full);
  EXPECT_EQ(vis(s, "/x/y/z"), Visibility::full);
  EXPECT_TRUE(s.paths().empty());
}

TEST(PathScope, IsBuiltOnlyFromValidPaths) {
  for (std::string bad : {"", "a", "/a/../b", "/a//b", "/.x", "/a/./b"}) {
    std::vector<std::string> v{"/ok", bad};
    auto s = PathScope::of(v);
    ASSERT_FALSE(s.ok()) << bad;
    EXPECT_EQ(s.error().code, "bad_path");
  }
  EXPECT_FALSE(PathScope::of(std::vector<std::string>{}).ok());
}

TEST(PathScope, KeepsTheCanonicalPaths) {
  EXPECT_EQ(scope({"/a/b/", "/c"}).paths(), (std::vector<std::string>{"/a/b", "/c"}));
}

}  // namespace
}  // namespace sealrelay::agent
