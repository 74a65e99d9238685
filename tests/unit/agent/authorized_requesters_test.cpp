#include "agent/authorized_requesters.h"

#include "test_support.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sodium.h>
#include <sys/stat.h>

#include <atomic>
#include <cstdio>
#include <ostream>
#include <string>
#include <thread>
#include <vector>

namespace sealrelay::agent {
namespace {

using namespace std::string_literals;
using testing::TempDir;

RequesterKey key_n(uint8_t n) {
  RequesterKey k;
  for (size_t i = 0; i < k.size(); ++i) k[i] = static_cast<uint8_t>(n * 31 + i);
  return k;
}

std::string b64(const RequesterKey& k) {
  char out[sodium_base64_ENCODED_LEN(32, sodium_base64_VARIANT_ORIGINAL)];
  sodium_bin2base64(out, sizeof out, k.data(), k.size(), sodium_base64_VARIANT_ORIGINAL);
  return out;
}

const std::string K1 = b64(key_n(1));
const std::string K2 = b64(key_n(2));
const std::string K3 = b64(key_n(3));

AuthorizedRequesters parse_ok(const std::string& text) {
  auto r = AuthorizedRequesters::parse(text);
  if (!r) ADD_FAILURE() << r.error().message;
  if (r && !r->broken().empty()) ADD_FAILURE() << r->broken()[0].message;
  return r ? std::move(*r) : AuthorizedRequesters();
}

Visibility vis(const AuthorizedRequester& r, const std::string& path) {
  return r.scope.visibility(parse_request_path(path)->components);
}

// --- what parses ------------------------------------------------------------

TEST(AuthorizedRequestersParse, ReadsKeysScopesAndComments) {
  auto list = parse_ok("# trusted requesters\n"
                       "\n" +
                       K1 + " alice@ops laptop\n" +
                       "   " + K2 + "\tpaths=/photos,/logs/app   backup job  \n" +
                       K3 + "\n");
  ASSERT_EQ(list.entries().size(), 3u);
  const auto& a = list.entries()[0];
  EXPECT_EQ(a.key, key_n(1));
  EXPECT_TRUE(a.scope.is_everything());
  EXPECT_EQ(a.comment, "alice@ops laptop");
  EXPECT_EQ(a.line, 3);
  const auto& b = list.entries()[1];
  EXPECT_EQ(b.scope.paths(), (std::vector<std::string>{"/photos", "/logs/app"}));
  EXPECT_EQ(b.comment, "backup job");
  EXPECT_EQ(b.line, 4);
  EXPECT_EQ(list.entries()[2].comment, "");
}

TEST(AuthorizedRequestersParse, AcceptsCrLfLineEndsAndNoFinalNewline) {
  auto list = parse_ok("# x\r\n" + K1 + " a\r\n" + K2 + " b");
  ASSERT_EQ(list.entries().size(), 2u);
  EXPECT_EQ(list.entries()[0].comment, "a");
  EXPECT_EQ(list.entries()[1].comment, "b");
}

TEST(AuthorizedRequestersParse, AnEmptyFileAuthorizesNobody) {
  EXPECT_TRUE(parse_ok("").entries().empty());
  EXPECT_TRUE(parse_ok("# nobody\n\n   \n\t\n").entries().empty());
}

TEST(AuthorizedRequestersParse, ACommentMayContainHashesAndEqualsSigns) {
  auto list = parse_ok(K1 + " # ticket=123 owner=bob\n");
  ASSERT_EQ(list.entries().size(), 1u);
  EXPECT_EQ(list.entries()[0].comment, "# ticket=123 owner=bob");
}

TEST(AuthorizedRequestersParse, ScopePathsAreCanonicalised) {
  auto list = parse_ok(K1 + " paths=/photos/,/logs\n");
  EXPECT_EQ(list.entries()[0].scope.paths(), (std::vector<std::string>{"/photos", "/logs"}));
}

// --- what must be refused -----------------------------------------------------

struct Bad {
  const char* name;
  std::string text;
  int line;         // The broken line.
  size_t in_force;  // Entries still in force: the valid lines whose key is on no broken line.
};
void PrintTo(const Bad& v, std::ostream* os) { *os << v.name; }

class AuthorizedRequestersRefuses : public ::testing::TestWithParam<Bad> {};

// A broken line grants nothing (nor does any other line with its key) and is
// reported by number; the other lines stay in force.
TEST_P(AuthorizedRequestersRefuses, TheBrokenLineNamingItAndKeepsTheValidOnes) {
  auto r = AuthorizedRequesters::parse(GetParam().text);
  ASSERT_TRUE(r.ok()) << r.error().message;
  ASSERT_EQ(r->broken().size(), 1u);
  EXPECT_EQ(r->broken()[0].code, "bad_authorized_requesters");
  EXPECT_EQ(r->broken()[0].message.rfind("line " + std::to_string(GetParam().line) + ":", 0), 0u)
      << r->broken()[0].message;
  EXPECT_EQ(r->entries().size(), GetParam().in_force);
  for (const auto& e : r->entries()) EXPECT_NE(e.line, GetParam().line);
}

// The key text with one of the two unused low bits of its last character
// set: the same 32 bytes, spelled non-canonically.
std::string with_unused_bit_set(const std::string& k) {
  static const std::string alphabet =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string s = k;
  s[42] = alphabet[alphabet.find(s[42]) | 1];
  return s;
}

INSTANTIATE_TEST_SUITE_P(
    Table, AuthorizedRequestersRefuses,
    ::testing::Values(
        Bad{"NotBase64", "# ok\nnot-a-key comment\n", 2, 0},
        Bad{"KeyTooShort", K1.substr(0, 40) + "\n", 1, 0},
        Bad{"KeyMissingPadding", K1.substr(0, 43) + "\n", 1, 0},
        Bad{"KeyWithExtraCharacters", K1 + "AAAA\n", 1, 0},
        Bad{"KeyOf33Bytes", [] {
              unsigned char raw[33] = {};
              char out[sodium_base64_ENCODED_LEN(33, sodium_base64_VARIANT_ORIGINAL)];
              sodium_bin2base64(out, sizeof out, raw, 33, sodium_base64_VARIANT_ORIGINAL);
              return std::string(out) + "\n";
            }(), 1, 0},
        Bad{"KeyOf31Bytes", [] {
              unsigned char raw[31] = {};
              char out[sodium_base64_ENCODED_LEN(31, sodium_base64_VARIANT_ORIGINAL)];
              sodium_bin2base64(out, sizeof out, raw, 31, sodium_base64_VARIANT_ORIGINAL);
              return std::string(out) + "\n";
            }(), 1, 0},
        Bad{"UrlSafeAlphabet", "________________________________________7_8=\n", 1, 0},
        Bad{"NonCanonicalUnusedBits", with_unused_bit_set(K1) + "\n", 1, 0},
        Bad{"SshKeyLine", "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI alice\n", 1, 0},
        Bad{"HexKey", std::string(64, 'a') + "\n", 1, 0},
        Bad{"OptionBeforeTheKey", "paths=/a " + K1 + "\n", 1, 0},
        Bad{"EmptyScope", K1 + " paths=\n", 1, 0},
        Bad{"EmptyScopeEntry", K1 + " paths=/a,,/b\n", 1, 0},
        Bad{"TrailingCommaInScope", K1 + " paths=/a,\n", 1, 0},
        Bad{"RelativeScope", K1 + " paths=photos\n", 1, 0},
        Bad{"TraversalInScope", K1 + " paths=/photos/../etc\n", 1, 0},
        Bad{"DotInScope", K1 + " paths=/photos/./x\n", 1, 0},
        Bad{"DoubleSlashInScope", K1 + " paths=/photos//x\n", 1, 0},
        Bad{"ScopeWithSpaceAfterComma", K1 + " paths=/a, /b\n", 1, 0},
        Bad{"ScopeAfterTheComment", K1 + " bob paths=/photos\n", 1, 0},
        Bad{"SecondScope", K1 + " paths=/a paths=/b\n", 1, 0},
        Bad{"DuplicateKey", K1 + " a\n" + K2 + " b\n" + K1 + " c\n", 3, 1},
        Bad{"NulByte", K1 + " a\n" + K2 + " b\0c\n"s, 2, 1},
        Bad{"SecondLineBroken", K1 + "\n" + "garbage\n" + K2 + "\n", 2, 2}),
    [](const auto& info) { return std::string(info.param.name); });

TEST(AuthorizedRequestersParse, TheDuplicateKeyErrorNamesTheFirstLineToo) {
  auto r = AuthorizedRequesters::parse(K1 + " a\n\n" + K1 + " c\n");
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->broken().size(), 1u);
  EXPECT_NE(r->broken()[0].message.find("line 3:"), std::string::npos);
  EXPECT_NE(r->broken()[0].message.find("line 1"), std::string::npos);
  EXPECT_EQ(r->find(key_n(1)), nullptr) << "which line did the admin mean? neither";
}

TEST(AuthorizedRequestersParse, AKeyOnABrokenLineIsRefusedEvenWhereItAlsoHasAValidLine) {
  auto r = AuthorizedRequesters::parse(K1 + " alice\n" + K2 + " bob\n" + K1 + " paths=/a,,/b\ngarbage\n");
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->broken().size(), 2u);
  EXPECT_EQ(r->broken()[0].message.rfind("line 3:", 0), 0u) << r->broken()[0].message;
  EXPECT_EQ(r->broken()[1].message.rfind("line 4:", 0), 0u) << r->broken()[1].message;
  EXPECT_EQ(r->find(key_n(1)), nullptr);
  ASSERT_NE(r->find(key_n(2)), nullptr);
  EXPECT_EQ(r->entries().size(), 1u);
}

