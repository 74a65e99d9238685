#include "agent/share_policy.h"
#include "agent/share_rules.h"

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/fs.h>
#include <linux/magic.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/vfs.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <memory>

#include "proto/errors.h"

namespace sealrelay::agent {

using detail::CompiledShare;
using namespace detail;

namespace detail {

std::optional<std::string> root_problem(std::string_view root) {
  if (root.empty() || root.front() != '/') return "the root must be an absolute path";
  if (root.find('\0') != std::string::npos) return "the root contains a NUL byte";
  return std::nullopt;
}

}  // namespace detail

namespace {

Error io_error(const char* what, int err) {
  return make_error(ErrorCode::io_error, std::string(what) + ": " + std::strerror(err));
}

// The error for a failed openat/fstat inside the share.
Error from_errno(int err) {
  switch (err) {
    case ENOENT:
    case ENOTDIR:
      return not_found();
    case EACCES:
    case EPERM:
      return not_allowed("is not readable by the agent");
    case ENAMETOOLONG:
      return make_error(ErrorCode::bad_path, "the path has a component that is too long");
    default:
      return io_error("cannot open the path", err);
  }
}

int64_t ns_of(const struct timespec& ts) {
  return static_cast<int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

EntryInfo info_of(std::string name, const struct stat& st) {
  EntryInfo e;
  e.name = std::move(name);
  e.type = S_ISDIR(st.st_mode) ? EntryType::directory : EntryType::file;
  e.size = e.type == EntryType::file ? static_cast<uint64_t>(st.st_size) : 0;
  e.mtime_ns = ns_of(st.st_mtim);
  return e;
}

Result<UniqueFd> open_root(const CompiledShare& share, int flags) {
  UniqueFd fd(::open(share.config.root.c_str(), flags | O_DIRECTORY | O_CLOEXEC));
  if (!fd) {
    return make_error(ErrorCode::not_found,
                      "the share '" + share.config.name + "' is not available on the agent");
  }
  return fd;
}

// The text of the symbolic link open as the O_PATH descriptor `fd`.
Result<std::string> read_link(int fd) {
  std::string buf(PATH_MAX + 1, '\0');
  ssize_t n = ::readlinkat(fd, "", buf.data(), buf.size());
  if (n < 0) return io_error("cannot read a symbolic link", errno);
  if (static_cast<size_t>(n) >= buf.size()) return not_allowed("has a symbolic link that is too long");
  buf.resize(static_cast<size_t>(n));
  return buf;
}

// Splits link text into components, keeping "", "." and ".." for the walk.
std::vector<std::string> split(std::string_view text) {
  std::vector<std::string> out;
  for (;;) {
    size_t slash = text.find('/');
    out.emplace_back(text.substr(0, slash));
    if (slash == std::string_view::npos) return out;
    text.remove_prefix(slash + 1);
  }
}

struct CloseDir {
  void operator()(DIR* d) const { ::closedir(d); }
};
using DirStream = std::unique_ptr<DIR, CloseDir>;

// A stream reading the entries of the directory open as `dir` (O_PATH is
// enough), from its start, on a descriptor of its own.
Result<DirStream> read_dir(int dir) {
  UniqueFd fd(::openat(dir, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd) return from_errno(errno);
  DirStream out(::fdopendir(fd.get()));
  if (!out) return io_error("cannot list the directory", errno);
  (void)fd.release();  // Owned by `out` now.
  return out;
}

// XFS_IOC_FSGEOMETRY_V1 and its ASCII-case-insensitive flag, as in
// <xfs/xfs_fs.h> (a stable kernel ABI; the build needs no xfslibs-dev).
struct XfsGeometryV1 {
  uint32_t blocksize, rtextsize, agblocks, agcount, logblocks, sectsize, inodesize, imaxpct;
  uint64_t datablocks, rtblocks, rtextents, logstart;
  unsigned char uuid[16];
  uint32_t sunit, swidth;
  int32_t version;
  uint32_t flags, logsectsize, rtsectsize, dirblocksize;
};
static_assert(sizeof(XfsGeometryV1) == 112);
constexpr unsigned long kXfsIocFsGeometryV1 = _IOR('X', 100, XfsGeometryV1);
constexpr uint32_t kXfsGeomFlagsAsciiCi = 1u << 12;  // XFS_FSOP_GEOM_FLAGS_DIRV2CI

// Whether every lookup in the directory `dir` compares names bytewise, so
// the name asked for is the name on disk. Only file systems known to do so:
// btrfs; ext2/3/4 and tmpfs in a directory without casefolding (chattr +F,
// as the file system reports it); XFS made without ascii-ci. Anything else
// (vfat, exFAT, NTFS, CIFS, NFS, FUSE, overlay, ZFS, f2fs, ...) may fold case
// or normalise names, and so may one that does not answer: checked entry by
// entry.
bool lookups_are_exact(int dir) {
  struct statfs fs;
  if (::fstatfs(dir, &fs) != 0) return false;
  if (fs.f_type == BTRFS_SUPER_MAGIC) return true;
  const bool xfs = fs.f_type == XFS_SUPER_MAGIC;
  if (!xfs && fs.f_type != EXT4_SUPER_MAGIC && fs.f_type != TMPFS_MAGIC) return false;
  UniqueFd d(::openat(dir, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));  // ioctl needs more than O_PATH.
  if (!d) return false;
  if (xfs) {
    XfsGeometryV1 g{};
    return ::ioctl(d.get(), kXfsIocFsGeometryV1, &g) == 0 && (g.flags & kXfsGeomFlagsAsciiCi) == 0;
  }
  int flags = 0;
  return ::ioctl(d.get(), FS_IOC_GETFLAGS, &flags) == 0 && (flags & FS_CASEFOLD_FL) == 0;
}

// Ok when the directory `dir` holds an entry spelled exactly `name`, the
// entry a lookup of `name` found there. A file system that folds case or
// normalises names opens "ID.KEY" for the entry "id.key"; the policy
// (excludes, includes, scopes) is decided on the names on disk, the names a
// listing shows, so another spelling is not_found, like any name that is not
// in the directory. Costs a read of the directory up to the name, only on
// file systems that lookups_are_exact() cannot vouch for.
Result<void> check_spelling(int dir, const std::string& name) {
  if (lookups_are_exact(dir)) return {};
  auto entries = read_dir(dir);
  if (!entries) return entries.error();
  for (size_t n = 0; n < kMaxNameCheckEntries; ++n) {
    errno = 0;
    struct dirent* d = ::readdir(entries->get());
    if (!d) {
      if (errno != 0) return io_error("cannot read a directory", errno);
      return not_found();
    }
    if (name == d->d_name) return {};
  }
  return not_allowed("is in a directory too large for the agent to check its names");
}

// Whether a regular file with stat `st` is refused as a hard link: its
// other names may be outside the share, and the content with them.
bool refused_hard_link(const CompiledShare& share, const struct stat& st) {
  return st.st_nlink > 1 && !share.config.allow_hard_links;
}

// A path resolved inside a share.
struct Resolved {
  std::vector<std::string> canon;  // Share-relative components after symlinks.
  UniqueFd fd;                     // O_PATH descriptor of the final object.
  struct stat st {};               // Its fstat.
  UniqueFd parent;                 // O_PATH of its directory; files only.
  Visibility visibility = Visibility::full;
};

// Walks `rel` (share-relative, syntax-checked components) from the share
// root. See the header comment of share_policy.h for the rules.
class Walk {
 public:
  Walk(const CompiledShare& share, const PathScope& scope) : share_(share), scope_(scope) {}

  // `names_on_disk`: how many leading components of `rel` were read from
  // their directories (a listing's), so their spelling needs no check.
  Result<Resolved> run(std::span<const std::string> rel, size_t names_on_disk = 0) {
    auto root = open_root(share_, O_PATH);
    if (!root) return root.error();
    dirs_.push_back(std::move(*root));
    todo_.assign(rel.begin(), rel.end());
    names_on_disk_ = names_on_disk;
    while (!todo_.empty()) {
      std::string name = std::move(todo_.front());
      todo_.pop_front();
      const bool on_disk = names_on_disk_ > 0;
      if (on_disk) --names_on_disk_;
      if (name.empty() || name == ".") continue;  // Only link text has these.
      if (name == "..") {                          // Only link text has this.
        if (canon_.empty()) return escapes();
        dirs_.pop_back();
        canon_.pop_back();
        continue;
      }
      canon_.push_back(std::move(name));
      auto step = enter_last(on_disk);
      if (!step) return step.error();
      if (*step) return std::move(**step);  // Reached a regular file.
    }
    Resolved r;
    r.fd = std::move(dirs_.back());
    if (::fstat(r.fd.get(), &r.st) != 0) return io_error("cannot stat a directory", errno);
    return finish(std::move(r));
  }

 private:
  // Opens canon_.back() in dirs_.back(); `on_disk` when that name was read
  // from the directory. Returns a Resolved when it is the final regular
  // file, nullopt when the walk goes on.
  Result<std::optional<Resolved>> enter_last(bool on_disk) {
    const bool last = todo_.empty();
    if (visibility_of(share_, canon_, scope_) == Visibility::hidden)
      return not_allowed("is outside the paths this requester may use");
    if (excluded(share_, canon_, false)) return not_allowed("is excluded from the share");
    if (canon_.size() > kMaxDepth) return not_allowed("is nested too deeply");
    UniqueFd fd(::openat(dirs_.back().get(), canon_.back().c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC));
    if (!fd) {
      int err = errno;
      if (err == ENOENT && excluded(share_, canon_, true))
        return not_allowed("is excluded from the share");
      if (err == ENOENT && last && !included(share_, canon_))
        return not_allowed("is not included in the share");
      return from_errno(err);
    }
    if (!on_disk) {
      auto spelled = check_spelling(dirs_.back().get(), canon_.back());
      if (!spelled) return spelled.error();
    }
    struct stat st;
    if (::fstat(fd.get(), &st) != 0) return io_error("cannot stat the path", errno);
    if (S_ISLNK(st.st_mode)) {
      auto ok = follow(fd.get());
      if (!ok) return ok.error();
      return std::optional<Resolved>();
    }
    if (S_ISDIR(st.st_mode)) {
      if (excluded(share_, canon_, true)) return not_allowed("is excluded from the share");
      dirs_.push_back(std::move(fd));
      return std::optional<Resolved>();
    }
    if (!S_ISREG(st.st_mode)) return not_allowed("is not a regular file or directory");
    if (!last) return not_found();  // "file/more" (ENOTDIR).
    if (!included(share_, canon_)) return not_allowed("is not included in the share");
    if (refused_hard_link(share_, st)) return hard_link();
    const auto& max = share_.config.max_file_size;
    if (max && static_cast<uint64_t>(st.st_size) > *max)
      return make_error(ErrorCode::too_large, "the file is larger than this share serves");
    Resolved r;
    r.fd = std::move(fd);
    r.st = st;
    r.parent = std::move(dirs_.back());
    auto done = finish(std::move(r));
    if (!done) return done.error();
    return std::optional<Resolved>(std::move(*done));
  }

  // Replaces the link canon_.back() (open as `fd`) by its target.
  Result<void> follow(int fd) {
    if (!share_.config.follow_symlinks)
      return not_allowed("is a symbolic link, and this share does not follow them");
    if (++links_ > kMaxSymlinks) return not_allowed("has too many levels of symbolic links");
    names_on_disk_ = 0;  // What follows the link text is not known to be on disk.
    auto text = read_link(fd);
    if (!text) return text.error();
    canon_.pop_back();
    std::string_view target = *text;
    if (target.empty()) return not_found();
    if (target.front() == '/') {
      auto rel = relative_to_root(target);
      if (!rel) return rel.error();
      target = *rel;
      dirs_.resize(1);
      canon_.clear();
    }
    auto parts = split(target);
    todo_.insert(todo_.begin(), parts.begin(), parts.end());
    return {};
  }

  // The part of the absolute link text `target` below the share root — its
  // real path or its path as configured — or not_allowed when it is below
  // neither. Either way the rest is walked from the root descriptor.
  Result<std::string_view> relative_to_root(std::string_view target) {
    if (!real_root_resolved_) {
      std::unique_ptr<char, decltype(&std::free)> real(::realpath(share_.config.root.c_str(), nullptr),
                                                        &std::free);
      if (!real) return io_error("cannot resolve the share root", errno);
      real_root_ = without_trailing_slashes(real.get());
      real_root_resolved_ = true;
    }
    for (std::string_view root : {std::string_view(real_root_),
                                  without_trailing_slashes(share_.config.root)}) {
      // root is "" for "/": every absolute path is below it.
      if (target.substr(0, root.size()) != root) continue;
      std::string_view rest = target.substr(root.size());
      if (rest.empty() || rest.front() == '/') return rest;  // Not "/srv/share2" for "/srv/share".
    }
    return escapes();
  }

  static std::string_view without_trailing_slashes(std::string_view p) {
    while (!p.empty() && p.back() == '/') p.remove_suffix(1);
    return p;
  }

  Result<Resolved> finish(Resolved r) {
    r.canon = std::move(canon_);
    r.visibility = visibility_of(share_, r.canon, scope_);
    return r;
  }

  const CompiledShare& share_;
  const PathScope& scope_;
  std::vector<UniqueFd> dirs_;  // dirs_[0] is the root; dirs_.size() == canon_.size() + 1.
  std::vector<std::string> canon_;
  std::deque<std::string> todo_;
  size_t names_on_disk_ = 0;  // Leading entries of todo_ read from their directory.
  int links_ = 0;
  std::string real_root_;
  bool real_root_resolved_ = false;
};

}  // namespace

Result<void> Shares::check_roots() const {
  for (const auto& s : shares_) {
    UniqueFd fd(::open(s.config.root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!fd) {
      return make_error(ErrorCode::bad_config, "share '" + s.config.name + "': cannot open " + s.config.root +
                                                   " as a directory: " + std::strerror(errno));
    }
  }
  return {};
}

namespace {

// Opens the regular file `r` for reading: by name in its directory, then
// checked to be the very file the walk saw (a swap in between is refused).
// r.st becomes the fstat of the open file, the freshest view of its size.
Result<UniqueFd> open_for_reading(Resolved& r) {
  const std::string& name = r.canon.back();
  UniqueFd fd(::openat(r.parent.get(), name.c_str(),
                       O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC));
  if (!fd) {
    if (errno == ELOOP) return make_error(ErrorCode::changed, "the file changed while being opened");
    return from_errno(errno);
  }
  struct stat st;
  if (::fstat(fd.get(), &st) != 0) return io_error("cannot stat the file", errno);
  if (!S_ISREG(st.st_mode) || st.st_dev != r.st.st_dev || st.st_ino != r.st.st_ino)
    return make_error(ErrorCode::changed, "the file changed while being opened");
  r.st = st;
  int flags = ::fcntl(fd.get(), F_GETFL);
  if (flags < 0 || ::fcntl(fd.get(), F_SETFL, flags & ~O_NONBLOCK) != 0)
    return io_error("cannot set up the file", errno);
  return fd;
}

}  // namespace

Result<OpenedFile> Shares::open_file_once(std::string_view path, const PathScope& scope) const {
  auto parsed = parse_in_scope(path, scope);
  if (!parsed) return parsed.error();
  const auto& comps = parsed->components;
  if (comps.empty()) return make_error(ErrorCode::not_a_file, "the path is a directory");
  const CompiledShare* share = find(comps.front());
  if (!share) return no_share();
  auto r = Walk(*share, scope).run(std::span(comps).subspan(1));
  if (!r) return r.error();
  if (!S_ISREG(r->st.st_mode)) return make_error(ErrorCode::not_a_file, "the path is a directory");
  if (r->visibility != Visibility::full)
    return not_allowed("is outside the paths this requester may use");
  auto fd = open_for_reading(*r);
  if (!fd) return fd.error();
  if (refused_hard_link(*share, r->st)) return hard_link();  // Linked since the walk.
  const auto& max = share->config.max_file_size;
  if (max && static_cast<uint64_t>(r->st.st_size) > *max)  // Grew since the walk.
    return make_error(ErrorCode::too_large, "the file is larger than this share serves");
  OpenedFile out;
  out.fd = std::move(*fd);
  out.dir = std::move(r->parent);
  out.name = r->canon.back();
  out.path = requester_path(*share, r->canon);
  out.info = info_of(comps.back(), r->st);
  return out;
}

Result<EntryInfo> Shares::stat(std::string_view path, const PathScope& scope) const {
  auto parsed = parse_in_scope(path, scope);
  if (!parsed) return parsed.error();
  const auto& comps = parsed->components;
  if (comps.empty()) return EntryInfo{"", EntryType::directory, 0, 0};
  const CompiledShare* share = find(comps.front());
  if (!share) return no_share();
  auto r = Walk(*share, scope).run(std::span(comps).subspan(1));
  if (!r) return r.error();
  return info_of(comps.back(), r->st);
}

namespace {

// The entry `name` of the directory `dir` (open as `dir_fd`, canonical
// components `canon`), or nullopt when it is not servable.
std::optional<EntryInfo> entry_of(const CompiledShare& share, const PathScope& scope, int dir_fd,
                                  std::vector<std::string>& canon, const std::string& name,
                                  bool dir_fully_visible) {
  canon.push_back(name);
  struct Pop {
    std::vector<std::string>& v;
    ~Pop() { v.pop_back(); }
  } pop{canon};
  if (!dir_fully_visible && visibility_of(share, canon, scope) == Visibility::hidden) return {};
  if (excluded(share, canon, false)) return {};
  struct stat st;
  if (::fstatat(dir_fd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) return {};
  if (S_ISLNK(st.st_mode)) {
    if (!share.config.follow_symlinks) return {};
    auto r = Walk(share, scope).run(canon, canon.size());  // Same rules as a get of it.
    if (!r || (S_ISREG(r->st.st_mode) && r->visibility != Visibility::full)) return {};
    return info_of(name, r->st);
  }
  if (S_ISDIR(st.st_mode)) {
    if (excluded(share, canon, true)) return {};
    return info_of(name, st);
  }
  if (!S_ISREG(st.st_mode) || !included(share, canon) || refused_hard_link(share, st)) return {};
  const auto& max = share.config.max_file_size;
  if (max && static_cast<uint64_t>(st.st_size) > *max) return {};
  return info_of(name, st);
}

}  // namespace

Result<Listing> Shares::list(std::string_view path, const PathScope& scope,
                             size_t max_entries) const {
  auto parsed = parse_in_scope(path, scope);
  if (!parsed) return parsed.error();
  const auto& comps = parsed->components;
  Listing out;
  if (comps.empty()) {
    for (const auto& s : shares_) {
      if (scope.visibility(std::span(&s.config.name, 1)) == Visibility::hidden) continue;
      auto root = open_root(s, O_PATH);
      struct stat st;
      if (!root || ::fstat(root->get(), &st) != 0) continue;
      if (out.entries.size() == max_entries) {
        out.truncated = true;
        break;
      }
      out.entries.push_back(info_of(s.config.name, st));
    }
    return out;
  }
  const CompiledShare* share = find(comps.front());
  if (!share) return no_share();
  auto r = Walk(*share, scope).run(std::span(comps).subspan(1));
  if (!r) return r.error();
  if (!S_ISDIR(r->st.st_mode)) return make_error(ErrorCode::not_a_directory, "the path is a file");
  auto dir = read_dir(r->fd.get());
  if (!dir) return dir.error();
  const int dir_fd = r->fd.get();
  const bool full = r->visibility == Visibility::full;
  std::vector<std::string> canon = r->canon;
  for (;;) {
    errno = 0;
    struct dirent* d = ::readdir(dir->get());
    if (!d) {
      if (errno != 0) return io_error("cannot list the directory", errno);
      break;
    }
    std::string name = d->d_name;
    if (name == "." || name == "..") continue;
    auto e = entry_of(*share, scope, dir_fd, canon, name, full);
    if (!e) continue;
    if (out.entries.size() == max_entries) {
      out.truncated = true;
      break;
    }
    out.entries.push_back(std::move(*e));
  }
  sort_by_name(out);
  return out;
}

bool SharePolicyView::hidden(std::span<const std::string> canon) const {
  return visibility_of(share_, canon, scope_) == Visibility::hidden;
}
bool SharePolicyView::fully_visible(std::span<const std::string> canon) const {
  return visibility_of(share_, canon, scope_) == Visibility::full;
}
bool SharePolicyView::excluded(std::span<const std::string> canon, bool is_directory) const {
  return agent::excluded(share_, canon, is_directory);
}
bool SharePolicyView::included(std::span<const std::string> canon) const { return agent::included(share_, canon); }
bool SharePolicyView::refused_hard_link(const struct stat& st) const { return agent::refused_hard_link(share_, st); }
bool SharePolicyView::too_large(uint64_t size) const {
  return share_.config.max_file_size && size > *share_.config.max_file_size;
}

Result<ResolvedEntry> SharePolicyView::resolve(std::span<const std::string> canon) const {
  auto r = Walk(share_, scope_).run(canon, canon.size());
  if (!r) return r.error();
  return ResolvedEntry{std::move(r->fd), std::move(r->parent), r->st, std::move(r->canon),
                       r->visibility == Visibility::full};
}

Result<TreeRoot> Shares::open_tree(std::string_view path, const PathScope& scope) const {
  auto parsed = parse_in_scope(path, scope);
  if (!parsed) return parsed.error();
  const auto& comps = parsed->components;
  if (comps.empty()) return make_error(ErrorCode::not_allowed, "the list of shares cannot be pulled as a folder");
  const CompiledShare* share = find(comps.front());
  if (!share) return no_share();
  auto r = Walk(*share, scope).run(std::span(comps).subspan(1));
  if (!r) return r.error();
  if (!S_ISDIR(r->st.st_mode)) return make_error(ErrorCode::not_a_directory, "the path is a file");
  ResolvedEntry dir{std::move(r->fd), {}, r->st, std::move(r->canon), r->visibility == Visibility::full};
  return TreeRoot{std::move(dir), comps.back(), SharePolicyView(*share, scope)};
}

}  // namespace sealrelay::agent
