// The Windows share policy (agent/share_policy_windows.cpp), run under wine
// in the Windows build (label cross): the same guarantees as on POSIX, and
// Windows' own traps (streams, devices, trailing dots and spaces,
// separators, spellings, reparse points, files in use).
#include "agent/change_detect.h"
#include "agent/file_read.h"
#include "agent/share_policy.h"

#include "test_support.h"

#include <gtest/gtest.h>
#include <windows.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace sealrelay::agent {
namespace {

using testing::TempDir;

template <class T>
std::string code_of(const Result<T>& r) {
  return r.ok() ? "ok" : r.error().code;
}

std::string read_all(int fd) {
  std::string out;
  std::vector<uint8_t> buf(4096);
  for (uint64_t at = 0;;) {
    auto n = read_at(fd, at, buf);
    if (!n || *n == 0) return out;
    out.append(reinterpret_cast<const char*>(buf.data()), *n);
    at += *n;
  }
}

// A share "s" over a tree with a file in its root, one in a folder, and a
// key the share excludes as "*.KEY" (in another case than on disk).
struct Tree {
  TempDir dir;
  std::string root = dir / "share";
  Shares shares = make();

  Shares make() {
    dir.write("share/a.txt", "alpha");
    dir.write("share/dir/b.txt", "beta");
    dir.write("share/secret.key", "key");
    dir.write("outside.txt", "outside");
    ShareConfig c;
    c.name = "s";
    c.root = root;
    c.exclude = {"*.KEY"};
    auto s = Shares::create({c});
    if (!s) std::abort();
    return std::move(*s);
  }
  Result<OpenedFile> get(const std::string& path) const { return shares.open_file(path, PathScope::everything()); }
};

TEST(WindowsSharePolicy, FilesInTheShareAreServedWithTheirContent) {
  Tree t;
  auto a = t.get("/s/a.txt");
  ASSERT_TRUE(a.ok()) << a.error().message;
  EXPECT_EQ(read_all(a->fd.get()), "alpha");
  EXPECT_EQ(a->info.size, 5u);
  auto b = t.get("/s/dir/b.txt");
  ASSERT_TRUE(b.ok()) << b.error().message;
  EXPECT_EQ(read_all(b->fd.get()), "beta");
}

struct Refusal {
  const char* path;
  const char* code;
};

class WindowsTraps : public ::testing::TestWithParam<Refusal> {};

TEST_P(WindowsTraps, AreRefused) {
  Tree t;
  EXPECT_EQ(code_of(t.get(GetParam().path)), GetParam().code) << GetParam().path;
  EXPECT_EQ(code_of(t.shares.stat(GetParam().path, PathScope::everything())), GetParam().code) << GetParam().path;
}

INSTANTIATE_TEST_SUITE_P(
    Table, WindowsTraps,
    ::testing::Values(
        // Alternate data streams and drives.
        Refusal{"/s/a.txt:secret", "not_allowed"}, Refusal{"/s/a.txt::$DATA", "not_allowed"},
        Refusal{"/s/C:", "not_allowed"},
        // Devices, with or without an extension, in any case.
        Refusal{"/s/NUL", "not_allowed"}, Refusal{"/s/con.txt", "not_allowed"}, Refusal{"/s/dir/COM1", "not_allowed"},
        Refusal{"/s/lpt1.log", "not_allowed"}, Refusal{"/s/Aux", "not_allowed"},
        // Trailing dots and spaces ("a.txt." would open a.txt).
        Refusal{"/s/a.txt.", "not_allowed"}, Refusal{"/s/a.txt ", "not_allowed"},
        Refusal{"/s/secret.key.", "not_allowed"},
        // Other separators, UNC and drive-relative forms.
        Refusal{"/s/dir\\..\\..\\outside.txt", "not_allowed"}, Refusal{"/s/..\\outside.txt", "not_allowed"},
        Refusal{"/s/\\\\server\\share", "not_allowed"}, Refusal{"/s/C:outside.txt", "not_allowed"},
        // Traversal in the requester's syntax.
        Refusal{"/s/../outside.txt", "bad_path"}, Refusal{"/s/dir/../../outside.txt", "bad_path"},
        Refusal{"/s/./a.txt", "bad_path"},
        // Excludes ignore case; another spelling of a name is not that name.
        Refusal{"/s/secret.key", "not_allowed"}, Refusal{"/s/SECRET.KEY", "not_allowed"},
        Refusal{"/s/A.TXT", "not_found"}, Refusal{"/s/DIR/b.txt", "not_found"},
        Refusal{"/s/nothing.txt", "not_found"}, Refusal{"/s/a.txt/more", "not_found"}, Refusal{"/t/a.txt", "not_found"}),
    [](const auto& info) { return "Case" + std::to_string(info.index); });

TEST(WindowsSharePolicy, AListingShowsServableEntriesOnly) {
  Tree t;
  auto l = t.shares.list("/s", PathScope::everything());
  ASSERT_TRUE(l.ok()) << l.error().message;
  std::vector<std::string> names;
  for (const auto& e : l->entries) names.push_back(e.name);
  EXPECT_EQ(names, (std::vector<std::string>{"a.txt", "dir"}));
  auto root = t.shares.list("/", PathScope::everything());
  ASSERT_TRUE(root.ok());
  ASSERT_EQ(root->entries.size(), 1u);
  EXPECT_EQ(root->entries[0].name, "s");
  EXPECT_EQ(code_of(t.shares.list("/s/a.txt", PathScope::everything())), "not_a_directory");
}

TEST(WindowsSharePolicy, ScopesHoldOnWindowsToo) {
  Tree t;
  std::vector<std::string> paths{"/s/dir"};
  auto scope = PathScope::of(paths);
  ASSERT_TRUE(scope.ok());
  EXPECT_EQ(code_of(t.shares.open_file("/s/dir/b.txt", *scope)), "ok");
  EXPECT_EQ(code_of(t.shares.open_file("/s/a.txt", *scope)), "not_allowed");
  std::vector<std::string> other_case{"/s/DIR"};  // Names ignore case on Windows; the spelling on disk is served.
  EXPECT_EQ(code_of(t.shares.open_file("/s/dir/b.txt", *PathScope::of(other_case))), "ok");
}

TEST(WindowsSharePolicy, RootsMustBeLocalAbsoluteFolders) {
  for (const char* root : {"share", "C:share", "\\\\server\\share", "\\share"}) {
    ShareConfig c;
    c.name = "s";
    c.root = root;
    EXPECT_EQ(code_of(Shares::create({c})), "bad_config") << root;
  }
}

TEST(WindowsSharePolicy, AFileWithAnotherHardLinkIsRefusedUnlessTheShareAllowsIt) {
  Tree t;
  std::wstring from = std::filesystem::path(t.dir / "share/linked.txt").wstring();
  std::wstring to = std::filesystem::path(t.dir / "outside.txt").wstring();
  if (!::CreateHardLinkW(from.c_str(), to.c_str(), nullptr)) GTEST_SKIP() << "no hard links here";
  EXPECT_EQ(code_of(t.get("/s/linked.txt")), "not_allowed");
  ShareConfig c;
  c.name = "s";
  c.root = t.root;
  c.allow_hard_links = true;
  auto allowing = Shares::create({c});
  EXPECT_EQ(code_of(allowing->open_file("/s/linked.txt", PathScope::everything())), "ok");
}

TEST(WindowsSharePolicy, ASymbolicLinkOutOfTheShareIsNotFollowed) {
  Tree t;
  std::error_code ec;
  std::filesystem::create_symlink(t.dir / "outside.txt", t.dir / "share/link.txt", ec);
  if (ec) GTEST_SKIP() << "cannot create a symbolic link here: " << ec.message();
  auto r = t.get("/s/link.txt");
  EXPECT_FALSE(r.ok());
  if (r.ok()) {
    EXPECT_NE(read_all(r->fd.get()), "outside");
  }
}

TEST(WindowsSharePolicy, AFileOtherProgramsHaveOpenForWritingIsServed) {
  Tree t;
  std::wstring path = std::filesystem::path(t.dir / "share/a.txt").wstring();
  HANDLE writer = ::CreateFileW(path.c_str(), GENERIC_READ | GENERIC_WRITE, FILE_SHARE_READ | FILE_SHARE_WRITE,
                                nullptr, OPEN_EXISTING, 0, nullptr);
  ASSERT_NE(writer, INVALID_HANDLE_VALUE);
  EXPECT_EQ(code_of(t.get("/s/a.txt")), "ok");
  ::CloseHandle(writer);
}

TEST(WindowsSharePolicy, AFileLockedByItsProgramIsRefusedAsNotAllowed) {
  Tree t;
  std::wstring path = std::filesystem::path(t.dir / "share/a.txt").wstring();
  HANDLE exclusive = ::CreateFileW(path.c_str(), GENERIC_READ | GENERIC_WRITE, 0, nullptr, OPEN_EXISTING, 0, nullptr);
  ASSERT_NE(exclusive, INVALID_HANDLE_VALUE);
  auto r = t.get("/s/a.txt");
  EXPECT_EQ(code_of(r), "not_allowed");
  if (!r.ok()) {
    EXPECT_NE(r.error().message.find("locked"), std::string::npos) << r.error().message;
  }
  ::CloseHandle(exclusive);
}

TEST(WindowsFileWatch, AFileWrittenWhileBeingSentIsAChange) {
  Tree t;
  auto f = t.get("/s/a.txt");
  ASSERT_TRUE(f.ok());
  auto w = FileWatch::start(f->fd.get(), f->dir.get(), f->name);
  ASSERT_TRUE(w.ok()) << w.error().message;
  EXPECT_TRUE(w->still_same(f->fd.get()).ok());
  std::ofstream(t.dir / "share/a.txt", std::ios::app) << "more";
  auto r = w->still_same(f->fd.get());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, "changed");
}

TEST(WindowsFileWatch, AFileRenamedAwayWhileBeingSentIsAChange) {
  Tree t;
  auto f = t.get("/s/dir/b.txt");
  ASSERT_TRUE(f.ok());
  auto w = FileWatch::start(f->fd.get(), f->dir.get(), f->name);
  ASSERT_TRUE(w.ok()) << w.error().message;
  std::error_code ec;
  std::filesystem::rename(t.dir / "share/dir/b.txt", t.dir / "share/dir/c.txt", ec);
  ASSERT_FALSE(ec) << ec.message();

  auto r = w->still_same(f->fd.get());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, "changed");
}

}  // namespace
}  // namespace sealrelay::agent
