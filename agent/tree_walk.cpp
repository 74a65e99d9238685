#include "agent/tree_walk.h"

#include <dirent.h>
#include <fcntl.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "proto/errors.h"

namespace sealrelay::agent {
namespace {

using tree::SkipReason;

// A name as on disk, and as it goes on the wire: the same unless it is a bad
// name (not UTF-8, a control character or '\'), which is reported with
// U+FFFD in place of each bad byte, cut to a component's length.
struct Name {
  std::string wire;
  std::string disk;  // empty when the same as wire
  const std::string& on_disk() const { return disk.empty() ? wire : disk; }
  bool bad() const { return !disk.empty(); }
};

std::string sanitized(const std::string& name) {
  std::string out;
  for (size_t i = 0; i < name.size();) {
    // The longest character at i that a name may hold ("x" keeps a lone
    // '.' from reading as a component of its own).
    size_t n = 4;
    while (n > 0 && (i + n > name.size() || !tree::check_path("x" + name.substr(i, n)))) --n;
    if (n == 0) {
      out += "\xEF\xBF\xBD";
      ++i;
    } else {
      out.append(name, i, n);
      i += n;
    }
  }
  while (out.size() > tree::kMaxComponentBytes) {  // cut at a character boundary
    while ((static_cast<uint8_t>(out.back()) & 0xC0) == 0x80) out.pop_back();
    out.pop_back();
  }
  return out;
}

std::string last_component(const std::string& path) {
  auto slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

Name name_of(std::string disk) {
  if (tree::check_path(disk)) return Name{std::move(disk), {}};
  std::string wire = sanitized(disk);
  return Name{std::move(wire), std::move(disk)};
}

struct CloseDir {
  void operator()(DIR* d) const { ::closedir(d); }
};

// The names of the directory open as `fd`, sorted by wire name, at most
// `cap` of them (the smallest); `more` gets the first one left out.
Result<std::vector<Name>> read_names(int fd, size_t cap, std::optional<std::string>& more) {
  UniqueFd own(::openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!own) return make_error(ErrorCode::not_allowed, "the folder is not readable by the agent");
  std::unique_ptr<DIR, CloseDir> dir(::fdopendir(own.get()));
  if (!dir) return make_error(ErrorCode::io_error, "cannot list a folder");
  (void)own.release();
  std::vector<Name> names;
  auto by_wire = [](const Name& a, const Name& b) { return a.wire < b.wire; };
  auto keep_smallest = [&] {
    std::nth_element(names.begin(), names.begin() + static_cast<ptrdiff_t>(cap), names.end(), by_wire);
    names.resize(cap + 1);
  };
  for (;;) {
    errno = 0;
    struct dirent* d = ::readdir(dir.get());
    if (!d) {
      if (errno != 0) return make_error(ErrorCode::io_error, "cannot list a folder");
      break;
    }
    if (std::strcmp(d->d_name, ".") == 0 || std::strcmp(d->d_name, "..") == 0) continue;
    names.push_back(name_of(d->d_name));
    if (names.size() > 2 * cap + 1) keep_smallest();
  }
  if (names.size() > cap) keep_smallest();
  std::sort(names.begin(), names.end(), by_wire);
  // Two names that read the same on the wire (bad bytes made U+FFFD): only
  // the first can be reported in order.
  names.erase(std::unique(names.begin(), names.end(), [](const Name& a, const Name& b) { return a.wire == b.wire; }),
              names.end());
  if (names.size() > cap) {
    more = names[cap].wire;
    names.resize(cap);
  }
  return names;
}

bool is_above(std::string_view dir, std::string_view path) {
  return dir.size() < path.size() && path.substr(0, dir.size()) == dir && path[dir.size()] == '/';
}

}  // namespace

Result<TreeWalkOptions> TreeWalkOptions::of(const Request& request) {
  TreeWalkOptions out;
  for (const auto& [texts, patterns] : {std::pair{&request.select.include, &out.include},
                                        {&request.select.exclude, &out.exclude}}) {
    for (const auto& text : *texts) {
      auto g = GlobPattern::compile(text);
      if (!g) return make_error("bad_request", "a select pattern is malformed: " + g.error().message);
      patterns->push_back(std::move(*g));
    }
  }
  out.newer_than = request.select.newer_than;
  out.max_depth = request.select.max_depth;
  if (request.resume) out.resume_path = request.resume->path;
  return out;
}

struct TreeWalker::State {
  struct Level {
    UniqueFd owned;  // empty for the root, whose descriptor the TreeRoot holds
    int fd = -1;     // O_PATH of the directory
    dev_t dev = 0;
    ino_t ino = 0;
    std::vector<std::string> canon;  // share-relative, after symlinks
    bool full = true;                // wholly inside the scope
    std::vector<Name> names;
    size_t next = 0;
    std::optional<std::string> more;  // the first name left out (too_many)
    size_t rel_size = 0;              // of `rel` for this directory
  };

