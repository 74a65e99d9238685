// The share policy's Windows walk (share_policy.h is the contract; the rules
// that do not touch the file system are share_common.cpp's).
//
// Windows has no openat, so each step opens "<root>\<c1>\...\<cn>" by its
// full long path ("\\?\C:\...") — with FILE_FLAG_OPEN_REPARSE_POINT, so a
// symbolic link, junction or mount point is opened as itself — and then
// asks the OS where the object it opened is (GetFinalPathNameByHandleW,
// which resolves links, junctions and 8.3 short names in every directory on
// the way). Unless that is exactly the path asked for, spelled as on disk,
// the step is refused: an ancestor swapped for a junction after it was
// checked, "PROGRA~1" for "Program Files", "ID.KEY" for "id.key" all fail
// this comparison, so excludes, includes and scopes are decided on the names
// a listing shows. Reparse points are never followed (refused as
// not_allowed, left out of listings): the Windows agent has no
// follow_symlinks. Names Win32 would reinterpret (windows_names.h: streams,
// devices, trailing dots and spaces) are refused before anything is opened.
// Files are opened sharing read, write and delete, so POS software that
// keeps them open is not disturbed; one opened exclusively by its program
// is refused (not_allowed; Volume Shadow Copies are not used). What was
// checked is what is read: the handle of the last step is the one served.
#include "agent/share_policy.h"
#include "agent/share_rules.h"
#include "agent/win_file.h"
#include "agent/windows_names.h"

#include <algorithm>
#include <vector>

#include "proto/errors.h"

namespace sealrelay::agent {

using detail::CompiledShare;
using namespace detail;

namespace detail {

std::optional<std::string> root_problem(std::string_view root) { return windows_names::root_problem(root); }

}  // namespace detail

namespace {

Error io_error(const char* what, DWORD err) {
  return make_error(ErrorCode::io_error, std::string(what) + " (Windows error " + std::to_string(err) + ")");
}

// The error for a failed CreateFileW inside the share.
Error from_win32(DWORD err) {
  switch (err) {
    case ERROR_FILE_NOT_FOUND:
    case ERROR_PATH_NOT_FOUND:
    case ERROR_DIRECTORY:
    case ERROR_INVALID_NAME:
      return not_found();
    case ERROR_ACCESS_DENIED:
      return not_allowed("is not readable by the agent");
    case ERROR_SHARING_VIOLATION:
    case ERROR_LOCK_VIOLATION:
      return not_allowed("is locked by the program using it (the agent does not read shadow copies)");
    case ERROR_FILENAME_EXCED_RANGE:
      return make_error(ErrorCode::bad_path, "the path has a component that is too long");
    default:
      return io_error("cannot open the path", err);
  }
}

EntryInfo entry_info(std::string name, const win::FileInfo& i) {
  EntryInfo e;
  e.name = std::move(name);
  e.type = i.directory() ? EntryType::directory : EntryType::file;
  e.size = e.type == EntryType::file ? i.size : 0;
  e.mtime_ns = i.mtime_ns;
  return e;
}

bool refused_hard_link(const CompiledShare& share, const win::FileInfo& i) {
  return i.links > 1 && !share.config.allow_hard_links;
}

bool too_large(const CompiledShare& share, const win::FileInfo& i) {
  return share.config.max_file_size && i.size > *share.config.max_file_size;
}

// The share root, opened (links in the root's own path are the admin's and
// are followed), and where the OS says it is.
struct Root {
  win::Handle handle;
  std::string path;  // "\\?\C:\..." as GetFinalPathNameByHandleW gives it.
};

Result<Root> open_root(const CompiledShare& share) {
  std::wstring w = win::wide(windows_names::long_root(share.config.root));
  win::Handle h(::CreateFileW(w.c_str(), GENERIC_READ, FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE,
                              nullptr, OPEN_EXISTING, FILE_FLAG_BACKUP_SEMANTICS, nullptr));
  auto unavailable = [&] {
    return make_error(ErrorCode::not_found, "the share '" + share.config.name + "' is not available on the agent");
  };
  if (!h) return unavailable();
  auto info = win::info_of(h.get());
  auto path = win::final_path(h.get());
  if (!info || !info->directory() || !path) return unavailable();
  return Root{std::move(h), std::move(*path)};
}

std::string joined(const std::string& root, std::span<const std::string> canon) {
  std::string out = root;
  for (const auto& c : canon) {
    if (out.back() != '\\') out += '\\';
    out += c;
  }
  return out;
}

// A path resolved inside a share.
struct Resolved {
  std::vector<std::string> canon;  // Share-relative components, as on disk.
  std::string path;                // Its long path.
  win::Handle handle;              // GENERIC_READ, of the final object.
  win::FileInfo info;
  win::Handle parent;              // Its directory; files only.
  Visibility visibility = Visibility::full;
};

class Walk {
 public:
  Walk(const CompiledShare& share, const PathScope& scope) : share_(share), scope_(scope) {}