TEST(AuthorizedRequestersParse, RefusesAFileOverOneMebibyte) {
  std::string text(kMaxAuthorizedRequestersBytes + 1, '#');
  auto r = AuthorizedRequesters::parse(text);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, "bad_authorized_requesters");
}

// --- lookup and scopes --------------------------------------------------------

TEST(AuthorizedRequestersFind, FindsExactlyTheListedKeys) {
  auto list = parse_ok(K1 + " a\n" + K2 + " b\n");
  ASSERT_NE(list.find(key_n(1)), nullptr);
  EXPECT_EQ(list.find(key_n(1))->comment, "a");
  EXPECT_EQ(list.find(key_n(2))->comment, "b");
  EXPECT_EQ(list.find(key_n(3)), nullptr);
  for (size_t byte = 0; byte < 32; ++byte) {
    RequesterKey k = key_n(1);
    k[byte] ^= 0x01;  // One bit off, anywhere: not found.
    EXPECT_EQ(list.find(k), nullptr) << byte;
  }
  RequesterKey zero{};
  EXPECT_EQ(list.find(zero), nullptr);
}

TEST(AuthorizedRequestersFind, TheEmptyListFindsNobody) {
  AuthorizedRequesters none;
  EXPECT_EQ(none.find(key_n(1)), nullptr);
}

