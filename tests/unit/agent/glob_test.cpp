#include "agent/glob.h"

#include <gtest/gtest.h>
#ifndef _WIN32
#include <fnmatch.h>
#endif

#include <string>
#include <vector>

namespace sealrelay::agent {
namespace {

std::vector<std::string> split(const std::string& rel) {
  std::vector<std::string> out;
  size_t start = 0;
  for (;;) {
    size_t slash = rel.find('/', start);
    out.push_back(rel.substr(start, slash - start));
    if (slash == std::string::npos) return out;
    start = slash + 1;
  }
}

struct Case {
  const char* pattern;
  const char* path;
  bool is_directory;
  bool matches;
};

class GlobMatches : public ::testing::TestWithParam<Case> {};

TEST_P(GlobMatches, AsTheTableSays) {
  auto g = GlobPattern::compile(GetParam().pattern);
  ASSERT_TRUE(g.ok()) << g.error().message;
  EXPECT_EQ(g->matches(split(GetParam().path), GetParam().is_directory), GetParam().matches)
      << GetParam().pattern << " vs " << GetParam().path;
}

INSTANTIATE_TEST_SUITE_P(
    Table, GlobMatches,
    ::testing::Values(
        // No slash: the last component, at any depth.
        Case{"*.key", "id.key", false, true}, Case{"*.key", "a/b/id.key", false, true},
        Case{"*.key", "id.key.txt", false, false}, Case{"*.key", "keys/id", false, false},
        Case{".git", ".git", true, true}, Case{".git", "src/.git", true, true},
        Case{".git", ".github", true, false}, Case{"*", ".hidden", false, true},
        Case{"?.txt", "a.txt", false, true}, Case{"?.txt", "ab.txt", false, false},
        Case{"[ab].txt", "b.txt", false, true}, Case{"[!ab].txt", "b.txt", false, false},
        Case{"[a-c]*", "cat", false, true}, Case{"\\*.txt", "*.txt", false, true},
        Case{"\\*.txt", "a.txt", false, false},
        // Exact and case-sensitive.
        Case{"Thumbs.db", "thumbs.db", false, false},
        // With a slash: anchored at the share root.
        Case{"logs/*.gz", "logs/a.gz", false, true}, Case{"logs/*.gz", "x/logs/a.gz", false, false},
        Case{"logs/*.gz", "logs/old/a.gz", false, false}, Case{"/tmp", "tmp", true, true},
        Case{"/tmp", "a/tmp", true, false}, Case{"a/b", "a/b", false, true},
        Case{"a/b", "a/b/c", false, false},
        // "*" does not cross components.
        Case{"a/*", "a/b/c", false, false}, Case{"a/*/c", "a/b/c", false, true},
        // "**" crosses any number of components, also zero.
        Case{"logs/**/*.gz", "logs/a.gz", false, true},
        Case{"logs/**/*.gz", "logs/x/y/z/a.gz", false, true},
        Case{"logs/**/*.gz", "other/a.gz", false, false}, Case{"**/cache", "cache", true, true},
        Case{"**/cache", "a/b/cache", true, true}, Case{"**/cache", "a/b/cache2", true, false},
        Case{"a/**", "a/b/c", false, true}, Case{"a/**", "a", true, true},
        Case{"**", "anything/at/all", false, true}, Case{"**/**/x", "x", false, true},
        Case{"a/**/b/**/c", "a/1/b/2/3/c", false, true}, Case{"a/**/b/**/c", "a/c", false, false},
        // Trailing slash: directories only.
        Case{"build/", "build", true, true}, Case{"build/", "build", false, false},
        Case{"build/", "src/build", true, true}, Case{"/out/", "out", true, true},
        Case{"/out/", "out", false, false}),
    [](const auto& info) { return "Case" + std::to_string(info.index); });

TEST(GlobMatches, ManyDoubleStarsDoNotBlowUp) {
  std::string pattern, path;
  for (int i = 0; i < 200; ++i) pattern += "**/";
  pattern += "z";
  for (int i = 0; i < 2000; ++i) path += "a/";
  path += "y";
  auto g = GlobPattern::compile(pattern);
  ASSERT_TRUE(g.ok());
  EXPECT_FALSE(g->matches(split(path), false));
}

TEST(GlobMatches, NeverMatchesTheShareRootItself) {
  auto g = GlobPattern::compile("**");
  ASSERT_TRUE(g.ok());
  EXPECT_FALSE(g->matches({}, true));
}

class GlobRefuses : public ::testing::TestWithParam<std::string> {};

TEST_P(GlobRefuses, WhenCompiling) {
  auto g = GlobPattern::compile(GetParam());
  ASSERT_FALSE(g.ok());
  EXPECT_EQ(g.error().code, "bad_pattern");
}

INSTANTIATE_TEST_SUITE_P(Table, GlobRefuses,
                         ::testing::Values("", "/", "//", "a//b", "./a", "a/./b", "a/..", "../x",
                                           "/a/../../etc", std::string("a\0b", 3),
                                           std::string(4097, 'a')));

TEST(Glob, KeepsThePatternText) { EXPECT_EQ(GlobPattern::compile("logs/")->text(), "logs/"); }

TEST(Glob, AnyMatchesIsTheUnion) {
  std::vector<GlobPattern> ps{*GlobPattern::compile("*.a"), *GlobPattern::compile("*.b")};
  EXPECT_TRUE(any_matches(ps, split("x.b"), false));
  EXPECT_FALSE(any_matches(ps, split("x.c"), false));
  EXPECT_FALSE(any_matches({}, split("x.c"), false));
}

TEST(Glob, IgnoringCaseFoldsAsciiLettersInNamesSetsAndRanges) {
  auto key = GlobPattern::compile("*.key", true);
  EXPECT_TRUE(key->matches(split("ID.KEY"), false));
  EXPECT_TRUE(key->matches(split("a/Id.Key"), false));
  EXPECT_FALSE(key->matches(split("id.keys"), false));
  EXPECT_TRUE(GlobPattern::compile("Logs/[a-c]?.GZ", true)->matches(split("logs/Bx.gz"), false));
  EXPECT_FALSE(GlobPattern::compile("[!A]*", true)->matches(split("abc"), false));
  EXPECT_FALSE(GlobPattern::compile("*.key")->matches(split("ID.KEY"), false));
}

#ifndef _WIN32
// The matcher is our own (mingw has no fnmatch); here it must agree with
// glibc's fnmatch(3) without flags on every pair.
TEST(Glob, AComponentMatchesExactlyWhenFnmatchSaysSo) {
  const char* patterns[] = {"*", "a*", "*a", "a*b*c", "?", "??x", "[abc]", "[!abc]", "[^a]x", "[a-c]*", "[]a]",
                            "[!]]", "[a-]", "[", "a[", "[a", "\\*", "\\[a]", "a\\", "*.tar.gz", "**", "*?*",
                            "[[]", "[\\]]", ".*", "x[a-c-e]y", "*[0-9]", "\\?x"};
  const char* names[] = {"", "a", "b", "ab", "abc", "axbyc", "x", "ax", "bx", "[", "a[", "[a", "]", "-", "*",
                         "[a]", "a\\", "\\", "f.tar.gz", "tar.gz", ".hidden", "xby", "xdy", "9", "?x", "a?"};
  for (const char* p : patterns) {
    for (const char* n : names) {
      if (*n == '\0') continue;
      auto g = GlobPattern::compile(p);
      ASSERT_TRUE(g.ok()) << p;
      EXPECT_EQ(g->matches(split(n), false), ::fnmatch(p, n, 0) == 0) << "pattern " << p << " name " << n;
    }
  }
}
#endif

}  // namespace
}  // namespace sealrelay::agent
