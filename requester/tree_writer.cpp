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

std::string last_component(const std::string& path) { return path.substr(path.rfind('/') + 1); }
std::string parent_of(const std::string& path) {
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? std::string() : path.substr(0, slash);
}
// `path` is strictly inside folder `folder` ("" is the landing folder).
bool inside(const std::string& path, const std::string& folder) {
  return folder.empty() || (path.size() > folder.size() && path.starts_with(folder) && path[folder.size()] == '/');
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
  landing_ = std::make_unique<Landing>(
      LandingRules{options_.overwrite, options_.resume_path, options_.resume_done, umask_}, options_.limits);
}

TreeWriter::~TreeWriter() {
  (void)flush();
  landing_.reset();  // every writer stopped: nothing uses a folder's descriptor any more
  drop_pending();
  for (auto& f : branch_) {
    if (f.fd >= 0) ::close(f.fd);
  }
}

// What is left after a stop (or a cut): the first file keeps its .part for
// a resume unless the pull stopped before it; after it nothing was handled
// and no .part may stay in a resumed stream's way.
void TreeWriter::drop_pending() {
  bool first = !stop_;
  for (auto& p : pending_) {
    if (p.file && p.file->dir_fd >= 0 && p.file->failed.empty() && !p.file->already && !first) {
      (void)::unlinkat(p.file->dir_fd, p.file->part.c_str(), 0);
    }
    if (p.folder) close_folder(*p.folder, false);
    first = false;
  }
  pending_.clear();
}

std::optional<TreeWriter::ResumePoint> TreeWriter::resume_point() const {
  if (stop_ || pending_.empty() || !pending_.front().file) return last_;
  const FileJob& f = *pending_.front().file;
  const ResumePoint open{f.record.path, false, f.written};
  if (!landing_->landed(f)) return open;
  if (f.already) return last_;
  const bool done = !f.failed.empty() || f.mismatch || (f.end && f.end->status != tree::FileStatus::kOk);
  return done ? ResumePoint{f.record.path, true, f.record.size} : open;
}

TreeWriter::Folder TreeWriter::open_child(const Folder& parent, const std::string& path) {
  const std::string name = last_component(path);
  // 0700 while it fills; its own mode when the writer leaves it.
  if (::mkdirat(parent.fd, name.c_str(), 0700) != 0 && errno != EEXIST) return Folder{path, -1, name_reason(errno), {}};
  int fd = open_folder(parent.fd, name);
  if (fd < 0) return Folder{path, -1, name_reason(errno), {}};
  return Folder{path, fd, "", {}};
}

// A folder's mode and mtime are set once everything inside it was handled
// (renames change its mtime): at once, or when its turn comes.
void TreeWriter::leave_top() {
  if (pending_.empty()) {
    close_folder(branch_.back(), true);
  } else {
    pending_.push_back(Pending{nullptr, std::move(branch_.back()), std::nullopt, std::nullopt});
  }
  branch_.pop_back();
}

