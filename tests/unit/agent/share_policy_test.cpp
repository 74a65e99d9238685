#include "agent/share_policy.h"

#include "test_support.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <memory>
#include <thread>
#include <cstdio>
#include <ostream>
#include <string>
#include <vector>

namespace sealrelay::agent {
namespace {

using namespace std::string_literals;
using testing::TempDir;

std::string read_all(int fd) {
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(fd, buf, sizeof buf)) > 0) out.append(buf, static_cast<size_t>(n));
  return out;
}

void make_socket(const std::string& path) {
  int s = ::socket(AF_UNIX, SOCK_STREAM, 0);
  ASSERT_GE(s, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  ASSERT_LT(path.size(), sizeof addr.sun_path) << "temp dir path too long for a socket";
  std::copy(path.begin(), path.end(), addr.sun_path);
  ASSERT_EQ(::bind(s, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ::close(s);
}

// The error code of a result, or "ok" (so a wrongly served path fails the
// expectation instead of aborting on error()).
template <class T>
std::string code_of(const Result<T>& r) {
  return r.ok() ? "ok" : r.error().code;
}

ShareConfig share(std::string name, std::string root, std::vector<std::string> include = {},
                  std::vector<std::string> exclude = {}) {
  ShareConfig c;
  c.name = std::move(name);
  c.root = std::move(root);
  c.include = std::move(include);
  c.exclude = std::move(exclude);
  return c;
}

PathScope scope_of(std::vector<std::string> paths) {
  auto s = PathScope::of(paths);
  if (!s) std::abort();
  return *s;
}

// A tree with one share "files" (and the things around it a requester must
// never reach), plus a few smaller shares for the options.
//
//   tmp/outside/secret.txt            outside every share
//   tmp/files/                        share "files" (root)
//     a.txt  sub/b.txt  sub/deep/c.txt  .git/config  keys/id.key
//     big.bin (2000 bytes; max_file_size 1000)
//     links and special files: see the constructor
class ShareTree : public ::testing::Test {
 protected:
  void SetUp() override {
    tmp.write("outside/secret.txt", "SECRET");
    tmp.mkdir("outside/dir");
    tmp.write("outside/dir/inner.txt", "SECRET2");
    tmp.write("files2/x.txt", "sibling share dir with a prefix-sharing name");
    root = tmp.mkdir("files");
    tmp.write("files/a.txt", "A");
    tmp.write("files/sub/b.txt", "BB");
    tmp.write("files/sub/deep/c.txt", "CCC");
    tmp.write("files/.git/config", "git");
    tmp.write("files/keys/id.key", "key");
    tmp.write("files/keys/readme.txt", "about keys");
    tmp.write("files/build/out.o", "obj");
    tmp.write("files/big.bin", std::string(2000, 'z'));
    tmp.write("files/exact.bin", std::string(1000, 'e'));
    tmp.mkdir("files/empty");
    // In-share links.
    tmp.symlink("sub/b.txt", "files/link_file");
    tmp.symlink("sub", "files/link_dir");
    tmp.symlink("../a.txt", "files/sub/link_up");
    tmp.symlink("../link_dir/deep/c.txt", "files/sub/link_chain");
    tmp.symlink(".", "files/link_self_dir");
    tmp.symlink(root + "/sub/b.txt", "files/link_abs_in");
    tmp.symlink("sub/deep/../b.txt", "files/link_dotdot_inside");
    tmp.symlink("./sub//b.txt", "files/link_dots_and_slashes");
    tmp.symlink("sub/", "files/link_dir_trailing_slash");
    tmp.symlink("keys/id.key", "files/link_to_excluded");
    tmp.symlink("big.bin", "files/link_to_big");
    // Links that leave the share.
    tmp.symlink("../outside/secret.txt", "files/link_out");
    tmp.symlink("../outside", "files/link_out_dir");
    tmp.symlink("../outside/nonexistent.txt", "files/link_out_missing");
    tmp.symlink("..", "files/link_parent");
    tmp.symlink("../../../../../../../../../../etc/passwd", "files/link_deep_out");
    tmp.symlink("sub/../../outside/secret.txt", "files/link_out_via_sub");
    tmp.symlink(tmp / "outside/secret.txt", "files/link_abs_out");
    tmp.symlink(tmp / "files2/x.txt", "files/link_abs_prefix_sibling");
    tmp.symlink("/etc/passwd", "files/link_etc_passwd");
    tmp.symlink("/dev/null", "files/link_dev_null");
    tmp.symlink("/proc/self/root/etc/passwd", "files/link_proc");
    tmp.symlink("../link_out", "files/sub/link_to_link_out");
    tmp.symlink(tmp / "outside/dir", "files/sub/deep/link_abs_out_dir");
    // Broken and looping links.
    tmp.symlink("nonexistent", "files/link_dangling");
    tmp.symlink("loop_b", "files/loop_a");
    tmp.symlink("loop_a", "files/loop_b");
    tmp.symlink("loop_self", "files/loop_self");
    tmp.symlink("a.txt/x", "files/link_below_file");
    // Special files.
    ASSERT_EQ(::mkfifo((tmp / "files/fifo").c_str(), 0644), 0);
    make_socket(tmp / "files/sock");
    has_device = ::mknod((tmp / "files/null_device").c_str(), S_IFCHR | 0666, makedev(1, 3)) == 0;
    tmp.symlink("fifo", "files/link_fifo");

    ShareConfig files;
    files.name = "files";
    files.root = root;
    files.exclude = {".git", "*.key", "build/"};
    files.max_file_size = 1000;
    ShareConfig strict;
    strict.name = "strict";
    strict.root = root;
    strict.follow_symlinks = false;
    ShareConfig picky;
    picky.name = "picky";
    picky.root = root;
    picky.include = {"*.txt", "sub/deep"};
    auto s = Shares::create({files, strict, picky});
    ASSERT_TRUE(s.ok()) << s.error().message;
    shares.emplace(std::move(*s));
  }

  TempDir tmp;
  std::string root;
  bool has_device = false;
  std::optional<Shares> shares;
  PathScope all = PathScope::everything();
};

// --- get: what must be refused -------------------------------------------

struct Refusal {
  const char* name;
  std::string path;
  const char* code;
};
void PrintTo(const Refusal& v, std::ostream* os) { *os << v.name; }

class ShareGetRefuses : public ShareTree, public ::testing::WithParamInterface<Refusal> {};

TEST_P(ShareGetRefuses, WithTheRightCode) {
  auto r = shares->open_file(GetParam().path, all);
  ASSERT_FALSE(r.ok()) << "served " << GetParam().path;
  EXPECT_EQ(r.error().code, GetParam().code) << r.error().message;
  EXPECT_EQ(r.error().message.find("SECRET"), std::string::npos);
  EXPECT_EQ(r.error().message.find(tmp.path()), std::string::npos)
      << "a message must not name local paths: " << r.error().message;
}

INSTANTIATE_TEST_SUITE_P(
    Table, ShareGetRefuses,
    ::testing::Values(
        // Syntax.
        Refusal{"DotDot", "/files/../outside/secret.txt", "bad_path"},
        Refusal{"DotDotInside", "/files/sub/../a.txt", "bad_path"},
        Refusal{"DotDotAtTheEnd", "/files/sub/..", "bad_path"},
        Refusal{"Dot", "/files/./a.txt", "bad_path"},
        Refusal{"EmptyComponent", "/files//a.txt", "bad_path"},
        Refusal{"Relative", "files/a.txt", "bad_path"},
        Refusal{"Empty", "", "bad_path"},
        Refusal{"NulByte", "/files/a.txt\0.jpg"s, "bad_path"},
        Refusal{"NulThenTraversal", "/files/sub\0/../../outside/secret.txt"s, "bad_path"},
        Refusal{"AbsolutePathAfterTheShare", "/files//etc/passwd", "bad_path"},
        Refusal{"OverLongComponent", "/files/" + std::string(256, 'a'), "bad_path"},
        Refusal{"OverLongPath", "/files/" + [] {
                  std::string s;
                  while (s.size() < 4100) s += "sub/";
                  return s;
                }(), "bad_path"},
        // Wrong share, root, directories.
        Refusal{"UnknownShare", "/nope/a.txt", "not_found"},
        Refusal{"ShareNamePrefixOfADirectory", "/files2/x.txt", "not_found"},
        Refusal{"TheRoot", "/", "not_a_file"},
        Refusal{"AShareRoot", "/files", "not_a_file"},
        Refusal{"ADirectory", "/files/sub", "not_a_file"},
        Refusal{"ALinkToADirectory", "/files/link_dir", "not_a_file"},
        // Not there.
        Refusal{"Missing", "/files/missing.txt", "not_found"},
        Refusal{"MissingDirectory", "/files/nodir/a.txt", "not_found"},
        Refusal{"BelowAFile", "/files/a.txt/x", "not_found"},
        Refusal{"DanglingLink", "/files/link_dangling", "not_found"},
        Refusal{"LinkBelowAFile", "/files/link_below_file", "not_found"},
        // Links leaving the share: refused from their text.
        Refusal{"LinkOut", "/files/link_out", "not_allowed"},
        Refusal{"LinkOutToAMissingFile", "/files/link_out_missing", "not_allowed"},
        Refusal{"IntoALinkedOutsideDirectory", "/files/link_out_dir/dir/inner.txt", "not_allowed"},
        Refusal{"MissingFileInALinkedOutsideDirectory", "/files/link_out_dir/nothing", "not_allowed"},
        Refusal{"LinkToTheParent", "/files/link_parent/outside/secret.txt", "not_allowed"},
        Refusal{"LinkWithManyDotDots", "/files/link_deep_out", "not_allowed"},
        Refusal{"LinkOutThroughASubdirectory", "/files/link_out_via_sub", "not_allowed"},
        Refusal{"AbsoluteLinkOut", "/files/link_abs_out", "not_allowed"},
        Refusal{"AbsoluteLinkToASiblingWithTheSamePrefix", "/files/link_abs_prefix_sibling",
                "not_allowed"},
        Refusal{"AbsoluteLinkToEtcPasswd", "/files/link_etc_passwd", "not_allowed"},
        Refusal{"AbsoluteLinkToDevNull", "/files/link_dev_null", "not_allowed"},
        Refusal{"LinkThroughProc", "/files/link_proc", "not_allowed"},
        Refusal{"LinkToALinkOut", "/files/sub/link_to_link_out", "not_allowed"},
        Refusal{"IntoAnAbsoluteLinkedOutsideDirectory", "/files/sub/deep/link_abs_out_dir/inner.txt",
                "not_allowed"},
        Refusal{"LinkedDirectoryThenTheParentLink", "/files/link_dir/link_up/x", "not_found"},
        // Loops.
        Refusal{"LinkLoop", "/files/loop_a", "not_allowed"},
        Refusal{"SelfLink", "/files/loop_self", "not_allowed"},
        // Special files.
        Refusal{"Fifo", "/files/fifo", "not_allowed"},
        Refusal{"LinkToAFifo", "/files/link_fifo", "not_allowed"},
        Refusal{"Socket", "/files/sock", "not_allowed"},
        // Patterns and sizes.
        Refusal{"ExcludedDirectory", "/files/.git/config", "not_allowed"},
        Refusal{"ExcludedDirectoryItself", "/files/.git", "not_allowed"},
        Refusal{"ExcludedByExtension", "/files/keys/id.key", "not_allowed"},
        Refusal{"ExcludedMissingFileLooksTheSame", "/files/keys/other.key", "not_allowed"},
        Refusal{"InsideAnExcludedDirectoryMissing", "/files/.git/nothing", "not_allowed"},
        Refusal{"ExcludedDirectoryOnlyPattern", "/files/build/out.o", "not_allowed"},
        Refusal{"LinkToAnExcludedFile", "/files/link_to_excluded", "not_allowed"},
        Refusal{"TooLarge", "/files/big.bin", "too_large"},
        Refusal{"LinkToATooLargeFile", "/files/link_to_big", "too_large"},
        // Symlinks off.
        Refusal{"AnyLinkWhenLinksAreOff", "/strict/link_file", "not_allowed"},
        Refusal{"ALinkedDirectoryWhenLinksAreOff", "/strict/link_dir/b.txt", "not_allowed"},
        // Include patterns.
        Refusal{"NotIncluded", "/picky/big.bin", "not_allowed"},
        Refusal{"NotIncludedAndMissingLooksTheSame", "/picky/none.bin", "not_allowed"},
        Refusal{"NotIncludedInASubdirectory", "/picky/keys/id.key", "not_allowed"}),
    [](const auto& info) { return std::string(info.param.name); });

TEST_F(ShareTree, ADeviceFileIsRefusedAndNeverOpened) {
  if (!has_device) GTEST_SKIP() << "mknod needs privileges here";
  auto r = shares->open_file("/files/null_device", all);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, "not_allowed");
}

TEST_F(ShareTree, AFileTheAgentCannotReadIsRefusedAsNotAllowed) {
  if (::geteuid() == 0) GTEST_SKIP() << "root reads everything";
  tmp.write("files/private.txt", "p");
  ASSERT_EQ(::chmod((tmp / "files/private.txt").c_str(), 0), 0);
  auto r = shares->open_file("/files/private.txt", all);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, "not_allowed");
}

TEST_F(ShareTree, ALinkOutIsRefusedTheSameWayWhetherItsTargetExistsOrNot) {
  auto exists = shares->open_file("/files/link_out", all);
  auto missing = shares->open_file("/files/link_out_missing", all);
  ASSERT_FALSE(exists.ok());
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(exists.error().code, missing.error().code);
  EXPECT_EQ(exists.error().message, missing.error().message);
  auto s1 = shares->stat("/files/link_out_dir/secret.txt", all);
  auto s2 = shares->stat("/files/link_out_dir/nothing.txt", all);
  ASSERT_FALSE(s1.ok());
  ASSERT_FALSE(s2.ok());
  EXPECT_EQ(s1.error().message, s2.error().message);
}

TEST_F(ShareTree, AFifoIsRefusedWithoutBlocking) {
  // Opening a FIFO for reading would block until a writer comes; the test
  // finishing at all shows it is never opened that way.
  EXPECT_FALSE(shares->open_file("/files/fifo", all).ok());
  EXPECT_FALSE(shares->stat("/files/fifo", all).ok());
}

TEST_F(ShareTree, AShareWhoseRootIsGoneIsNotFound) {
  ShareConfig c;
  c.name = "gone";
  c.root = tmp / "does-not-exist";
  auto s = Shares::create({c});
  ASSERT_TRUE(s.ok());
  auto r = s->open_file("/gone/a.txt", all);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, "not_found");
  EXPECT_FALSE(s->check_roots().ok());
}

