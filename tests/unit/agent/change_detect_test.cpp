#include "agent/change_detect.h"

#include "test_support.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <functional>
#include <ostream>
#include <string>

namespace sealrelay::agent {
namespace {

using testing::TempDir;

// A file opened the way the agent opens one to serve it, with its
// timestamps set far in the past so that any write afterwards changes mtime
// even on a file system with coarse timestamps.
struct Served {
  TempDir dir;
  std::string path;
  UniqueFd fd;
  UniqueFd dir_fd;

  explicit Served(const std::string& content = std::string(10000, 'x')) {
    path = dir.write("served.bin", content);
    struct timespec old[2] = {{1'000'000'000, 0}, {1'000'000'000, 0}};
    if (::utimensat(AT_FDCWD, path.c_str(), old, 0) != 0) std::abort();
    fd.reset(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    dir_fd.reset(::open(dir.path().c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (!fd || !dir_fd) std::abort();
  }

  FileWatch watch() {
    auto w = FileWatch::start(fd.get(), dir_fd.get(), "served.bin");
    if (!w) std::abort();
    return std::move(*w);
  }
};

void write_at(const std::string& path, const std::string& data, off_t offset, int flags = 0) {
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CLOEXEC | flags));
  ASSERT_TRUE(fd);
  ASSERT_EQ(::pwrite(fd.get(), data.data(), data.size(), offset), static_cast<ssize_t>(data.size()));
}

struct Change {
  const char* name;
  std::function<void(Served&)> apply;
};
void PrintTo(const Change& v, std::ostream* os) { *os << v.name; }

class FileWatchChanges : public ::testing::TestWithParam<Change> {};

TEST_P(FileWatchChanges, IsDetectedBeforeTheTrailer) {
  Served s;
  FileWatch w = s.watch();
  ASSERT_TRUE(w.still_same(s.fd.get()).ok());
  GetParam().apply(s);
  auto r = w.still_same(s.fd.get());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, "changed") << r.error().message;
}

INSTANTIATE_TEST_SUITE_P(
    Table, FileWatchChanges,
    ::testing::Values(
        Change{"OverwrittenInPlaceWithTheSameSize",
               [](Served& s) { write_at(s.path, "yyyy", 100); }},
        Change{"OneByteRewrittenWithTheSameValue",
               [](Served& s) { write_at(s.path, "x", 0); }},
        Change{"Truncated", [](Served& s) { ASSERT_EQ(::truncate(s.path.c_str(), 5000), 0); }},
        Change{"TruncatedToZero", [](Served& s) { ASSERT_EQ(::truncate(s.path.c_str(), 0), 0); }},
        Change{"ExtendedBySparseTruncate",
               [](Served& s) { ASSERT_EQ(::truncate(s.path.c_str(), 20000), 0); }},
        Change{"Appended", [](Served& s) { write_at(s.path, "more", 0, O_APPEND); }},
        Change{"ReplacedByRenameOver",
               [](Served& s) {
                 std::string tmp = s.dir.write("new.bin", std::string(10000, 'x'));
                 ASSERT_EQ(std::rename(tmp.c_str(), s.path.c_str()), 0);
               }},
        Change{"ReplacedByAnIdenticalCopyWithTheSameTimestamps",
               [](Served& s) {
                 std::string tmp = s.dir.write("new.bin", std::string(10000, 'x'));
                 struct timespec old[2] = {{1'000'000'000, 0}, {1'000'000'000, 0}};
                 ASSERT_EQ(::utimensat(AT_FDCWD, tmp.c_str(), old, 0), 0);
                 ASSERT_EQ(std::rename(tmp.c_str(), s.path.c_str()), 0);
               }},
        Change{"Deleted", [](Served& s) { ASSERT_EQ(::unlink(s.path.c_str()), 0); }},
        Change{"RenamedAway",
               [](Served& s) {
                 ASSERT_EQ(std::rename(s.path.c_str(), (s.dir / "moved.bin").c_str()), 0);
               }},
        Change{"MtimeSetBack",
               [](Served& s) {
                 struct timespec t[2] = {{2'000'000'000, 0}, {2'000'000'000, 0}};
                 ASSERT_EQ(::utimensat(AT_FDCWD, s.path.c_str(), t, 0), 0);
               }},
        Change{"PermissionsChanged",
               [](Served& s) { ASSERT_EQ(::chmod(s.path.c_str(), 0400), 0); }}),
    [](const auto& info) { return std::string(info.param.name); });

TEST(FileWatch, AnUnchangedFilePasses) {
  Served s;
  FileWatch w = s.watch();
  char buf[4096];
  while (::read(s.fd.get(), buf, sizeof buf) > 0) {
  }
  EXPECT_TRUE(w.still_same(s.fd.get()).ok());
  EXPECT_TRUE(w.still_same(s.fd.get()).ok());
}

TEST(FileWatch, ReadingTheFileOrTouchingItsAccessTimeIsNotAChange) {
  Served s;
  FileWatch w = s.watch();
  struct timespec t[2] = {{1'500'000'000, 0}, {0, UTIME_OMIT}};  // atime only
  ASSERT_EQ(::utimensat(AT_FDCWD, s.path.c_str(), t, 0), 0);
  // Changing atime alone still changes ctime, so this is a change...
  EXPECT_FALSE(w.still_same(s.fd.get()).ok());
  // ...but a plain read does not touch ctime.
  Served s2;
  FileWatch w2 = s2.watch();
  char buf[100];
  ASSERT_GT(::pread(s2.fd.get(), buf, sizeof buf, 0), 0);
  EXPECT_TRUE(w2.still_same(s2.fd.get()).ok());
}

TEST(FileWatch, AnotherFileInTheSameDirectoryChangingIsNotAChange) {
  Served s;
  FileWatch w = s.watch();
  s.dir.write("other.bin", "other");
  EXPECT_TRUE(w.still_same(s.fd.get()).ok());
}

TEST(FileWatch, WithoutADirectoryARenameOverIsStillSeenOnTheUnlinkedOldFile) {
  Served s;
  auto w = FileWatch::start(s.fd.get());
  ASSERT_TRUE(w.ok());
  std::string tmp = s.dir.write("new.bin", "replacement");
  ASSERT_EQ(std::rename(tmp.c_str(), s.path.c_str()), 0);
  auto r = w->still_same(s.fd.get());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, "changed");
}

TEST(FileWatch, WithoutADirectoryAWriteThroughAnotherDescriptorIsSeen) {
  Served s;
  auto w = FileWatch::start(s.fd.get());
  ASSERT_TRUE(w.ok());
  write_at("/proc/self/fd/" + std::to_string(s.fd.get()), "z", 0);
  EXPECT_FALSE(w->still_same(s.fd.get()).ok());
}

TEST(FileWatch, SnapshotRecordsIdentityAndVersion) {
  Served s("hello");
  FileWatch w = s.watch();
  struct stat st;
  ASSERT_EQ(::stat(s.path.c_str(), &st), 0);
  EXPECT_EQ(w.snapshot().ino, st.st_ino);
  EXPECT_EQ(w.snapshot().dev, st.st_dev);
  EXPECT_EQ(w.snapshot().size, 5);
  EXPECT_EQ(w.snapshot().mtime_ns, 1'000'000'000LL * 1'000'000'000LL);
}

TEST(FileWatch, StartFailsOnABadDescriptor) {
  auto w = FileWatch::start(-1);
  ASSERT_FALSE(w.ok());
  EXPECT_EQ(w.error().code, "io_error");
}

TEST(FileWatchDeathTest, CheckingADifferentFileThanTheOneWatchedAborts) {
  Served a, b;
  FileWatch w = a.watch();
  EXPECT_DEATH((void)w.still_same(b.fd.get()), "");
}

}  // namespace
}  // namespace sealrelay::agent