TEST(AuthorizedRequestersScope, AScopeCoversItselfAndBelowButNotSiblingsWithTheSamePrefix) {
  auto list = parse_ok(K1 + " paths=/a/b\n");
  const auto& r = *list.find(key_n(1));
  EXPECT_EQ(vis(r, "/a/b"), Visibility::full);
  EXPECT_EQ(vis(r, "/a/b/c.txt"), Visibility::full);
  EXPECT_EQ(vis(r, "/a/bc"), Visibility::hidden);
  EXPECT_EQ(vis(r, "/a/bc/d"), Visibility::hidden);
  EXPECT_EQ(vis(r, "/a/c"), Visibility::hidden);
  EXPECT_EQ(vis(r, "/a"), Visibility::ancestor);
  EXPECT_EQ(vis(r, "/"), Visibility::ancestor);
}

TEST(AuthorizedRequestersScope, NoScopeMeansEveryShare) {
  auto list = parse_ok(K1 + "\n");
  EXPECT_EQ(vis(*list.find(key_n(1)), "/any/thing"), Visibility::full);
}

// --- the file and reloading ------------------------------------------------------

// Replaces the file atomically, as config management does, so every write
// is a new inode and a new version.
void replace(const TempDir& tmp, const std::string& text, mode_t mode = 0600) {
  std::string tmp_path = tmp.write("authorized_requesters.new", text);
  ASSERT_EQ(::chmod(tmp_path.c_str(), mode), 0);
  ASSERT_EQ(std::rename(tmp_path.c_str(), (tmp / "authorized_requesters").c_str()), 0);
}