// --- get: what must be served --------------------------------------------

struct Served {
  const char* name;
  std::string path;
  std::string content;
  std::string resolved;  // OpenedFile::path
};
void PrintTo(const Served& v, std::ostream* os) { *os << v.name; }

class ShareGetServes : public ShareTree, public ::testing::WithParamInterface<Served> {};

TEST_P(ShareGetServes, TheRightContent) {
  auto r = shares->open_file(GetParam().path, all);
  ASSERT_TRUE(r.ok()) << r.error().code << ": " << r.error().message;
  EXPECT_EQ(read_all(r->fd.get()), GetParam().content);
  EXPECT_EQ(r->path, GetParam().resolved);
  EXPECT_EQ(r->info.type, EntryType::file);
  EXPECT_EQ(r->info.size, GetParam().content.size());
  EXPECT_EQ(r->info.name, parse_request_path(GetParam().path)->components.back());
}

INSTANTIATE_TEST_SUITE_P(
    Table, ShareGetServes,
    ::testing::Values(
        Served{"TopLevel", "/files/a.txt", "A", "/files/a.txt"},
        Served{"Nested", "/files/sub/b.txt", "BB", "/files/sub/b.txt"},
        Served{"DeeplyNested", "/files/sub/deep/c.txt", "CCC", "/files/sub/deep/c.txt"},
        Served{"ExactlyTheMaximumSize", "/files/exact.bin", std::string(1000, 'e'),
               "/files/exact.bin"},
        Served{"ANonExcludedFileBesideAnExcludedOne", "/files/keys/readme.txt", "about keys",
               "/files/keys/readme.txt"},
        Served{"LinkToAFile", "/files/link_file", "BB", "/files/sub/b.txt"},
        Served{"ThroughALinkedDirectory", "/files/link_dir/b.txt", "BB", "/files/sub/b.txt"},
        Served{"LinkWithDotDotInsideTheShare", "/files/sub/link_up", "A", "/files/a.txt"},
        Served{"ChainOfLinks", "/files/sub/link_chain", "CCC", "/files/sub/deep/c.txt"},
        Served{"LinkToTheCurrentDirectory", "/files/link_self_dir/link_self_dir/a.txt", "A",
               "/files/a.txt"},
        Served{"AbsoluteLinkInsideTheShare", "/files/link_abs_in", "BB", "/files/sub/b.txt"},
        Served{"LinkWithDotDotThatStaysInside", "/files/link_dotdot_inside", "BB",
               "/files/sub/b.txt"},
        Served{"LinkWithDotsAndDoubleSlashes", "/files/link_dots_and_slashes", "BB",
               "/files/sub/b.txt"},
        Served{"LinkWithATrailingSlash", "/files/link_dir_trailing_slash/b.txt", "BB",
               "/files/sub/b.txt"},
        Served{"DotDotBackUpThroughALinkedDirectory", "/files/link_dir/link_up", "A",
               "/files/a.txt"},
        Served{"SameFileThroughAnotherShare", "/strict/sub/b.txt", "BB", "/strict/sub/b.txt"},
        Served{"TrailingSlashIsIgnored", "/files/a.txt/", "A", "/files/a.txt"},
        Served{"Included", "/picky/a.txt", "A", "/picky/a.txt"},
        Served{"IncludedByADirectoryPattern", "/picky/sub/deep/c.txt", "CCC",
               "/picky/sub/deep/c.txt"},
        Served{"WhatIsExcludedElsewhereIsServedHere", "/picky/keys/readme.txt", "about keys",
               "/picky/keys/readme.txt"}),
    [](const auto& info) { return std::string(info.param.name); });

