#include "requester/tree_writer.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "proto/errors.h"
#include "requester/terminal.h"

namespace sealrelay::requester {
namespace {

// The longest name whose NAME.part still fits a 255-byte component; a
// longer one is written to a fixed part name (one file is open at a time).
constexpr size_t kMaxNameWithPart = tree::kMaxComponentBytes - 5;

std::string last_component(const std::string& path) { return path.substr(path.rfind('/') + 1); }
std::string parent_of(const std::string& path) {
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? std::string() : path.substr(0, slash);
}
// `path` is strictly inside folder `folder` ("" is the landing folder).
bool inside(const std::string& path, const std::string& folder) {
  return folder.empty() || (path.size() > folder.size() && path.starts_with(folder) && path[folder.size()] == '/');
}
std::string part_name(const std::string& name) {
  return name.size() <= kMaxNameWithPart ? name + ".part" : ".sealrelay-long-name.part";
}

// Why an entry could not be made, from errno, without its name (the
// reporter prints the path, escaped).
std::string name_reason(int err) {
  switch (err) {
    case ENAMETOOLONG: case EILSEQ: case EINVAL:
      return std::string("the local file system cannot hold this name (") + std::strerror(err) + "); nothing renamed";
    case ELOOP: return "a symbolic link is in the way in the output folder (not followed)";
    case ENOTDIR: return "a file is in the way where a folder goes";
    case EISDIR: return "a folder is in the way where a file goes";
    default: return std::string("cannot create it: ") + std::strerror(err);
  }
}

// Opens folder `name` in `dir_fd` without following a symbolic link; on
// failure errno says why (ELOOP for a link, whatever open says otherwise).
int open_folder(int dir_fd, const std::string& name) {
  int fd = ::openat(dir_fd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd >= 0 || errno != ENOTDIR) return fd;
  struct stat st {};
  if (::fstatat(dir_fd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode)) errno = ELOOP;
  else errno = ENOTDIR;
  return -1;
}

void set_mtime(int fd, int64_t mtime) {
  const struct timespec times[2] = {{0, UTIME_OMIT}, {static_cast<time_t>(mtime), 0}};
  (void)::futimens(fd, times);
}

}  // namespace

struct TreeWriter::File {
  tree::FileRecord record;
  int dir_fd = -1;  // the parent's, held by branch_ (no folder record comes inside a file)
  std::string name, part;
  int fd = -1;
  Sha256 hash;
  std::string failed;    // ours: the content is discarded
  uint64_t written = 0;  // bytes the .part holds
  bool resumed = false;  // a prefix from the interrupted pull is in the hash
  bool already = false;  // verified in the interrupted pull: nothing to write
};

std::string_view entry_outcome_name(EntryOutcome outcome) {
  switch (outcome) {
    case EntryOutcome::kOk: return "ok";
    case EntryOutcome::kSkipped: return "skipped";
    case EntryOutcome::kFailed: return "failed";
  }
  return "failed";
}

Result<std::unique_ptr<TreeWriter>> TreeWriter::open(const std::filesystem::path& out, const std::string& folder,
                                                     TreeWriterOptions options, TreeReporter& reporter) {
  int fd = ::open(out.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) {
    return make_error(ErrorCode::io, "cannot open the output folder " + escaped(out.string()) + ": " + std::strerror(errno));
  }
  if (!folder.empty()) {
    if (folder.find('/') != std::string::npos || !tree::check_path(folder)) {
      ::close(fd);
      return make_error(ErrorCode::usage, "\"" + escaped(folder) + "\" cannot be a folder name here");
    }
    int made = ::mkdirat(fd, folder.c_str(), 0777) == 0 || errno == EEXIST ? 0 : errno;
    int landing = made ? -1 : open_folder(fd, folder);
    if (landing < 0 && !made) made = errno;
    ::close(fd);
    if (landing < 0) {
      return make_error(ErrorCode::unsafe_path, "cannot land the folder in " + escaped((out / folder).string()) + ": " +
                                                    name_reason(made));
    }
    fd = landing;
  }
  return std::unique_ptr<TreeWriter>(new TreeWriter(fd, std::move(options), reporter));
}

TreeWriter::TreeWriter(int landing_fd, TreeWriterOptions options, TreeReporter& reporter)
    : options_(std::move(options)), reporter_(reporter) {
  umask_ = ::umask(0);
  ::umask(umask_);
  branch_.push_back(Folder{"", landing_fd, "", std::nullopt});
}

TreeWriter::~TreeWriter() {
  if (file_ && file_->fd >= 0) ::close(file_->fd);  // the .part stays for a resume
  for (auto& f : branch_) {
    if (f.fd >= 0) ::close(f.fd);
  }
}

std::optional<TreeWriter::ResumePoint> TreeWriter::resume_point() const {
  if (!file_ || file_->already) return last_;
  const tree::FileRecord& r = file_->record;
  if (file_->fd < 0 || !file_->failed.empty()) return ResumePoint{r.path, true, r.size};
  return ResumePoint{r.path, false, file_->written};
}

TreeWriter::Folder TreeWriter::open_child(const Folder& parent, const std::string& path) {
  const std::string name = last_component(path);
  // 0700 while it fills; its own mode when the writer leaves it.
  if (::mkdirat(parent.fd, name.c_str(), 0700) != 0 && errno != EEXIST) return Folder{path, -1, name_reason(errno), {}};
  int fd = open_folder(parent.fd, name);
  if (fd < 0) return Folder{path, -1, name_reason(errno), {}};
  return Folder{path, fd, "", {}};
}

void TreeWriter::leave_top() {
  Folder& f = branch_.back();
  if (f.fd >= 0) {
    if (f.meta) {
      (void)::fchmod(f.fd, static_cast<mode_t>(f.meta->mode & 0777 & ~umask_));
      set_mtime(f.fd, f.meta->mtime);
    }
    ::close(f.fd);
  }
  branch_.pop_back();
}

Result<TreeWriter::Folder*> TreeWriter::enter_parent_of(const std::string& path) {
  const std::string parent = parent_of(path);
  while (branch_.size() > 1 && branch_.back().path != parent && !inside(parent, branch_.back().path)) leave_top();
  // Folders above a resume point were made by the interrupted pull: opened
  // again (or made) here, the same way.
  while (branch_.back().path != parent) {
    const Folder& top = branch_.back();
    size_t end = parent.find('/', top.path.empty() ? 0 : top.path.size() + 1);
    std::string sub = parent.substr(0, end);
    Folder next = top.failed.empty() ? open_child(top, sub) : Folder{sub, -1, top.failed, {}};
    branch_.push_back(std::move(next));
  }
  return &branch_.back();
}

Result<void> TreeWriter::fail_entry(const std::string& path, bool folder, std::string reason) {
  reporter_.entry(EntryResult{path, folder, EntryOutcome::kFailed, 0, std::nullopt, reason});
  if (options_.strict) {
    return make_error(ErrorCode::partial, "--strict: \"" + escaped(path) + "\" failed (" + reason + "); stopped there");
  }
  return {};
}

Result<void> TreeWriter::skip_entry(const EntryResult& skipped) {
  reporter_.entry(skipped);
  if (options_.strict) {
    return make_error(ErrorCode::partial, "--strict: the agent skipped \"" + escaped(skipped.path) + "\" (" +
                                              skipped.reason + "); stopped there");
  }
  return {};
}

Result<void> TreeWriter::on_dir(const tree::DirRecord& record) {
  if (auto ok = tree::check_path(record.path); !ok) return ok;  // the decoder's rule, held here too
  last_ = ResumePoint{record.path, true, 0};
  if (options_.flat) return {};  // a glob pull lands its files only
  auto parent = enter_parent_of(record.path);
  if (!parent) return parent.error();
  Folder f = (*parent)->failed.empty() ? open_child(**parent, record.path)
                                       : Folder{record.path, -1, (*parent)->failed, {}};
  f.meta = record;
  const std::string failed = f.failed;
  branch_.push_back(std::move(f));
  return failed.empty() ? Result<void>() : fail_entry(record.path, true, failed);
}

Result<void> TreeWriter::on_file(const tree::FileRecord& record) {
  if (auto ok = tree::check_path(record.path); !ok) return ok;
  reporter_.file_started(record);
  file_ = std::make_unique<File>();
  file_->record = record;
  if (options_.flat && record.path.find('/') != std::string::npos) {
    file_->failed = "below the folder (a glob pulls that folder's own files)";
    return {};
  }
  auto parent = options_.flat ? Result<Folder*>(&branch_.front()) : enter_parent_of(record.path);
  if (!parent) return parent.error();
  file_->failed = (*parent)->failed.empty() ? start_file(**parent, record, *file_)
                                           : "its folder could not be made: " + (*parent)->failed;
  return {};
}

// Opens the file's .part (new, or the interrupted pull's to continue);
// the reason it cannot be written, or "".
std::string TreeWriter::start_file(Folder& parent, const tree::FileRecord& record, File& file) {
  file.dir_fd = parent.fd;
  file.name = last_component(record.path);
  file.part = part_name(file.name);
  const bool resuming = options_.resume_path == record.path;
  if (resuming && options_.resume_done) {
    if (record.offset == record.size) {
      file.already = true;
      return "";
    }
    return "it changed since the interrupted pull verified it; pull it again with --force";
  }
  struct stat st {};
  if (::fstatat(parent.fd, file.name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0) {
    if (S_ISLNK(st.st_mode)) return "a symbolic link is in the way in the output folder (not followed, not replaced)";
    if (!S_ISREG(st.st_mode)) return "a folder or special file is in the way";
    if (!options_.overwrite) return "it exists; use --force to replace it";
  } else if (errno != ENOENT) {
    return name_reason(errno);
  }
  if (record.offset > 0) {
    if (!resuming) return "the agent resumed a file this side did not ask for";
    file.fd = ::openat(parent.fd, file.part.c_str(), O_RDWR | O_NOFOLLOW | O_CLOEXEC);
    if (file.fd < 0 || ::fstat(file.fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_uid != ::geteuid() ||
        static_cast<uint64_t>(st.st_size) < record.offset) {
      return "its .part from the interrupted pull is gone or not a file of yours; pull it again";
    }
    std::vector<uint8_t> buf(1u << 16);
    for (uint64_t at = 0; at < record.offset;) {
      ssize_t n = ::pread(file.fd, buf.data(), std::min<uint64_t>(buf.size(), record.offset - at), static_cast<off_t>(at));
      if (n <= 0) return std::string("cannot read its .part: ") + std::strerror(errno);
      file.hash.update(std::span(buf).first(static_cast<size_t>(n)));
      at += static_cast<uint64_t>(n);
    }
    if (::ftruncate(file.fd, static_cast<off_t>(record.offset)) != 0 ||
        ::lseek(file.fd, static_cast<off_t>(record.offset), SEEK_SET) < 0) {
      return std::string("cannot continue its .part: ") + std::strerror(errno);
    }
    file.resumed = true;
    file.written = record.offset;
    return "";
  }
  // The interrupted pull's own .part, which the agent starts over.
  if (resuming) (void)::unlinkat(parent.fd, file.part.c_str(), 0);
  file.fd = ::openat(parent.fd, file.part.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (file.fd < 0) {
    return errno == EEXIST ? "its .part is in the way (from an earlier pull: --resume continues it, or delete it)"
                           : name_reason(errno);
  }
  return "";
}

Result<void> TreeWriter::on_data(std::span<const uint8_t> bytes) {
  reporter_.file_bytes(bytes.size());
  File& f = *file_;
  if (f.fd < 0 || !f.failed.empty()) return {};
  f.hash.update(bytes);
  while (!bytes.empty()) {
    ssize_t n = ::write(f.fd, bytes.data(), bytes.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      f.failed = std::string("cannot write it: ") + std::strerror(n < 0 ? errno : ENOSPC);
      drop_file();
      return {};
    }
    bytes = bytes.subspan(static_cast<size_t>(n));
    f.written += static_cast<uint64_t>(n);
  }
  return {};
}

// Closes and deletes the current file's .part.
void TreeWriter::drop_file() {
  File& f = *file_;
  if (f.fd < 0) return;
  ::close(f.fd);
  f.fd = -1;
  (void)::unlinkat(f.dir_fd, f.part.c_str(), 0);
}

Result<void> TreeWriter::on_file_end(const tree::FileEndRecord& record) {
  const tree::FileRecord rec = file_->record;
  last_ = ResumePoint{rec.path, true, rec.size};
  if (file_->already) {
    file_.reset();
    return {};
  }
  Result<void> stop;
  std::string failed = finish_file(*file_, record, stop);
  file_.reset();
  if (!stop) return stop;
  if (!failed.empty()) return fail_entry(rec.path, false, failed);
  if (record.status != tree::FileStatus::kOk) {
    return skip_entry(EntryResult{rec.path, false, EntryOutcome::kSkipped, rec.size, std::nullopt,
                                  std::string(tree::file_status_name(record.status))});
  }
  reporter_.entry(EntryResult{rec.path, false, EntryOutcome::kOk, rec.size, record.sha256, ""});
  return {};
}

// Verifies the file and gives it its final name; the reason it failed, or
// "" (then skipped or ok). `stop` set: the stream is not to be trusted further.
std::string TreeWriter::finish_file(File& f, const tree::FileEndRecord& record, Result<void>& stop) {
  if (!f.failed.empty() || record.status != tree::FileStatus::kOk) {
    drop_file();
    return f.failed;
  }
  if (f.hash.finish() != record.sha256) {
    drop_file();
    if (f.resumed) return "its part from the interrupted pull no longer matches the agent's file (deleted); pull it again";
    stop = make_error(ErrorCode::bad_tree, "a file's content does not match the SHA-256 the agent sent with it; it was "
                                           "deleted and the pull stopped");
    return "";
  }
  (void)::fchmod(f.fd, static_cast<mode_t>(f.record.mode & 0777 & ~umask_));
  set_mtime(f.fd, f.record.mtime);
  ::close(f.fd);
  f.fd = -1;
  const int renamed = options_.overwrite
                          ? ::renameat(f.dir_fd, f.part.c_str(), f.dir_fd, f.name.c_str())
                          : ::renameat2(f.dir_fd, f.part.c_str(), f.dir_fd, f.name.c_str(), RENAME_NOREPLACE);
  if (renamed != 0) {
    const int err = errno;
    (void)::unlinkat(f.dir_fd, f.part.c_str(), 0);
    return err == EEXIST ? "it appeared in the output folder during the pull; use --force to replace it"
                         : name_reason(err);
  }
  return "";
}

Result<void> TreeWriter::on_skip(const tree::SkipRecord& record) {
  last_ = ResumePoint{record.path, true, 0};
  EntryResult skipped{record.path, false, EntryOutcome::kSkipped, 0, std::nullopt,
                      std::string(tree::skip_reason_name(record.reason))};
  skipped.skip_record = true;
  return skip_entry(skipped);
}

Result<void> TreeWriter::on_end(const tree::EndRecord& record) {
  while (branch_.size() > 1) leave_top();
  end_ = record;
  return {};
}

}  // namespace sealrelay::requester
