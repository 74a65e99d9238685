#include "requester/tree_landing.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace sealrelay::requester {
namespace {

// The longest name whose NAME.part still fits a 255-byte component.
constexpr size_t kMaxNameWithPart = tree::kMaxComponentBytes - 5;

void set_mtime(int fd, int64_t mtime) {
  const struct timespec times[2] = {{0, UTIME_OMIT}, {static_cast<time_t>(mtime), 0}};
  (void)::futimens(fd, times);
}

}  // namespace

std::string part_name(const std::string& name) {
  if (name.size() <= kMaxNameWithPart) return name + ".part";
  static const char* digits = "0123456789abcdef";
  const Sha256Digest d = Sha256::of({reinterpret_cast<const uint8_t*>(name.data()), name.size()});
  std::string out = ".sealrelay-long-";
  for (size_t i = 0; i < 16; ++i) {
    out += digits[d[i] >> 4];
    out += digits[d[i] & 15];
  }
  return out + ".part";
}

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

Landing::Landing(LandingRules rules, LandingLimits limits) : rules_(std::move(rules)), limits_(limits) {
  for (size_t i = 0; i < std::max<size_t>(limits_.threads, 1); ++i) writers_.emplace_back([this] { run(); });
}

Landing::~Landing() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
    for (auto& job : open_) {
      if (!job->no_more) job->cut = true;
      job->no_more = true;
      job->more.notify_one();
    }
  }
  work_.notify_all();
  for (auto& t : writers_) t.join();
}

void Landing::submit(const std::shared_ptr<FileJob>& job) {
  {
    std::lock_guard lock(mu_);
    if (!job->failed.empty()) {  // nothing to write: it lands at once
      job->landed = true;
      job->no_more = true;
      ++progress_;
      return;
    }
    queue_.push_back(job);
    open_.push_back(job);
  }
  work_.notify_one();
}

void Landing::add(FileJob& job, std::span<const uint8_t> bytes) {
  {
    std::lock_guard lock(mu_);
    if (job.landed || bytes.empty()) return;
    job.chunks.emplace_back(bytes.begin(), bytes.end());
    queued_bytes_ += bytes.size();
    peak_bytes_ = std::max(peak_bytes_, queued_bytes_);
  }
  job.more.notify_one();
}

void Landing::end(FileJob& job, const tree::FileEndRecord& record) {
  {
    std::lock_guard lock(mu_);
    job.end = record;
    job.no_more = true;
  }
  job.more.notify_one();
}

void Landing::cut(FileJob& job) {
  {
    std::lock_guard lock(mu_);
    if (!job.no_more) job.cut = true;
    job.no_more = true;
  }
  job.more.notify_one();
}

bool Landing::landed(const FileJob& job) const {
  std::lock_guard lock(mu_);
  return job.landed;
}

bool Landing::idle() const {
  std::lock_guard lock(mu_);
  return open_.empty();
}

bool Landing::fits(size_t bytes) const {
  std::lock_guard lock(mu_);
  return queued_bytes_ == 0 || queued_bytes_ + bytes <= limits_.max_bytes;
}

uint64_t Landing::progress() const {
  std::lock_guard lock(mu_);
  return progress_;
}

void Landing::wait_past(uint64_t seen) const {
  std::unique_lock lock(mu_);
  progressed_.wait(lock, [&] { return progress_ != seen; });
}

size_t Landing::peak_bytes() const {
  std::lock_guard lock(mu_);
  return peak_bytes_;
}

void Landing::run() {
  for (;;) {
    std::shared_ptr<FileJob> job;
    {
      std::unique_lock lock(mu_);
      work_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;
      job = std::move(queue_.front());
      queue_.pop_front();
    }
    land(*job);
  }
}

void Landing::mark_landed(FileJob& job) {
  {
    std::lock_guard lock(mu_);
    job.landed = true;
    ++progress_;
    std::erase_if(open_, [&](const std::shared_ptr<FileJob>& j) { return j.get() == &job; });
  }
  progressed_.notify_all();
}

// One file on one writer: its .part opened, its bytes as they come, then
// verified and closed (or left for a resume when the stream stopped).
void Landing::land(FileJob& job) {
  job.failed = open_part(job);
  for (;;) {
    std::vector<uint8_t> chunk;
    {
      std::unique_lock lock(mu_);
      job.more.wait(lock, [&] { return !job.chunks.empty() || job.no_more; });
      if (job.chunks.empty()) break;
      chunk = std::move(job.chunks.front());
      job.chunks.pop_front();
    }
    write_chunk(job, chunk);
    {
      std::lock_guard lock(mu_);
      queued_bytes_ -= chunk.size();
      ++progress_;
    }
    progressed_.notify_all();
  }
  finish(job);
  mark_landed(job);
}