TEST_F(ShareTree, TheOpenFileIsReadOnlyBlockingAndCloseOnExec) {
  auto r = shares->open_file("/files/a.txt", all);
  ASSERT_TRUE(r.ok());
  int fl = ::fcntl(r->fd.get(), F_GETFL);
  EXPECT_EQ(fl & O_ACCMODE, O_RDONLY);
  EXPECT_EQ(fl & O_NONBLOCK, 0);
  EXPECT_NE(::fcntl(r->fd.get(), F_GETFD) & FD_CLOEXEC, 0);
  EXPECT_LT(::write(r->fd.get(), "x", 1), 0);
}

TEST_F(ShareTree, TheOpenFileStaysTheCheckedFileWhenItsNameIsSwappedForALinkOut) {
  auto r = shares->open_file("/files/sub/b.txt", all);
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(::unlink((tmp / "files/sub/b.txt").c_str()), 0);
  tmp.symlink(tmp / "outside/secret.txt", "files/sub/b.txt");
  EXPECT_EQ(read_all(r->fd.get()), "BB");
  // And a new request for the name is refused.
  EXPECT_EQ(code_of(shares->open_file("/files/sub/b.txt", all)), "not_allowed");
}

TEST_F(ShareTree, ADirectorySwappedForALinkOutIsRefusedOnTheNextRequest) {
  ASSERT_EQ(std::rename((tmp / "files/sub").c_str(), (tmp / "files/sub.old").c_str()), 0);
  tmp.symlink("../outside", "files/sub");
  auto r = shares->open_file("/files/sub/secret.txt", all);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, "not_allowed");
}