  Result<Resolved> run(std::span<const std::string> rel) {
    auto root = open_root(share_);
    if (!root) return root.error();
    root_path_ = std::move(root->path);
    dirs_.push_back(std::move(root->handle));
    for (size_t i = 0; i < rel.size(); ++i) {
      canon_.push_back(rel[i]);
      auto step = enter_last(i + 1 == rel.size());
      if (!step) return step.error();
      if (*step) return std::move(**step);
    }
    Resolved r;
    r.handle = std::move(dirs_.back());
    auto info = win::info_of(r.handle.get());
    if (!info) return info.error();
    r.info = *info;
    return finish(std::move(r));
  }

 private:
  // Opens canon_ (its last component is new). Returns a Resolved when it is
  // the final regular file, nullopt when the walk goes on.
  Result<std::optional<Resolved>> enter_last(bool last) {
    if (visibility_of(share_, canon_, scope_) == Visibility::hidden)
      return not_allowed("is outside the paths this requester may use");
    if (auto why = windows_names::component_problem(canon_.back())) return not_allowed(*why);
    if (excluded(share_, canon_, false)) return not_allowed("is excluded from the share");
    if (canon_.size() > kMaxDepth) return not_allowed("is nested too deeply");
    const std::string path = joined(root_path_, canon_);
    win::Handle h = win::open_no_follow(path, GENERIC_READ);
    if (!h) {
      DWORD err = ::GetLastError();
      const bool absent = err == ERROR_FILE_NOT_FOUND || err == ERROR_PATH_NOT_FOUND;
      if (absent && excluded(share_, canon_, true)) return not_allowed("is excluded from the share");
      if (absent && last && !included(share_, canon_)) return not_allowed("is not included in the share");
      return from_win32(err);
    }
    auto info = win::info_of(h.get());
    if (!info) return info.error();
    if (info->reparse_point())
      return not_allowed("is a symbolic link, junction or mount point, which the Windows agent does not follow");
    auto where = win::final_path(h.get());
    if (!where) return where.error();
    if (*where != path) return not_found();  // Another spelling, a short name, or moved.
    if (info->directory()) {
      if (excluded(share_, canon_, true)) return not_allowed("is excluded from the share");
      dirs_.push_back(std::move(h));
      return std::optional<Resolved>();
    }
    if (::GetFileType(h.get()) != FILE_TYPE_DISK) return not_allowed("is not a regular file or directory");
    if (!last) return not_found();  // "file\more".
    if (!included(share_, canon_)) return not_allowed("is not included in the share");
    if (refused_hard_link(share_, *info)) return hard_link();
    if (too_large(share_, *info)) return make_error(ErrorCode::too_large, "the file is larger than this share serves");
    Resolved r;
    r.handle = std::move(h);
    r.info = *info;
    r.parent = std::move(dirs_.back());
    auto done = finish(std::move(r));
    if (!done) return done.error();
    return std::optional<Resolved>(std::move(*done));
  }

  Result<Resolved> finish(Resolved r) {
    r.path = joined(root_path_, canon_);
    r.canon = std::move(canon_);
    r.visibility = visibility_of(share_, r.canon, scope_);
    return r;
  }