TEST(AuthorizedRequestersFile, StartsEmptyAndLoadsOnTheFirstCheck) {
  TempDir tmp;
  replace(tmp, K1 + " a\n");
  AuthorizedRequestersFile file(tmp / "authorized_requesters");
  EXPECT_TRUE(file.current()->entries().empty());
  auto r = file.reload_if_changed();
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(*r, AuthorizedRequestersFile::Reload::reloaded);
  EXPECT_NE(file.current()->find(key_n(1)), nullptr);
}

TEST(AuthorizedRequestersFile, DoesNotReloadAnUnchangedFile) {
  TempDir tmp;
  replace(tmp, K1 + " a\n");
  AuthorizedRequestersFile file(tmp / "authorized_requesters");
  ASSERT_TRUE(file.reload_if_changed().ok());
  auto before = file.current();
  auto r = file.reload_if_changed();
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, AuthorizedRequestersFile::Reload::unchanged);
  EXPECT_EQ(file.current(), before);
}

TEST(AuthorizedRequestersFile, PicksUpAnAddedAndARemovedRequester) {
  TempDir tmp;
  replace(tmp, K1 + " a\n");
  AuthorizedRequestersFile file(tmp / "authorized_requesters");
  ASSERT_TRUE(file.reload_if_changed().ok());
  replace(tmp, K2 + " b\n");
  auto r = file.reload_if_changed();
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, AuthorizedRequestersFile::Reload::reloaded);
  EXPECT_EQ(file.current()->find(key_n(1)), nullptr);
  EXPECT_NE(file.current()->find(key_n(2)), nullptr);
}

TEST(AuthorizedRequestersFile, PicksUpAnInPlaceEditOfTheSameSize) {
  TempDir tmp;
  replace(tmp, K1 + " a\n");
  std::string path = tmp / "authorized_requesters";
  struct timespec old[2] = {{1'000'000'000, 0}, {1'000'000'000, 0}};
  ASSERT_EQ(::utimensat(AT_FDCWD, path.c_str(), old, 0), 0);
  AuthorizedRequestersFile file(path);
  ASSERT_TRUE(file.reload_if_changed().ok());
  tmp.write("authorized_requesters", K2 + " a\n");  // Same size, same inode.
  auto r = file.reload_if_changed();
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, AuthorizedRequestersFile::Reload::reloaded);
  EXPECT_NE(file.current()->find(key_n(2)), nullptr);
}

// Issue 15: deleting alice's line while a broken line was added kept the
// old list, alice included, and said nothing.
TEST(AuthorizedRequestersFile, ARemovedKeyIsRefusedAfterAReloadEvenWhenTheNewFileHasABrokenLine) {
  TempDir tmp;
  replace(tmp, K1 + " alice\n" + K2 + " bob\n");
  AuthorizedRequestersFile file(tmp / "authorized_requesters");
  ASSERT_TRUE(file.reload_if_changed().ok());
  ASSERT_NE(file.current()->find(key_n(1)), nullptr);
  replace(tmp, K2 + " bob\nbroken line\n" + K3 + " paths=relative carol\n");
  auto r = file.reload_if_changed();
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(*r, AuthorizedRequestersFile::Reload::reloaded);
  EXPECT_EQ(file.current()->find(key_n(1)), nullptr) << "alice's line is gone";
  EXPECT_NE(file.current()->find(key_n(2)), nullptr) << "bob's line is valid";
  EXPECT_EQ(file.current()->find(key_n(3)), nullptr) << "carol's line is broken";
  const auto& broken = file.current()->broken();
  ASSERT_EQ(broken.size(), 2u);
  EXPECT_EQ(broken[0].message.rfind("line 2:", 0), 0u) << broken[0].message;
  EXPECT_EQ(broken[1].message.rfind("line 3:", 0), 0u) << broken[1].message;
  EXPECT_NE(broken[1].message.find("paths="), std::string::npos) << "says why: " << broken[1].message;
  // The same version again: nothing new.
  auto again = file.reload_if_changed();
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, AuthorizedRequestersFile::Reload::unchanged);
  EXPECT_FALSE(file.last_error().has_value());
}