TEST_F(ShareTree, TheOpenedFileCarriesItsDirectoryAndNameForChangeDetection) {
  auto r = shares->open_file("/files/link_dir/b.txt", all);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->name, "b.txt");
  struct stat st1, st2;
  ASSERT_EQ(::fstatat(r->dir.get(), r->name.c_str(), &st1, AT_SYMLINK_NOFOLLOW), 0);
  ASSERT_EQ(::fstat(r->fd.get(), &st2), 0);
  EXPECT_EQ(st1.st_ino, st2.st_ino);
}

TEST_F(ShareTree, AbsoluteLinksMayUseTheRootAsConfiguredOrItsRealPath) {
  // The share is configured through a symlinked path, as admins do.
  tmp.symlink("files", "files_alias");
  tmp.symlink(tmp / "files_alias/sub/b.txt", "files/link_via_alias");
  tmp.symlink(tmp / "files_alias_other/sub/b.txt", "files/link_via_other_alias");
  tmp.symlink(tmp / "files_alias/../outside/secret.txt", "files/link_via_alias_out");
  auto s = Shares::create({share("alias", tmp / "files_alias/")});
  ASSERT_TRUE(s.ok());
  auto via_alias = s->open_file("/alias/link_via_alias", all);
  ASSERT_TRUE(via_alias.ok()) << via_alias.error().message;
  EXPECT_EQ(read_all(via_alias->fd.get()), "BB");
  auto via_real = s->open_file("/alias/link_abs_in", all);
  ASSERT_TRUE(via_real.ok()) << via_real.error().message;
  EXPECT_EQ(read_all(via_real->fd.get()), "BB");
  EXPECT_EQ(code_of(s->open_file("/alias/link_via_other_alias", all)), "not_allowed");
  EXPECT_EQ(code_of(s->open_file("/alias/link_via_alias_out", all)), "not_allowed");
}

TEST_F(ShareTree, DeepDirectoriesUpToTheLimitResolveAndDeeperOnesAreRefused) {
  std::string rel = "files";
  for (size_t i = 0; i < kMaxDepth - 1; ++i) rel += "/d";
  tmp.write(rel + "/f.txt", "deep");
  auto ok = shares->open_file("/" + rel + "/f.txt", all);
  ASSERT_TRUE(ok.ok()) << ok.error().message;
  tmp.write(rel + "/d/f.txt", "too deep");
  auto r = shares->open_file("/" + rel + "/d/f.txt", all);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, "not_allowed");
}

// --- stat ------------------------------------------------------------------

TEST_F(ShareTree, StatDescribesFilesDirectoriesShareRootsAndTheRoot) {
  auto f = shares->stat("/files/sub/b.txt", all);
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(f->name, "b.txt");
  EXPECT_EQ(f->type, EntryType::file);
  EXPECT_EQ(f->size, 2u);
  struct stat st;
  ASSERT_EQ(::stat((tmp / "files/sub/b.txt").c_str(), &st), 0);
  EXPECT_EQ(f->mtime_ns, st.st_mtim.tv_sec * 1'000'000'000LL + st.st_mtim.tv_nsec);

  auto d = shares->stat("/files/link_dir", all);
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->name, "link_dir");
  EXPECT_EQ(d->type, EntryType::directory);
  EXPECT_EQ(d->size, 0u);

  auto share = shares->stat("/files", all);
  ASSERT_TRUE(share.ok());
  EXPECT_EQ(share->name, "files");
  EXPECT_EQ(share->type, EntryType::directory);

  auto root = shares->stat("/", all);
  ASSERT_TRUE(root.ok());
  EXPECT_EQ(root->type, EntryType::directory);
}

