// agent/share_policy.h: requester paths resolved inside a share on disk — the
// check that keeps a requester (or anyone who can write message 1s, i.e. a
// trusted but curious requester) inside the shared folder. The fixture is a
// share full of traps: links out by relative and absolute paths, links to
// the share's parent, a link loop, a FIFO, an excluded folder, a folder out
// of scope, a hard link to the secret outside. Properties, for every path the fuzzer makes up:
//  * a file that opens is a regular file inside the share (its real path,
//    from /proc/self/fd, is below the share's real root), within the
//    requester's scope, not excluded, has no other hard link, and is never
//    the secret outside;
//  * listings name only single safe components;
//  * no descriptor is leaked.
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <climits>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "agent/share_policy.h"
#include "tests/fuzz/fuzz_support.h"

using namespace sealrelay;
using namespace sealrelay::agent;
namespace fs = std::filesystem;

namespace {

struct Fixture {
  std::string base, share_real, scoped_real;
  std::optional<Shares> shares;
  PathScope scope = PathScope::everything();
};

Fixture* make_fixture() {
  auto* f = new Fixture();
  char tmpl[] = "/tmp/sealrelay-fuzz-XXXXXX";
  FUZZ_CHECK(::mkdtemp(tmpl) != nullptr);
  f->base = tmpl;
  const std::string share = f->base + "/share";
  fs::create_directories(share + "/dir/sub");
  fs::create_directories(share + "/excluded");
  fs::create_directories(share + "/open");
  fs::create_directories(f->base + "/outside");
  std::ofstream(f->base + "/outside/secret.txt") << "SECRET";
  std::ofstream(share + "/a.txt") << "a";
  std::ofstream(share + "/dir/b.txt") << "b";
  std::ofstream(share + "/dir/sub/c.txt") << "c";
  std::ofstream(share + "/excluded/x.txt") << "x";
  std::ofstream(share + "/open/o.txt") << "o";
  std::ofstream(share + "/id.key") << "k";
  fs::create_symlink("dir/b.txt", share + "/in");
  fs::create_symlink("../outside/secret.txt", share + "/out");
  fs::create_symlink(f->base + "/outside", share + "/abs");
  fs::create_symlink("..", share + "/up");
  fs::create_symlink("../../open", share + "/dir/sub/back");
  fs::create_symlink("loop", share + "/loop");
  fs::create_symlink("/proc/self/root/etc", share + "/proc");
  fs::create_hard_link(f->base + "/outside/secret.txt", share + "/hard.txt");
  ::mkfifo((share + "/fifo").c_str(), 0600);
  f->share_real = fs::canonical(share).string();
  f->scoped_real = f->share_real + "/open";
  ShareConfig c;
  c.name = "s";
  c.root = share;
  c.exclude = {"excluded/", "*.key"};
  auto shares = Shares::create({c});
  FUZZ_CHECK(shares.ok());
  f->shares.emplace(std::move(*shares));
  std::vector<std::string> scope{"/s/open"};
  f->scope = *PathScope::of(scope);
  return f;
}

Fixture& fixture() {
  static Fixture* f = make_fixture();
  return *f;
}

int open_descriptors() {
  int n = 0;
  DIR* d = ::opendir("/proc/self/fd");
  while (::readdir(d) != nullptr) ++n;
  ::closedir(d);
  return n;
}

void check_file(const Fixture& f, const OpenedFile& file, bool scoped) {
  struct stat st {};
  FUZZ_CHECK(::fstat(file.fd.get(), &st) == 0 && S_ISREG(st.st_mode) && st.st_nlink == 1);
  char link[PATH_MAX + 1] = {};
  std::string proc = "/proc/self/fd/" + std::to_string(file.fd.get());
  ssize_t n = ::readlink(proc.c_str(), link, PATH_MAX);
  FUZZ_CHECK(n > 0);
  std::string real(link, static_cast<size_t>(n));
  FUZZ_CHECK(real.starts_with(f.share_real + "/"));
  FUZZ_CHECK(real.find("/excluded/") == std::string::npos && !real.ends_with(".key"));
  if (scoped) FUZZ_CHECK(real.starts_with(f.scoped_real + "/"));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Fixture& f = fixture();
  if (size == 0) return 0;
  const bool scoped = data[0] & 1;
  const PathScope scope = scoped ? f.scope : PathScope::everything();
  std::string_view path(reinterpret_cast<const char*>(data + 1), size - 1);
  const int before = open_descriptors();
  {
    auto file = f.shares->open_file(path, scope);
    if (file) check_file(f, *file, scoped);
    auto info = f.shares->stat(path, scope);
    if (info) FUZZ_CHECK(info->name.find('/') == std::string::npos);
    auto listing = f.shares->list(path, scope, 64);
    if (listing) {
      for (const auto& e : listing->entries) {
        FUZZ_CHECK(!e.name.empty() && e.name != "." && e.name != "..");
        FUZZ_CHECK(e.name.find('/') == std::string::npos && e.name != "fifo" && e.name != "loop");
        FUZZ_CHECK(e.name != "excluded" && e.name != "id.key" && e.name != "out" && e.name != "abs" &&
                   e.name != "hard.txt");
      }
    }
  }
  FUZZ_CHECK(open_descriptors() == before);
  return 0;
}