TEST(AuthorizedRequestersFile, AFileThatCannotBeReadAuthorizesNobodyAndIsReportedOnce) {
  TempDir tmp;
  replace(tmp, K1 + " a\n");
  AuthorizedRequestersFile file(tmp / "authorized_requesters");
  ASSERT_TRUE(file.reload_if_changed().ok());
  ASSERT_EQ(::unlink((tmp / "authorized_requesters").c_str()), 0);
  auto r = file.reload_if_changed();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, "io_error");
  EXPECT_EQ(file.current()->find(key_n(1)), nullptr) << "fail closed";
  auto again = file.reload_if_changed();
  ASSERT_TRUE(again.ok());  // Reported once.
  EXPECT_EQ(*again, AuthorizedRequestersFile::Reload::unchanged);
  ASSERT_TRUE(file.last_error().has_value());
  replace(tmp, K1 + " a\n");  // Back: loaded again, error cleared.
  auto fixed = file.reload_if_changed();
  ASSERT_TRUE(fixed.ok());
  EXPECT_EQ(*fixed, AuthorizedRequestersFile::Reload::reloaded);
  EXPECT_NE(file.current()->find(key_n(1)), nullptr);
  EXPECT_FALSE(file.last_error().has_value());
  replace(tmp, K1 + " a\n", 0666);  // Writable by everyone: nobody.
  ASSERT_FALSE(file.reload_if_changed().ok());
  EXPECT_EQ(file.current()->find(key_n(1)), nullptr);
}

TEST(AuthorizedRequestersFile, AMissingFileAtStartIsAnErrorAndAuthorizesNobody) {
  TempDir tmp;
  AuthorizedRequestersFile file(tmp / "nothing");
  auto r = file.reload_if_changed();
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(file.current()->entries().empty());
}

TEST(AuthorizedRequestersFile, RefusesAFileWritableByEveryone) {
  TempDir tmp;
  replace(tmp, K1 + " a\n", 0666);
  AuthorizedRequestersFile file(tmp / "authorized_requesters");
  auto r = file.reload_if_changed();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, "not_allowed");
  EXPECT_TRUE(file.current()->entries().empty());
}

TEST(AuthorizedRequestersFile, RefusesADirectoryAFifoAndAnOversizedFile) {
  TempDir tmp;
  tmp.mkdir("dir");
  ASSERT_EQ(::mkfifo((tmp / "fifo").c_str(), 0600), 0);
  tmp.write("big", std::string(kMaxAuthorizedRequestersBytes + 1, '#'));
  for (const char* name : {"dir", "fifo", "big"}) {
    AuthorizedRequestersFile file(tmp / name);
    auto r = file.reload_if_changed();
    EXPECT_FALSE(r.ok()) << name;  // And the FIFO did not block.
  }
}

TEST(AuthorizedRequestersFile, FollowsASymlinkedFile) {
  TempDir tmp;
  replace(tmp, K1 + " a\n");
  tmp.symlink("authorized_requesters", "link");
  AuthorizedRequestersFile file(tmp / "link");
  ASSERT_TRUE(file.reload_if_changed().ok());
  EXPECT_NE(file.current()->find(key_n(1)), nullptr);
}

TEST(AuthorizedRequestersFile, AListHeldByACallerSurvivesAReload) {
  TempDir tmp;
  replace(tmp, K1 + " a\n");
  AuthorizedRequestersFile file(tmp / "authorized_requesters");
  ASSERT_TRUE(file.reload_if_changed().ok());
  auto held = file.current();
  const AuthorizedRequester* entry = held->find(key_n(1));
  replace(tmp, K2 + " b\n");
  ASSERT_TRUE(file.reload_if_changed().ok());
  ASSERT_NE(entry, nullptr);
  EXPECT_EQ(entry->comment, "a");  // Still valid: `held` keeps it alive.
}

TEST(AuthorizedRequestersFile, ReloadsAndLookupsFromManyThreadsAgree) {
  TempDir tmp;
  replace(tmp, K1 + " a\n" + K2 + " b\n");
  AuthorizedRequestersFile file(tmp / "authorized_requesters");
  ASSERT_TRUE(file.reload_if_changed().ok());
  std::vector<std::thread> threads;
  std::atomic<int> misses{0};
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&] {
      for (int i = 0; i < 500; ++i) {
        (void)file.reload_if_changed();
        if (!file.current()->find(key_n(1))) ++misses;
      }
    });
  for (int i = 0; i < 20; ++i) replace(tmp, K1 + " a" + std::to_string(i) + "\n");
  for (auto& t : threads) t.join();
  EXPECT_EQ(misses.load(), 0);
}

}  // namespace
}  // namespace sealrelay::agent