TEST_F(ShareTree, StatRefusesWhatGetRefuses) {
  for (const char* p : {"/files/link_out", "/files/fifo", "/files/sock", "/files/.git",
                        "/files/keys/id.key", "/files/link_parent", "/strict/link_dir"}) {
    auto r = shares->stat(p, all);
    ASSERT_FALSE(r.ok()) << p;
    EXPECT_EQ(r.error().code, "not_allowed") << p;
  }
  EXPECT_EQ(code_of(shares->stat("/files/big.bin", all)), "too_large");
  EXPECT_EQ(code_of(shares->stat("/files/missing", all)), "not_found");
}

// --- list ------------------------------------------------------------------

std::vector<std::string> names(const Listing& l) {
  std::vector<std::string> out;
  for (const auto& e : l.entries) out.push_back(e.name);
  return out;
}

TEST_F(ShareTree, ListingAShareShowsOnlyWhatCanBeServed) {
  auto l = shares->list("/files", all);
  ASSERT_TRUE(l.ok()) << l.error().message;
  EXPECT_FALSE(l->truncated);
  // Hidden: .git, build (excluded), big.bin and link_to_big (too large),
  // every link out, dangling and looping links, link_to_excluded, fifo,
  // sock, null_device, link_fifo, link_below_file.
  std::vector<std::string> want = {
      "a.txt",          "empty",        "exact.bin",        "keys",
      "link_abs_in",    "link_dir",     "link_dir_trailing_slash", "link_dotdot_inside",
      "link_dots_and_slashes", "link_file", "link_self_dir", "sub"};
  std::sort(want.begin(), want.end());
  EXPECT_EQ(names(*l), want);
}

TEST_F(ShareTree, ListingReportsLinksAsWhatTheyResolveTo) {
  auto l = shares->list("/files", all);
  ASSERT_TRUE(l.ok());
  for (const auto& e : l->entries) {
    if (e.name == "link_dir" || e.name == "link_self_dir") {
      EXPECT_EQ(e.type, EntryType::directory);
    }
    if (e.name == "link_file") {
      EXPECT_EQ(e.type, EntryType::file);
      EXPECT_EQ(e.size, 2u);
    }
  }
}

TEST_F(ShareTree, ListingASubdirectoryFiltersByTheFullPath) {
  auto l = shares->list("/files/keys", all);
  ASSERT_TRUE(l.ok());
  EXPECT_EQ(names(*l), std::vector<std::string>{"readme.txt"});
  auto sub = shares->list("/files/link_dir", all);
  ASSERT_TRUE(sub.ok());
  EXPECT_EQ(names(*sub), (std::vector<std::string>{"b.txt", "deep", "link_chain", "link_up"}));
}

TEST_F(ShareTree, ListingWithLinksOffHidesEveryLink) {
  auto l = shares->list("/strict", all);
  ASSERT_TRUE(l.ok());
  for (const auto& n : names(*l)) EXPECT_EQ(n.rfind("link", 0), std::string::npos) << n;
  // No excludes or size limit on this share.
  auto has = [&](const std::string& n) {
    auto v = names(*l);
    return std::find(v.begin(), v.end(), n) != v.end();
  };
  EXPECT_TRUE(has(".git"));
  EXPECT_TRUE(has("big.bin"));
  EXPECT_FALSE(has("fifo"));
  EXPECT_FALSE(has("sock"));
  EXPECT_FALSE(has("null_device"));
}

TEST_F(ShareTree, ListingWithIncludesShowsDirectoriesAndIncludedFilesOnly) {
  auto l = shares->list("/picky", all);
  ASSERT_TRUE(l.ok());
  auto v = names(*l);
  EXPECT_NE(std::find(v.begin(), v.end(), "a.txt"), v.end());
  EXPECT_NE(std::find(v.begin(), v.end(), "sub"), v.end());
  EXPECT_EQ(std::find(v.begin(), v.end(), "big.bin"), v.end());
  EXPECT_EQ(std::find(v.begin(), v.end(), "exact.bin"), v.end());
  auto deep = shares->list("/picky/sub/deep", all);
  ASSERT_TRUE(deep.ok());
  EXPECT_EQ(names(*deep), std::vector<std::string>{"c.txt"});
}

TEST_F(ShareTree, ListingTheRootShowsTheShares) {
  auto l = shares->list("/", all);
  ASSERT_TRUE(l.ok());
  EXPECT_EQ(names(*l), (std::vector<std::string>{"files", "picky", "strict"}));
  for (const auto& e : l->entries) EXPECT_EQ(e.type, EntryType::directory);
}

TEST_F(ShareTree, ListingRefusesFilesAndWhatGetRefuses) {
  EXPECT_EQ(code_of(shares->list("/files/a.txt", all)), "not_a_directory");
  EXPECT_EQ(code_of(shares->list("/files/link_out_dir", all)), "not_allowed");
  EXPECT_EQ(code_of(shares->list("/files/link_parent", all)), "not_allowed");
  EXPECT_EQ(code_of(shares->list("/files/.git", all)), "not_allowed");
  EXPECT_EQ(code_of(shares->list("/files/build", all)), "not_allowed");
  EXPECT_EQ(code_of(shares->list("/files/../outside", all)), "bad_path");
  EXPECT_EQ(code_of(shares->list("/nope", all)), "not_found");
  EXPECT_EQ(code_of(shares->list("/files/nodir", all)), "not_found");
}

TEST_F(ShareTree, ListingAnEmptyDirectoryIsEmpty) {
  auto l = shares->list("/files/empty", all);
  ASSERT_TRUE(l.ok());
  EXPECT_TRUE(l->entries.empty());
  EXPECT_FALSE(l->truncated);
}

