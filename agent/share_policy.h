// Shares and the path policy: which files the agent serves, and the resolver
// that turns a requester path into an open file descriptor without ever
// leaving the share. Read-only by construction: everything is opened
// O_RDONLY or O_PATH, and nothing here writes.
//
// Paths (request_path.h): "/" is the list of shares, "/<share>/..." is inside
// the share of that name. There is no default share.
//
// Resolution walks the path one component at a time with openat(O_PATH |
// O_NOFOLLOW) from a descriptor of the share root, holding a descriptor of
// every directory on the way; the final file or directory is returned as an
// open descriptor, so what was checked is what is read (no check-then-open
// race on names).
//
// Symbolic links (when the share's follow_symlinks is on, the default) are
// followed only while they stay inside the share: the link text is read
// from the link itself (readlinkat on its O_PATH descriptor) and walked by
// the same rules — ".." pops one directory off the walk and is refused at
// the share root; an absolute target is accepted only when it starts with
// the share root's path (as configured, or its real path), and the rest is
// then walked from the root descriptor.
// A link that would leave the share is refused as not_allowed from its text
// alone, so nothing outside the share is ever opened or stat'ed and the
// answer does not depend on whether the target exists. At most
// kMaxSymlinks links per resolution. With follow_symlinks off every link is
// refused (not_allowed) and left out of listings.
//
// Device files, FIFOs and sockets are refused (not_allowed) and left out of
// listings; they are never opened (only the race of a name being swapped for
// one between check and open opens one, O_NONBLOCK | O_NOCTTY, and refuses
// it straight away).
//
// Include/exclude patterns (glob.h) are matched against the share-relative
// path after symlinks. A path is excluded when it or any directory above it
// matches an exclude pattern: refused as not_allowed, decided from the name
// before it is opened, so an excluded path's existence does not leak. When
// a share has include patterns, a file is served only when it or a
// directory above it matches one; directories themselves are always
// traversable (a listing may show directories with nothing servable in
// them). A file larger than max_file_size is refused as too_large and left
// out of listings.
//
// Scopes (request_path.h PathScope) are checked on the path after symlinks
// at every step, also before opening, so a scoped requester cannot use a
// link to step out of its scope and learns nothing about paths outside it.
//
// Names are the names on disk. Requester paths are bytes compared exactly
// (request_path.h), but a file system may fold case or normalise names
// (vfat, exFAT, NTFS, CIFS, an ext4 casefold directory, ...): there "ID.KEY"
// opens the entry "id.key". So after each component is opened, the walk
// makes sure its directory holds an entry spelled exactly as asked (the
// directory is read, unless the file system is one known to compare names
// bytewise: btrfs, XFS without ascii-ci, ext2/3/4 and tmpfs in a directory
// without casefolding); another spelling is not_found. Excludes, includes
// and scopes are thereby decided on the names a listing shows, and no
// spelling gets round them. A name not among the first kMaxNameCheckEntries
// entries of such a directory is refused (not_allowed).
//
// Hard links: a regular file with more than one link (st_nlink > 1) is
// refused (not_allowed) and left out of listings, unless the share's
// allow_hard_links is on. Its other names may be outside the share, so the
// content may be a file the admin never shared (a local user linked it in).
//
// Error codes (Error::code): "bad_path" (syntax), "not_found", "not_allowed"
// (outside the share, excluded, out of scope, not included, special file,
// refused symlink, hard link, permission denied to the agent), "too_large",
// "not_a_file" (a get on a directory), "not_a_directory" (a list on a file),
// "changed" (swapped again and again while being opened), "io_error". Messages
// are sentences for the requester; they never name anything outside the
// share.
//
// Not covered, by design: mount points inside a share (crossed; the admin
// chose them); a local user who can move directories into and out of the
// share while a path is being resolved (they could move the files
// themselves).
#pragma once

#include "agent/glob.h"
#include "agent/request_path.h"
#include "agent/unique_fd.h"
#include "base/result.h"

#include <cstddef>
#include <cstdint>
#include <span>
#include <sys/stat.h>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sealrelay::agent {

// Most symbolic links followed while resolving one path (Linux's own limit).
constexpr int kMaxSymlinks = 40;
// Deepest directory a path may reach below a share root. The walk holds one
// descriptor per level, so this bounds the descriptors one request uses;
// deeper paths are refused as not_allowed.
constexpr size_t kMaxDepth = 128;
// Default cap on the entries of one listing.
constexpr size_t kDefaultMaxListEntries = 100'000;
// Most entries read from one directory to find a name spelled exactly as
// asked, on file systems that may fold names (see the header comment).
constexpr size_t kMaxNameCheckEntries = 1'000'000;

// One share as configured.
struct ShareConfig {
  // The first component of requester paths (request_path.h share names).
  std::string name;
  // Absolute path of the shared directory. Symbolic links in it are the
  // admin's and are followed; it is opened afresh for each request, so a
  // remounted or recreated directory is picked up.
  std::string root;
  // Glob patterns (glob.h); empty include means every file.
  std::vector<std::string> include;
  std::vector<std::string> exclude;
  // Files larger than this many bytes are not served.
  std::optional<uint64_t> max_file_size;
  // Whether symbolic links that stay inside the share are followed.
  bool follow_symlinks = true;
  // Whether files with more than one hard link are served (see above).
  bool allow_hard_links = false;
};

enum class EntryType { file, directory };

// What a requester may learn about one servable file or directory.
struct EntryInfo {
  std::string name;      // Last component of the requested path; "" for "/".
  EntryType type = EntryType::file;
  uint64_t size = 0;     // Bytes for a file; 0 for a directory.
  int64_t mtime_ns = 0;  // Last modification, nanoseconds since the epoch.