  const TreeRoot& root;
  const TreeWalkOptions& options;
  TreeWalkSink& sink;
  std::vector<Level> stack;
  std::string rel;                     // the current directory's path, "" for the root
  std::vector<std::string> rel_parts;  // its components, for the select's patterns
  bool before_resume = false;

  std::string path_of(const std::string& wire) const { return rel.empty() ? wire : rel + "/" + wire; }
  Result<bool> step();
  Result<void> visit(Level& level, const Name& name);
  Result<void> visit_link(const std::string& path, std::span<const std::string> canon, bool quiet);
  Result<void> visit_dir(const std::string& path, UniqueFd fd, const struct stat& st,
                         std::vector<std::string> canon, bool full, bool quiet);
  Result<void> visit_file(const std::string& path, const WalkedFile& file, std::span<const std::string> canon,
                          bool full);
};

Result<bool> TreeWalker::State::step() {
  while (!stack.empty()) {
    Level& top = stack.back();
    if (top.next < top.names.size()) {
      const Name& name = top.names[top.next++];
      auto ok = visit(top, name);
      if (!ok) return ok.error();
      return true;
    }
    std::optional<std::string> more = std::move(top.more);
    std::string more_path = more ? path_of(*more) : std::string();
    stack.pop_back();
    if (!stack.empty()) {
      rel.resize(stack.back().rel_size);
      rel_parts.pop_back();
    }
    if (more) {
      auto ok = sink.on_skip(more_path, SkipReason::kTooMany);
      if (!ok) return ok.error();
      return true;
    }
  }
  return false;
}

Result<void> TreeWalker::State::visit(Level& level, const Name& name) {
  const std::string path = path_of(name.wire);
  bool quiet = false;  // a folder above the resume point: walked, not reported
  if (before_resume) {
    if (tree::compare_paths(path, *options.resume_path) < 0) {
      if (!is_above(path, *options.resume_path)) return {};
      quiet = true;
    } else {
      before_resume = false;
    }
  }
  // The entry's share-relative path: its folder's, one more component for
  // the time of this visit (no copy per entry).
  level.canon.push_back(name.on_disk());
  struct Pop {
    std::vector<std::string>& v;
    ~Pop() { v.pop_back(); }
  } pop{level.canon};
  const std::vector<std::string>& canon = level.canon;
  const bool full = level.full || root.policy.fully_visible(canon);
  if (!level.full && root.policy.hidden(canon)) return {};
  if (root.policy.excluded(canon, false)) return {};
  rel_parts.push_back(name.wire);
  const bool select_excluded = any_matches(options.exclude, rel_parts, false);
  rel_parts.pop_back();
  if (select_excluded) return {};
  struct stat st;
  if (::fstatat(level.fd, name.on_disk().c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
    if (errno == ENOENT) return {};
    return quiet ? Result<void>() : sink.on_skip(path, SkipReason::kUnreadable);
  }
  const bool wanted = S_ISREG(st.st_mode) || S_ISDIR(st.st_mode) || S_ISLNK(st.st_mode);
  if (!wanted) return {};  // devices, FIFOs, sockets
  if (name.bad()) return quiet ? Result<void>() : sink.on_skip(path, SkipReason::kBadName);
  if (S_ISLNK(st.st_mode)) return visit_link(path, canon, quiet);
  if (S_ISDIR(st.st_mode)) {
    UniqueFd fd(::openat(level.fd, name.on_disk().c_str(), O_PATH | O_NOFOLLOW | O_DIRECTORY | O_CLOEXEC));
    struct stat now;
    if (!fd || ::fstat(fd.get(), &now) != 0 || now.st_dev != st.st_dev || now.st_ino != st.st_ino) {
      return {};  // gone or swapped since the readdir: as if never seen
    }
    return visit_dir(path, std::move(fd), now, canon, full, quiet);
  }
  if (quiet) return {};
  WalkedFile file{level.fd, &name.on_disk(), st};
  return visit_file(path, file, canon, full);
}

// A symbolic link: followed by the resolver's rules, as a get of it would be.
Result<void> TreeWalker::State::visit_link(const std::string& path, std::span<const std::string> canon, bool quiet) {
  if (!root.policy.follows_symlinks()) return {};
  auto target = root.policy.resolve(canon);
  if (!target) {
    if (errors::is(target.error(), ErrorCode::not_found) || quiet) return {};
    bool large = errors::is(target.error(), ErrorCode::too_large);
    return sink.on_skip(path, large ? SkipReason::kTooLarge : SkipReason::kSymlinkOut);
  }
  if (S_ISDIR(target->st.st_mode)) {
    return visit_dir(path, std::move(target->fd), target->st, std::move(target->canon), target->fully_visible, quiet);
  }
  if (quiet) return {};
  WalkedFile file{target->parent.get(), &target->canon.back(), target->st};
  return visit_file(path, file, target->canon, target->fully_visible);
}

Result<void> TreeWalker::State::visit_dir(const std::string& path, UniqueFd fd, const struct stat& st,
                                          std::vector<std::string> canon, bool full, bool quiet) {
  rel_parts.push_back(last_component(path));
  const bool excluded = root.policy.excluded(canon, true) || any_matches(options.exclude, rel_parts, true);
  const size_t depth = rel_parts.size();
  rel_parts.pop_back();
  if (excluded) return {};
  for (const auto& level : stack) {
    if (level.dev == st.st_dev && level.ino == st.st_ino) {
      return quiet ? Result<void>() : sink.on_skip(path, SkipReason::kLoop);
    }
  }
  if (depth >= tree::kMaxDepth || canon.size() >= kMaxDepth) {
    return quiet ? Result<void>() : sink.on_skip(path, SkipReason::kTooDeep);
  }
  const bool enter = quiet || !options.max_depth || depth < *options.max_depth;
  Level level;
  if (enter) {
    auto names = read_names(fd.get(), options.max_dir_entries, level.more);
    if (!names) return quiet ? Result<void>() : sink.on_skip(path, SkipReason::kUnreadable);
    level.names = std::move(*names);
  }
  if (!quiet) {
    if (auto ok = sink.on_dir(path, st); !ok) return ok;
  }
  if (!enter) return {};
  level.fd = fd.get();
  level.owned = std::move(fd);
  level.dev = st.st_dev;
  level.ino = st.st_ino;
  level.canon = std::move(canon);
  level.full = full;
  rel = path;
  rel_parts.push_back(last_component(path));
  level.rel_size = rel.size();
  stack.push_back(std::move(level));
  return {};
}

Result<void> TreeWalker::State::visit_file(const std::string& path, const WalkedFile& file,
                                           std::span<const std::string> canon, bool full) {
  if (!full || !root.policy.included(canon)) return {};
  if (!options.include.empty()) {
    rel_parts.push_back(last_component(path));
    bool in = false;
    for (size_t n = 1; n <= rel_parts.size() && !in; ++n) {
      in = any_matches(options.include, std::span(rel_parts).first(n), n < rel_parts.size());
    }
    rel_parts.pop_back();
    if (!in) return {};
  }
  if (options.newer_than && file.st.st_mtime < *options.newer_than) return {};
  if (root.policy.refused_hard_link(file.st)) return sink.on_skip(path, SkipReason::kHardLink);
  if (root.policy.too_large(static_cast<uint64_t>(file.st.st_size))) return sink.on_skip(path, SkipReason::kTooLarge);
  return sink.on_file(path, file);
}

TreeWalker::TreeWalker(std::unique_ptr<State> state) : state_(std::move(state)) {}
TreeWalker::~TreeWalker() = default;

Result<std::unique_ptr<TreeWalker>> TreeWalker::start(const TreeRoot& root, const TreeWalkOptions& options,
                                                      TreeWalkSink& sink) {
  auto state = std::unique_ptr<State>(new State{root, options, sink, {}, {}, {}, options.resume_path.has_value()});
  State::Level level;
  auto names = read_names(root.dir.fd.get(), options.max_dir_entries, level.more);
  if (!names) return names.error();
  level.names = std::move(*names);
  level.fd = root.dir.fd.get();
  level.dev = root.dir.st.st_dev;
  level.ino = root.dir.st.st_ino;
  level.canon = root.dir.canon;
  level.full = root.dir.fully_visible;
  // References into the stack stay valid while a visit pushes a level.
  state->stack.reserve(tree::kMaxDepth + 1);
  state->stack.push_back(std::move(level));
  return std::unique_ptr<TreeWalker>(new TreeWalker(std::move(state)));
}

Result<bool> TreeWalker::step() { return state_->step(); }

Result<UniqueFd> open_walked_file(const WalkedFile& file) {
  UniqueFd fd(::openat(file.parent_fd, file.name->c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC));
  if (!fd) {
    if (errno == ENOENT) return make_error("vanished", "the file vanished");
    if (errno == ELOOP) return make_error("changed", "the file changed");
    return make_error("unreadable", "the file is not readable by the agent");
  }
  struct stat st;
  if (::fstat(fd.get(), &st) != 0) return make_error("unreadable", "cannot stat the file");
  if (!S_ISREG(st.st_mode) || st.st_dev != file.st.st_dev || st.st_ino != file.st.st_ino) {
    return make_error("changed", "the file changed");
  }
  int flags = ::fcntl(fd.get(), F_GETFL);
  if (flags < 0 || ::fcntl(fd.get(), F_SETFL, flags & ~O_NONBLOCK) != 0) {
    return make_error("unreadable", "cannot set up the file");
  }
  return fd;
}

}  // namespace sealrelay::agent