// Opens the file's .part (new, or the interrupted pull's to continue);
// the reason it cannot be written, or "".
std::string Landing::open_part(FileJob& job) {
  const tree::FileRecord& record = job.record;
  const bool resuming = rules_.resume_path == record.path;
  if (resuming && rules_.resume_done) {
    if (record.offset == record.size) {
      job.already = true;
      return "";
    }
    return "it changed since the interrupted pull verified it; pull it again with --force";
  }
  struct stat st {};
  if (::fstatat(job.dir_fd, job.name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0) {
    if (S_ISLNK(st.st_mode)) return "a symbolic link is in the way in the output folder (not followed, not replaced)";
    if (!S_ISREG(st.st_mode)) return "a folder or special file is in the way";
    if (!rules_.overwrite) return "it exists; use --force to replace it";
  } else if (errno != ENOENT) {
    return name_reason(errno);
  }
  if (record.offset > 0) {
    if (!resuming) return "the agent resumed a file this side did not ask for";
    return continue_part(job);
  }
  // The interrupted pull's own .part, which the agent starts over; in a
  // resumed pull, also a later file's .part of ours that the interrupted
  // pull's writers had in flight when it was killed.
  if (resuming) (void)::unlinkat(job.dir_fd, job.part.c_str(), 0);
  const int flags = O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC;
  job.fd = ::openat(job.dir_fd, job.part.c_str(), flags, 0600);
  if (job.fd < 0 && errno == EEXIST && rules_.resume_path &&
      ::fstatat(job.dir_fd, job.part.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode) &&
      st.st_uid == ::geteuid() && ::unlinkat(job.dir_fd, job.part.c_str(), 0) == 0) {
    job.fd = ::openat(job.dir_fd, job.part.c_str(), flags, 0600);
  }
  if (job.fd < 0) {
    return errno == EEXIST ? "its .part is in the way (from an earlier pull: --resume continues it, or delete it)"
                           : name_reason(errno);
  }
  return "";
}

// The interrupted pull's .part: its prefix read into the hash, the rest cut.
std::string Landing::continue_part(FileJob& job) {
  const uint64_t offset = job.record.offset;
  struct stat st {};
  job.fd = ::openat(job.dir_fd, job.part.c_str(), O_RDWR | O_NOFOLLOW | O_CLOEXEC);
  if (job.fd < 0 || ::fstat(job.fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_uid != ::geteuid() ||
      static_cast<uint64_t>(st.st_size) < offset) {
    return "its .part from the interrupted pull is gone or not a file of yours; pull it again";
  }
  std::vector<uint8_t> buf(1u << 16);
  for (uint64_t at = 0; at < offset;) {
    ssize_t n = ::pread(job.fd, buf.data(), std::min<uint64_t>(buf.size(), offset - at), static_cast<off_t>(at));
    if (n <= 0) return std::string("cannot read its .part: ") + std::strerror(errno);
    job.hash.update(std::span(buf).first(static_cast<size_t>(n)));
    at += static_cast<uint64_t>(n);
  }
  if (::ftruncate(job.fd, static_cast<off_t>(offset)) != 0 || ::lseek(job.fd, static_cast<off_t>(offset), SEEK_SET) < 0) {
    return std::string("cannot continue its .part: ") + std::strerror(errno);
  }
  job.resumed = true;
  job.written = offset;
  return "";
}

void Landing::write_chunk(FileJob& job, const std::vector<uint8_t>& chunk) {
  if (job.fd < 0 || !job.failed.empty()) return;
  job.hash.update(chunk);
  std::span<const uint8_t> bytes(chunk);
  while (!bytes.empty()) {
    ssize_t n = ::write(job.fd, bytes.data(), bytes.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      job.failed = std::string("cannot write it: ") + std::strerror(n < 0 ? errno : ENOSPC);
      drop(job);
      return;
    }
    bytes = bytes.subspan(static_cast<size_t>(n));
    job.written += static_cast<uint64_t>(n);
  }
}

// At FILE_END: verified, its mode and mtime set and closed — or deleted.
// Cut: closed, its .part kept for a resume.
void Landing::finish(FileJob& job) {
  if (job.fd < 0) return;
  if (job.cut) {
    ::close(job.fd);
    job.fd = -1;
    return;
  }
  if (!job.failed.empty() || job.end->status != tree::FileStatus::kOk) {
    drop(job);
    return;
  }
  if (job.hash.finish() != job.end->sha256) {
    job.mismatch = true;
    drop(job);
    return;
  }
  (void)::fchmod(job.fd, static_cast<mode_t>(job.record.mode & 0777 & ~rules_.umask));
  set_mtime(job.fd, job.record.mtime);
  ::close(job.fd);
  job.fd = -1;
}

// Closes and deletes the file's .part.
void Landing::drop(FileJob& job) {
  if (job.fd < 0) return;
  ::close(job.fd);
  job.fd = -1;
  job.written = 0;
  (void)::unlinkat(job.dir_fd, job.part.c_str(), 0);
}

}  // namespace sealrelay::requester