TEST_F(ShareTree, ListingStopsAtTheCapAndSaysSo) {
  for (int i = 0; i < 50; ++i) tmp.write("files/many/f" + std::to_string(i), "x");
  auto l = shares->list("/files/many", all, 10);
  ASSERT_TRUE(l.ok());
  EXPECT_EQ(l->entries.size(), 10u);
  EXPECT_TRUE(l->truncated);
  EXPECT_TRUE(std::is_sorted(l->entries.begin(), l->entries.end(),
                             [](const auto& a, const auto& b) { return a.name < b.name; }));
  auto all_of_them = shares->list("/files/many", all, 50);
  ASSERT_TRUE(all_of_them.ok());
  EXPECT_EQ(all_of_them->entries.size(), 50u);
  EXPECT_FALSE(all_of_them->truncated);
}

// --- scopes ----------------------------------------------------------------

TEST_F(ShareTree, AScopedRequesterGetsOnlyWhatIsInScope) {
  auto scope = scope_of({"/files/sub"});
  EXPECT_TRUE(shares->open_file("/files/sub/b.txt", scope).ok());
  EXPECT_TRUE(shares->open_file("/files/sub/deep/c.txt", scope).ok());
  EXPECT_EQ(code_of(shares->open_file("/files/a.txt", scope)), "not_allowed");
  EXPECT_EQ(code_of(shares->open_file("/strict/sub/b.txt", scope)), "not_allowed");
}

TEST_F(ShareTree, AScopedRequesterCannotLeaveItsScopeThroughALink) {
  auto scope = scope_of({"/files/sub"});
  // sub/link_up -> ../a.txt: in the share, out of the scope.
  EXPECT_EQ(code_of(shares->open_file("/files/sub/link_up", scope)), "not_allowed");
  // link_dir -> sub: the path as asked is out of scope.
  EXPECT_EQ(code_of(shares->open_file("/files/link_dir/b.txt", scope)), "not_allowed");
  // sub/link_chain -> ../link_dir/deep/c.txt leaves the scope on the way.
  EXPECT_EQ(code_of(shares->open_file("/files/sub/link_chain", scope)), "not_allowed");
}

TEST_F(ShareTree, AScopedRequesterLearnsNothingAboutWhatIsOutOfScope) {
  auto scope = scope_of({"/files/sub"});
  auto exists = shares->open_file("/files/a.txt", scope);
  auto missing = shares->open_file("/files/missing.txt", scope);
  auto no_share = shares->open_file("/nope/a.txt", scope);
  auto other_share = shares->open_file("/picky/a.txt", scope);
  for (auto* r : {&exists, &missing, &no_share, &other_share}) {
    ASSERT_FALSE(r->ok());
    EXPECT_EQ(r->error().code, "not_allowed");
    EXPECT_EQ(r->error().message, exists.error().message);
  }
}

TEST_F(ShareTree, AScopedRequesterSeesOnlyThePathIntoItsScope) {
  auto scope = scope_of({"/files/sub/deep"});
  auto root = shares->list("/", scope);
  ASSERT_TRUE(root.ok());
  EXPECT_EQ(names(*root), std::vector<std::string>{"files"});
  auto top = shares->list("/files", scope);
  ASSERT_TRUE(top.ok());
  EXPECT_EQ(names(*top), std::vector<std::string>{"sub"});
  auto sub = shares->list("/files/sub", scope);
  ASSERT_TRUE(sub.ok());
  EXPECT_EQ(names(*sub), std::vector<std::string>{"deep"});
  auto deep = shares->list("/files/sub/deep", scope);
  ASSERT_TRUE(deep.ok());
  EXPECT_EQ(names(*deep), std::vector<std::string>{"c.txt"});
  EXPECT_TRUE(shares->stat("/files/sub", scope).ok());
  EXPECT_EQ(code_of(shares->list("/files/keys", scope)), "not_allowed");
  EXPECT_EQ(code_of(shares->list("/picky", scope)), "not_allowed");
}

TEST_F(ShareTree, AScopeOnAFileAllowsThatFileOnly) {
  auto scope = scope_of({"/files/sub/b.txt"});
  EXPECT_TRUE(shares->open_file("/files/sub/b.txt", scope).ok());
  EXPECT_EQ(code_of(shares->open_file("/files/sub/deep/c.txt", scope)), "not_allowed");
  auto sub = shares->list("/files/sub", scope);
  ASSERT_TRUE(sub.ok());
  EXPECT_EQ(names(*sub), std::vector<std::string>{"b.txt"});
}

// --- resources and threads ---------------------------------------------------

size_t open_fds() {
  size_t n = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator("/proc/self/fd")) ++n;
  return n;
}

TEST_F(ShareTree, ResolvingLeaksNoDescriptorsOnSuccessOrRefusal) {
  const char* paths[] = {"/files/a.txt",     "/files/sub/link_chain", "/files/link_out",
                         "/files/loop_a",    "/files/fifo",           "/files/.git/config",
                         "/files/missing",   "/files/link_abs_in",    "/files/link_dir/deep/c.txt",
                         "/files/../x",      "/files/big.bin",        "/strict/link_dir/b.txt"};
  size_t before = open_fds();
  for (int i = 0; i < 50; ++i) {
    for (const char* p : paths) {
      (void)shares->open_file(p, all);
      (void)shares->stat(p, all);
      (void)shares->list(p, all);
    }
    (void)shares->list("/files", all);
    (void)shares->list("/", all);
  }
  EXPECT_EQ(open_fds(), before);
}

TEST_F(ShareTree, ManyThreadsCanResolveAtOnce) {
  std::vector<std::thread> threads;
  std::atomic<int> wrong{0};
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&] {
      for (int i = 0; i < 200; ++i) {
        auto ok = shares->open_file("/files/sub/link_chain", all);
        if (!ok || read_all(ok->fd.get()) != "CCC") ++wrong;
        if (shares->open_file("/files/link_out", all).ok()) ++wrong;
      }
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(wrong.load(), 0);
}

// --- configuration -----------------------------------------------------------