void TreeWriter::close_folder(Folder& f, bool apply) {
  if (f.fd < 0) return;
  if (apply && f.meta) {
    (void)::fchmod(f.fd, static_cast<mode_t>(f.meta->mode & 0777 & ~umask_));
    set_mtime(f.fd, f.meta->mtime);
  }
  ::close(f.fd);
  f.fd = -1;
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

// Hands every entry whose turn came, in stream order, until one is still
// in flight; the error that stopped the pull, once there is one.
Result<void> TreeWriter::commit_ready() {
  while (!stop_ && !pending_.empty()) {
    Pending& p = pending_.front();
    if (p.file && (!landing_->landed(*p.file) || p.file->cut)) break;
    if (auto ok = commit(p); !ok) stop_ = ok.error();  // a stopping file's .part is already gone
    pending_.pop_front();
  }
  if (stop_) return *stop_;
  return {};
}

Result<void> TreeWriter::commit(Pending& p) {
  if (p.folder) {
    close_folder(*p.folder, true);
    return {};
  }
  if (p.handled) last_ = ResumePoint{*p.handled, true, 0};
  if (p.file) return commit_file(*p.file);
  if (!p.report) return {};
  if (p.report->outcome == EntryOutcome::kFailed) return fail_entry(p.report->path, p.report->folder, p.report->reason);
  return skip_entry(*p.report);
}

// A landed file: its final name once verified (never over a name that
// appeared meanwhile unless --force), and its report.
Result<void> TreeWriter::commit_file(FileJob& f) {
  const tree::FileRecord& rec = f.record;
  last_ = ResumePoint{rec.path, true, rec.size};
  if (f.already) return {};
  if (f.mismatch) {
    if (f.resumed) {
      return fail_entry(rec.path, false, "its part from the interrupted pull no longer matches the agent's file "
                                         "(deleted); pull it again");
    }
    return make_error(ErrorCode::bad_tree, "a file's content does not match the SHA-256 the agent sent with it; it was "
                                           "deleted and the pull stopped");
  }
  if (!f.failed.empty()) return fail_entry(rec.path, false, f.failed);
  if (f.end->status != tree::FileStatus::kOk) {
    return skip_entry(EntryResult{rec.path, false, EntryOutcome::kSkipped, rec.size, std::nullopt,
                                  std::string(tree::file_status_name(f.end->status))});
  }
  const int renamed = options_.overwrite
                          ? ::renameat(f.dir_fd, f.part.c_str(), f.dir_fd, f.name.c_str())
                          : ::renameat2(f.dir_fd, f.part.c_str(), f.dir_fd, f.name.c_str(), RENAME_NOREPLACE);
  if (renamed != 0) {
    const int err = errno;
    (void)::unlinkat(f.dir_fd, f.part.c_str(), 0);
    return fail_entry(rec.path, false, err == EEXIST ? "it appeared in the output folder during the pull; use --force "
                                                       "to replace it"
                                                     : name_reason(err));
  }
  reporter_.entry(EntryResult{rec.path, false, EntryOutcome::kOk, rec.size, f.end->sha256, ""});
  return {};
}

// Waits, handing entries whose turn came, until `bytes` more content and
// one more entry fit the bounds.
Result<void> TreeWriter::make_room(size_t bytes) {
  for (;;) {
    const uint64_t seen = landing_->progress();
    if (auto ok = commit_ready(); !ok) return ok;
    if (pending_.size() < options_.limits.max_entries && landing_->fits(bytes)) return {};
    landing_->wait_past(seen);
  }
}

Result<void> TreeWriter::flush() {
  if (file_) {
    landing_->cut(*file_);
    file_.reset();
  }
  for (;;) {
    const uint64_t seen = landing_->progress();
    const bool idle = landing_->idle();  // before: what lands meanwhile waits for the next round
    if (auto ok = commit_ready(); !ok) return ok;
    if (idle) return {};
    landing_->wait_past(seen);
  }
}

Result<void> TreeWriter::on_dir(const tree::DirRecord& record) {
  if (auto ok = tree::check_path(record.path); !ok) return ok;  // the decoder's rule, held here too
  if (auto room = make_room(0); !room) return room;
  std::optional<EntryResult> failed;
  if (!options_.flat) {
    auto parent = enter_parent_of(record.path);
    if (!parent) return parent.error();
    Folder f = (*parent)->failed.empty() ? open_child(**parent, record.path)
                                         : Folder{record.path, -1, (*parent)->failed, {}};
    f.meta = record;
    if (!f.failed.empty()) failed = EntryResult{record.path, true, EntryOutcome::kFailed, 0, std::nullopt, f.failed};
    branch_.push_back(std::move(f));
  }
  pending_.push_back(Pending{nullptr, std::nullopt, std::move(failed), record.path});
  return commit_ready();
}

Result<void> TreeWriter::on_file(const tree::FileRecord& record) {
  if (auto ok = tree::check_path(record.path); !ok) return ok;
  if (auto room = make_room(0); !room) return room;
  reporter_.file_started(record);
  file_ = std::make_shared<FileJob>();
  file_->record = record;
  if (options_.flat && record.path.find('/') != std::string::npos) {
    file_->failed = "below the folder (a glob pulls that folder's own files)";
  } else {
    auto parent = options_.flat ? Result<Folder*>(&branch_.front()) : enter_parent_of(record.path);
    if (!parent) return parent.error();
    file_->dir_fd = (*parent)->fd;
    file_->name = last_component(record.path);
    file_->part = part_name(file_->name);
    if (!(*parent)->failed.empty()) file_->failed = "its folder could not be made: " + (*parent)->failed;
  }
  pending_.push_back(Pending{file_, std::nullopt, std::nullopt, std::nullopt});
  landing_->submit(file_);
  return {};
}

Result<void> TreeWriter::on_data(std::span<const uint8_t> bytes) {
  reporter_.file_bytes(bytes.size());
  if (auto room = make_room(bytes.size()); !room) return room;
  landing_->add(*file_, bytes);
  return {};
}

Result<void> TreeWriter::on_file_end(const tree::FileEndRecord& record) {
  landing_->end(*file_, record);
  file_.reset();
  return commit_ready();
}

Result<void> TreeWriter::on_skip(const tree::SkipRecord& record) {
  if (auto room = make_room(0); !room) return room;
  EntryResult skipped{record.path, false, EntryOutcome::kSkipped, 0, std::nullopt,
                      std::string(tree::skip_reason_name(record.reason))};
  skipped.skip_record = true;
  pending_.push_back(Pending{nullptr, std::nullopt, std::move(skipped), record.path});
  return commit_ready();
}

Result<void> TreeWriter::on_end(const tree::EndRecord& record) {
  while (branch_.size() > 1) leave_top();
  end_ = record;
  return flush();
}

}  // namespace sealrelay::requester