  const CompiledShare& share_;
  const PathScope& scope_;
  std::string root_path_;
  std::vector<win::Handle> dirs_;  // dirs_[0] is the root; held while walking.
  std::vector<std::string> canon_;
};

}  // namespace

Result<void> Shares::check_roots() const {
  for (const auto& s : shares_) {
    if (!open_root(s)) {
      return make_error(ErrorCode::bad_config, "share '" + s.config.name + "': cannot open " + s.config.root +
                                                   " as a folder (does it exist, and may the agent's account read it?)");
    }
  }
  return {};
}

Result<OpenedFile> Shares::open_file_once(std::string_view path, const PathScope& scope) const {
  auto parsed = parse_in_scope(path, scope);
  if (!parsed) return parsed.error();
  const auto& comps = parsed->components;
  if (comps.empty()) return make_error(ErrorCode::not_a_file, "the path is a directory");
  const CompiledShare* share = find(comps.front());
  if (!share) return no_share();
  auto r = Walk(*share, scope).run(std::span(comps).subspan(1));
  if (!r) return r.error();
  if (r->info.directory()) return make_error(ErrorCode::not_a_file, "the path is a directory");
  if (r->visibility != Visibility::full) return not_allowed("is outside the paths this requester may use");
  OpenedFile out;
  out.name = r->canon.back();
  out.path = requester_path(*share, r->canon);
  out.info = entry_info(comps.back(), r->info);
  auto fd = win::to_fd(std::move(r->handle));
  if (!fd) return fd.error();
  auto dir = win::to_fd(std::move(r->parent));
  if (!dir) return dir.error();
  out.fd = std::move(*fd);
  out.dir = std::move(*dir);
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
  return entry_info(comps.back(), r->info);
}

namespace {

// The entry `name` (FILE_ID_BOTH_DIR_INFO `d`) of the directory at `dir`
// (long path `dir_path`, canonical components `canon`), or nullopt when it
// is not servable.
std::optional<EntryInfo> entry_of(const CompiledShare& share, const PathScope& scope, const win::FileInfo& dir,
                                  const std::string& dir_path, std::vector<std::string>& canon,
                                  const FILE_ID_BOTH_DIR_INFO& d, const std::string& name, bool dir_fully_visible) {
  canon.push_back(name);
  struct Pop {
    std::vector<std::string>& v;
    ~Pop() { v.pop_back(); }
  } pop{canon};
  if (d.FileAttributes & FILE_ATTRIBUTE_REPARSE_POINT) return {};
  if (windows_names::component_problem(name)) return {};
  if (!dir_fully_visible && visibility_of(share, canon, scope) == Visibility::hidden) return {};
  if (excluded(share, canon, false)) return {};
  if (d.FileAttributes & FILE_ATTRIBUTE_DIRECTORY) {
    if (excluded(share, canon, true)) return {};
    win::FileInfo i;
    i.attributes = d.FileAttributes;
    i.mtime_ns = (d.LastWriteTime.QuadPart - 116444736000000000LL) * 100;
    return entry_info(name, i);
  }
  if (!included(share, canon)) return {};
  // The link count is not in the listing: open the entry, and make sure it
  // is the one listed.
  win::Handle h = win::open_no_follow(dir_path + "\\" + name, FILE_READ_ATTRIBUTES);
  if (!h) return {};
  auto i = win::info_of(h.get());
  if (!i || i->reparse_point() || i->directory() || i->volume != dir.volume ||
      i->file_id != static_cast<uint64_t>(d.FileId.QuadPart) || refused_hard_link(share, *i) || too_large(share, *i))
    return {};
  return entry_info(name, *i);
}

}  // namespace

Result<Listing> Shares::list(std::string_view path, const PathScope& scope, size_t max_entries) const {
  auto parsed = parse_in_scope(path, scope);
  if (!parsed) return parsed.error();
  const auto& comps = parsed->components;
  Listing out;
  if (comps.empty()) {
    for (const auto& s : shares_) {
      if (scope.visibility(std::span(&s.config.name, 1)) == Visibility::hidden) continue;
      auto root = open_root(s);
      if (!root) continue;
      auto info = win::info_of(root->handle.get());
      if (!info) continue;
      if (out.entries.size() == max_entries) {
        out.truncated = true;
        break;
      }
      out.entries.push_back(entry_info(s.config.name, *info));
    }
    return out;
  }
  const CompiledShare* share = find(comps.front());
  if (!share) return no_share();
  auto r = Walk(*share, scope).run(std::span(comps).subspan(1));
  if (!r) return r.error();
  if (!r->info.directory()) return make_error(ErrorCode::not_a_directory, "the path is a file");
  const bool full = r->visibility == Visibility::full;
  std::vector<std::string> canon = r->canon;
  // Entries come from the directory's own handle, not from its name.
  std::vector<uint64_t> buf(8 * 1024);  // 64 KiB, aligned for the records.
  for (FILE_INFO_BY_HANDLE_CLASS cls = FileIdBothDirectoryRestartInfo;; cls = FileIdBothDirectoryInfo) {
    if (!::GetFileInformationByHandleEx(r->handle.get(), cls, buf.data(), static_cast<DWORD>(buf.size() * 8))) {
      DWORD err = ::GetLastError();
      if (err == ERROR_NO_MORE_FILES) break;
      return io_error("cannot list the directory", err);
    }
    for (size_t at = 0;;) {
      const auto& d = *reinterpret_cast<const FILE_ID_BOTH_DIR_INFO*>(reinterpret_cast<const char*>(buf.data()) + at);
      std::string name = win::utf8(std::wstring_view(d.FileName, d.FileNameLength / sizeof(wchar_t)));
      if (!name.empty() && name != "." && name != "..") {
        if (auto e = entry_of(*share, scope, r->info, r->path, canon, d, name, full)) {
          if (out.entries.size() == max_entries) {
            out.truncated = true;
            sort_by_name(out);
            return out;
          }
          out.entries.push_back(std::move(*e));
        }
      }
      if (d.NextEntryOffset == 0) break;
      at += d.NextEntryOffset;
    }
  }
  sort_by_name(out);
  return out;
}

}  // namespace sealrelay::agent