// --- hard links --------------------------------------------------------------

// A share holding a hard link to a file outside it: the same inode, so the
// outside content under an inside name.
class ShareHardLinks : public ::testing::Test {
 protected:
  void SetUp() override {
    tmp.write("outside/secret.txt", "SECRET");
    root = tmp.mkdir("share");
    tmp.write("share/plain.txt", "plain");
    ASSERT_EQ(::link((tmp / "outside/secret.txt").c_str(), (tmp / "share/secret.txt").c_str()), 0);
    tmp.symlink("secret.txt", "share/to_secret");
  }
  Shares make(bool allow_hard_links) {
    ShareConfig c = share("s", root);
    c.allow_hard_links = allow_hard_links;
    auto s = Shares::create({c});
    if (!s) std::abort();
    return std::move(*s);
  }
  TempDir tmp;
  std::string root;
  PathScope all = PathScope::everything();
};

TEST_F(ShareHardLinks, AHardLinkToAFileOutsideTheShareIsRefusedAndHiddenByDefault) {
  Shares s = make(false);
  for (const char* path : {"/s/secret.txt", "/s/to_secret"}) {
    auto f = s.open_file(path, all);
    EXPECT_EQ(code_of(f), "not_allowed") << path;
    EXPECT_EQ(code_of(s.stat(path, all)), "not_allowed") << path;
  }
  auto l = s.list("/s", all);
  ASSERT_TRUE(l.ok()) << l.error().message;
  EXPECT_EQ(names(*l), std::vector<std::string>{"plain.txt"});
  auto plain = s.open_file("/s/plain.txt", all);
  ASSERT_TRUE(plain.ok()) << plain.error().message;
  EXPECT_EQ(read_all(plain->fd.get()), "plain");
}

TEST_F(ShareHardLinks, AShareThatAllowsHardLinksServesAndListsThem) {
  Shares s = make(true);
  auto f = s.open_file("/s/secret.txt", all);
  ASSERT_TRUE(f.ok()) << f.error().message;
  EXPECT_EQ(read_all(f->fd.get()), "SECRET");
  auto l = s.list("/s", all);
  ASSERT_TRUE(l.ok()) << l.error().message;
  EXPECT_EQ(names(*l), (std::vector<std::string>{"plain.txt", "secret.txt", "to_secret"}));
}

TEST_F(ShareHardLinks, AFileWhoseOtherLinkIsGoneIsServedAgain) {
  Shares s = make(false);
  ASSERT_EQ(::unlink((tmp / "outside/secret.txt").c_str()), 0);
  auto f = s.open_file("/s/secret.txt", all);
  ASSERT_TRUE(f.ok()) << f.error().message;
  EXPECT_EQ(read_all(f->fd.get()), "SECRET");
}

// --- a file system that folds case -----------------------------------------

// Runs `cmd` with sh, its output discarded; its exit status.
int sh(const std::string& cmd) { return std::system((cmd + " >/dev/null 2>&1").c_str()); }

// The first line `cmd` prints, "" when it fails.
std::string first_line_of(const std::string& cmd) {
  std::unique_ptr<FILE, int (*)(FILE*)> p(::popen((cmd + " 2>/dev/null").c_str(), "r"), &::pclose);
  char buf[256] = {};
  if (!p || !std::fgets(buf, sizeof buf, p.get())) return "";
  std::string out = buf;
  if (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

// A real case-insensitive, case-preserving file system: an exFAT image of
// its own on a loop device, mounted with exfat-fuse (kernels often have no
// vfat, exfat or ext4 casefold built in; FUSE they have). Removed when the
// test ends. Skipped, saying why, where it cannot be had.
//
//   keys/id.key  keys/readme.txt  private/notes.txt  Public/a.txt
//   NOTES.TXT  report.txt
// Shares over it: "s" excludes *.key and private/; "inc" includes *.txt.
class SharePolicyCaseInsensitiveFs : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root to attach a loop device and mount";
    for (const char* tool : {"mkfs.exfat", "mount.exfat-fuse", "losetup"}) {
      if (sh("command -v "s + tool) != 0)
        GTEST_SKIP() << tool << " is not installed (apt-get install exfatprogs exfat-fuse)";
    }
    if (::access("/dev/fuse", R_OK | W_OK) != 0) GTEST_SKIP() << "no /dev/fuse";
    std::string image = tmp / "exfat.img";
    mnt = tmp.mkdir("mnt");
    ASSERT_EQ(sh("truncate -s 8M " + image + " && mkfs.exfat " + image), 0);
    loop = first_line_of("losetup -f --show " + image);
    if (loop.empty()) GTEST_SKIP() << "no free loop device (losetup -f failed)";
    if (sh("mount.exfat-fuse " + loop + " " + mnt) != 0) GTEST_SKIP() << "mount.exfat-fuse failed";
    mounted = true;
    tmp.write("mnt/keys/id.key", "KEY");
    tmp.write("mnt/keys/readme.txt", "about keys");
    tmp.write("mnt/private/notes.txt", "PRIVATE");
    tmp.write("mnt/Public/a.txt", "public");
    tmp.write("mnt/NOTES.TXT", "UPPER");
    tmp.write("mnt/report.txt", "report");
    // The premise: this file system opens other spellings.
    ASSERT_EQ(::access((mnt + "/KEYS/ID.KEY").c_str(), R_OK), 0) << "the file system is case-sensitive";
    auto s = Shares::create({share("s", mnt, {}, {"*.key", "private/"}), share("inc", mnt, {"*.txt"})});
    ASSERT_TRUE(s.ok()) << s.error().message;
    shares.emplace(std::move(*s));
  }
  void TearDown() override {
    shares.reset();
    if (mounted && sh("umount " + mnt) != 0) sh("umount -l " + mnt);
    if (!loop.empty()) sh("losetup -d " + loop);
  }

  // The content `path` is served with, or the refusal's code.
  std::string get(const std::string& path, const PathScope& scope) {
    auto f = shares->open_file(path, scope);
    return f ? "served " + read_all(f->fd.get()) : f.error().code;
  }

  TempDir tmp;
  std::string mnt, loop;
  bool mounted = false;
  std::optional<Shares> shares;
  PathScope all = PathScope::everything();
};