  friend bool operator==(const EntryInfo&, const EntryInfo&) = default;
};

// A directory listing: servable entries only, sorted by name (bytewise).
struct Listing {
  std::vector<EntryInfo> entries;
  // True when the directory had more servable entries than the cap; the
  // listing then holds an arbitrary subset of them.
  bool truncated = false;
};

// A regular file opened for a get.
struct OpenedFile {
  UniqueFd fd;          // O_RDONLY, blocking, close-on-exec; offset 0.
  UniqueFd dir;         // O_PATH descriptor of the directory holding it, and
  std::string name;     // its name there (for FileWatch, change_detect.h).
  std::string path;     // Requester path after symlinks, for local logs.
  EntryInfo info;       // fstat of `fd` right after opening; name is the
                        // requested last component. For the size a transfer
                        // promises, prefer FileWatch::snapshot().size, taken
                        // together with the change check's baseline.
};

namespace detail {
// A ShareConfig with its patterns compiled.
struct CompiledShare {
  ShareConfig config;
  std::vector<GlobPattern> include;
  std::vector<GlobPattern> exclude;
};
}  // namespace detail

// An entry a symbolic link led to, resolved by the rules of a get.
struct ResolvedEntry {
  UniqueFd fd;                     // O_PATH descriptor of the target.
  UniqueFd parent;                 // O_PATH of its directory (a file's only).
  struct stat st {};               // fstat of `fd`.
  std::vector<std::string> canon;  // Share-relative components after symlinks.
  bool fully_visible = true;       // In the requester's scope as a whole.
};

// One share's policy for one requester, entry by entry, for the folder
// walker (tree_walk.h): the decisions Shares makes for a get and a listing,
// on share-relative components after symlinks (`canon`). Holds references:
// it must not outlive the Shares and the scope it came from.
class SharePolicyView {
 public:
  SharePolicyView(const detail::CompiledShare& share, const PathScope& scope) : share_(share), scope_(scope) {}
  bool hidden(std::span<const std::string> canon) const;         // outside the scope entirely
  bool fully_visible(std::span<const std::string> canon) const;  // inside the scope as a whole
  bool excluded(std::span<const std::string> canon, bool is_directory) const;  // it or a folder above
  bool included(std::span<const std::string> canon) const;       // a file the includes serve
  bool refused_hard_link(const struct stat& st) const;
  bool too_large(uint64_t size) const;
  bool follows_symlinks() const { return share_.config.follow_symlinks; }
  // The target of the link at `canon`, whose directories the walker read
  // from disk: the errors of a get (not_found, not_allowed, too_large, ...).
  Result<ResolvedEntry> resolve(std::span<const std::string> canon) const;

 private:
  const detail::CompiledShare& share_;
  const PathScope& scope_;
};

// A folder opened for a tree transfer.
struct TreeRoot {
  ResolvedEntry dir;     // the folder (fd O_PATH)
  std::string name;      // its last component as requested ("" for a share root: the share's name)
  SharePolicyView policy;
};

// The docs/protocol.md §4.2 code a refusal carries for an error from this
// module: not_found → not_found; not_allowed and too_large → not_allowed;
// bad_path, not_a_file, not_a_directory → bad_request; anything else →
// internal. The error's message is meant to travel with it.
std::string_view protocol_error_code(std::string_view policy_code);

// The configured shares. Immutable after create(); every method is const
// and safe to call from many threads at once.
class Shares {
 public:
  // Validates the configuration: share names valid and unique, roots
  // absolute, patterns compile. Does not touch the file system (see
  // check_roots). Error "bad_config" saying which share and what.
  static Result<Shares> create(std::vector<ShareConfig> configs);

  // Ok when every share root can be opened as a directory now; otherwise
  // error "bad_config" naming the first share that cannot. For startup.
  Result<void> check_roots() const;

  // Resolves `path` to a regular file and opens it for reading. The path
  // must be fully visible in `scope`. Errors: see the header comment;
  // "not_a_file" for a directory. A file swapped between the walk and the
  // open is resolved again, a few times, before "changed" is returned.
  Result<OpenedFile> open_file(std::string_view path, const PathScope& scope) const;

  // Metadata of the file or directory at `path` ("/" and "/<share>"
  // included); the path may be an ancestor of `scope`.
  Result<EntryInfo> stat(std::string_view path, const PathScope& scope) const;

  // The servable entries of the directory at `path` ("/" lists the shares
  // visible in `scope`), at most `max_entries`. Entries are filtered by
  // exclude/include, max_file_size, hard links, type (symlinks are reported
  // as what they resolve to, inside the share; others hidden) and `scope`.
  Result<Listing> list(std::string_view path, const PathScope& scope,
                       size_t max_entries = kDefaultMaxListEntries) const;

  // Resolves the directory at `path` (below a share, which may be an
  // ancestor of `scope`) for a folder walk. Errors as for list().
  Result<TreeRoot> open_tree(std::string_view path, const PathScope& scope) const;

  // The share names, sorted.
  std::vector<std::string> names() const;


 private:
  Result<OpenedFile> open_file_once(std::string_view path, const PathScope& scope) const;
  // The share called `name`, or nullptr.
  const detail::CompiledShare* find(std::string_view name) const;
  explicit Shares(std::vector<detail::CompiledShare> shares) : shares_(std::move(shares)) {}
  // Immutable after construction; sorted by name.
  std::vector<detail::CompiledShare> shares_;
};

}  // namespace sealrelay::agent