TEST_F(SharePolicyCaseInsensitiveFs, AnExcludedFileCannotBeReachedByAnotherSpelling) {
  for (const char* path : {"/s/keys/ID.KEY", "/s/keys/Id.Key", "/s/KEYS/id.KEY", "/s/Private/notes.txt",
                           "/s/PRIVATE/NOTES.txt"}) {
    EXPECT_EQ(get(path, all), "not_found") << path;
    EXPECT_EQ(code_of(shares->stat(path, all)), "not_found") << path;
  }
  EXPECT_EQ(get("/s/keys/id.key", all), "not_allowed");
  EXPECT_EQ(get("/s/keys/readme.txt", all), "served about keys");
  EXPECT_EQ(code_of(shares->list("/s/Keys", all)), "not_found");
  auto l = shares->list("/s/keys", all);
  ASSERT_TRUE(l.ok()) << l.error().message;
  EXPECT_EQ(names(*l), std::vector<std::string>{"readme.txt"});
}

TEST_F(SharePolicyCaseInsensitiveFs, AFileOutsideTheIncludesCannotBeReachedByAnotherSpelling) {
  EXPECT_EQ(get("/inc/notes.txt", all), "not_found");  // NOTES.TXT on disk.
  EXPECT_EQ(get("/inc/NOTES.TXT", all), "not_allowed");
  EXPECT_EQ(get("/inc/report.txt", all), "served report");
  EXPECT_EQ(get("/inc/REPORT.txt", all), "not_found");
  auto l = shares->list("/inc", all);
  ASSERT_TRUE(l.ok()) << l.error().message;
  EXPECT_EQ(names(*l), (std::vector<std::string>{"Public", "keys", "private", "report.txt"}));
}

TEST_F(SharePolicyCaseInsensitiveFs, AScopeCoversOnlyTheNamesOnDisk) {
  // The admin wrote "public"; on disk it is "Public", which the listing
  // shows as out of scope, so no spelling reaches it.
  PathScope lower = scope_of({"/s/public"});
  EXPECT_EQ(get("/s/public/a.txt", lower), "not_found");
  EXPECT_EQ(get("/s/Public/a.txt", lower), "not_allowed");
  auto l = shares->list("/s", lower);
  ASSERT_TRUE(l.ok()) << l.error().message;
  EXPECT_TRUE(l->entries.empty());
  PathScope exact = scope_of({"/s/Public"});
  EXPECT_EQ(get("/s/Public/a.txt", exact), "served public");
  EXPECT_EQ(get("/s/PUBLIC/a.txt", exact), "not_allowed");
}

struct BadShare {
  const char* name;
  ShareConfig config;
};
void PrintTo(const BadShare& v, std::ostream* os) { *os << v.name; }

class SharesCreateRefuses : public ::testing::TestWithParam<BadShare> {};

TEST_P(SharesCreateRefuses, WithBadConfig) {
  auto s = Shares::create({GetParam().config});
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, "bad_config");
}

INSTANTIATE_TEST_SUITE_P(
    Table, SharesCreateRefuses,
    ::testing::Values(BadShare{"EmptyName", share("", "/srv")},
                      BadShare{"DotName", share(".", "/srv")},
                      BadShare{"DotDotName", share("..", "/srv")},
                      BadShare{"HiddenName", share(".x", "/srv")},
                      BadShare{"SlashInName", share("a/b", "/srv")},
                      BadShare{"RelativeRoot", share("a", "srv")},
                      BadShare{"EmptyRoot", share("a", "")},
                      BadShare{"NulInRoot", share("a", "/srv\0/x"s)},
                      BadShare{"BadInclude", share("a", "/srv", {"a//b"})},
                      BadShare{"BadExclude", share("a", "/srv", {}, {"../x"})}),
    [](const auto& info) { return std::string(info.param.name); });

TEST(SharesCreate, RefusesTheSameNameTwice) {
  auto s = Shares::create({share("a", "/srv/1"), share("a", "/srv/2")});
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, "bad_config");
}

TEST(SharesCreate, SortsTheNames) {
  auto s = Shares::create({share("b", "/srv/1"), share("a", "/srv/2")});
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->names(), (std::vector<std::string>{"a", "b"}));
}

TEST(SharesCreate, CheckRootsNamesTheShareWhoseRootIsNotADirectory) {
  TempDir tmp;
  tmp.write("file", "x");
  auto s = Shares::create({share("ok", tmp.path()), share("bad", tmp / "file")});
  ASSERT_TRUE(s.ok());
  auto r = s->check_roots();
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("'bad'"), std::string::npos);
}

TEST(SharesCreate, AShareRootedAtTheFileSystemRootStillRefusesDevices) {
  // The only share whose absolute links all stay inside it.
  auto s = Shares::create({share("root", "/")});
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(code_of(s->open_file("/root/dev/null", PathScope::everything())), "not_allowed");
}

TEST(ProtocolErrorCode, MapsEveryPolicyCode) {
  EXPECT_EQ(protocol_error_code("not_found"), "not_found");
  EXPECT_EQ(protocol_error_code("not_allowed"), "not_allowed");
  EXPECT_EQ(protocol_error_code("too_large"), "not_allowed");
  EXPECT_EQ(protocol_error_code("bad_path"), "bad_request");
  EXPECT_EQ(protocol_error_code("not_a_file"), "bad_request");
  EXPECT_EQ(protocol_error_code("not_a_directory"), "bad_request");
  EXPECT_EQ(protocol_error_code("io_error"), "internal");
  EXPECT_EQ(protocol_error_code("changed"), "internal");
}

}  // namespace
}  // namespace sealrelay::agent
