#include "requester/tree_pull.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <nlohmann/json.hpp>

#include "proto/errors.h"
#include "requester/terminal.h"

namespace sealrelay::requester {
namespace {

using nlohmann::json;
using ResumePoint = TreeWriter::ResumePoint;

constexpr size_t kMaxJournalBytes = 64 * 1024;

struct Journal {
  std::string agent, path, folder;
  std::optional<ResumePoint> point;
};

bool same_pull(const Journal& j, const TreePullOptions& o) {
  return j.agent == o.agent && j.path == o.remote_path && j.folder == o.folder;
}

// OUT/.sealrelay-tree.journal: created 0600 with O_NOFOLLOW when the agent
// accepted, rewritten in place as the stream goes.
class JournalFile {
 public:
  JournalFile(int out_fd, const TreePullOptions& o) : out_fd_(out_fd), header_{o.agent, o.remote_path, o.folder, {}} {}
  ~JournalFile() {
    if (fd_ >= 0) ::close(fd_);
  }
  JournalFile(const JournalFile&) = delete;
  JournalFile& operator=(const JournalFile&) = delete;

  Result<void> save(const std::optional<ResumePoint>& point, bool sync) {
    if (!point || (written_ == point && !sync)) return {};
    if (fd_ < 0) {
      fd_ = ::openat(out_fd_, kTreeJournalName, O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
      if (fd_ < 0) return make_error(ErrorCode::io, std::string("cannot write the pull's journal: ") + std::strerror(errno));
    }
    json j{{"v", 1}, {"agent", header_.agent}, {"path", header_.path}, {"folder", header_.folder},
           {"resume", {{"path", point->path}, {"done", point->done}, {"offset", point->offset}}}};
    const std::string text = j.dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
    if (::pwrite(fd_, text.data(), text.size(), 0) != static_cast<ssize_t>(text.size()) ||
        ::ftruncate(fd_, static_cast<off_t>(text.size())) != 0 || (sync && ::fsync(fd_) != 0)) {
      return make_error(ErrorCode::io, std::string("cannot write the pull's journal: ") + std::strerror(errno));
    }
    written_ = point;
    return {};
  }
  void remove() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
    (void)::unlinkat(out_fd_, kTreeJournalName, 0);
  }

 private:
  int out_fd_;
  Journal header_;
  int fd_ = -1;
  std::optional<ResumePoint> written_;
};

Result<std::optional<Journal>> read_journal(int out_fd) {
  int fd = ::openat(out_fd, kTreeJournalName, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0 && errno == ENOENT) return std::optional<Journal>();
  const Error unusable = make_error(ErrorCode::usage, std::string("the output folder's ") + kTreeJournalName +
                                                          " is not a journal of yours; delete it to start over");
  struct stat st {};
  if (fd < 0 || ::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_uid != ::geteuid() ||
      static_cast<size_t>(st.st_size) > kMaxJournalBytes) {
    if (fd >= 0) ::close(fd);
    return unusable;
  }
  std::string text(static_cast<size_t>(st.st_size), '\0');
  const bool read_all = ::pread(fd, text.data(), text.size(), 0) == static_cast<ssize_t>(text.size());
  ::close(fd);
  auto j = json::parse(text, nullptr, false);
  if (!read_all || !j.is_object() || !j.contains("resume") || !j["resume"].is_object()) return unusable;
  try {
    Journal out{j.at("agent").get<std::string>(), j.at("path").get<std::string>(), j.at("folder").get<std::string>(),
                ResumePoint{j["resume"].at("path").get<std::string>(), j["resume"].at("done").get<bool>(),
                            j["resume"].at("offset").get<uint64_t>()}};
    if (!tree::check_path(out.point->path)) return unusable;
    return std::optional<Journal>(std::move(out));
  } catch (const json::exception&) {
    return unusable;
  }
}

// The Sink of one tree request: verified stream bytes into the decoder,
// the writer behind it, the journal kept up to date.
class TreeSink : public Sink {
 public:
  TreeSink(const TreePullOptions& o, TreeWriterOptions writer_options, JournalFile& journal, TreeReporter& reporter)
      : o_(o), writer_options_(std::move(writer_options)), journal_(journal), reporter_(reporter) {}

  Result<void> begin(const Answer& answer, const std::function<void(std::span<const uint8_t>)>&) override {
    if (answer.type != EntryType::kDirectory) {
      return make_error(ErrorCode::not_allowed, "\"" + escaped(o_.remote_path) + "\" is a file: drop -r to get it");
    }
    auto writer = TreeWriter::open(o_.out, o_.folder, writer_options_, reporter_);
    if (!writer) return writer.error();
    writer_ = std::move(*writer);
    reporter_.started(answer.files, answer.size);
    decoder_.emplace(*writer_, tree::DecoderOptions{true, writer_options_.resume_path, o_.max_entries});
    return {};
  }
  Result<void> write(std::span<const uint8_t> chunk) override {
    auto fed = decoder_->feed(chunk);
    if (!fed) return fed;
    return journal_.save(writer_->resume_point(), false);
  }
  Result<void> commit() override { return decoder_->finish(); }
  void abandon(const Error&) override {
    if (writer_) (void)journal_.save(writer_->resume_point(), true);
  }

  bool begun() const { return writer_ != nullptr; }
  std::optional<ResumePoint> resume_point() const { return writer_ ? writer_->resume_point() : std::nullopt; }
  std::optional<tree::EndRecord> end() const { return writer_ ? writer_->end() : std::nullopt; }

 private:
  const TreePullOptions& o_;
  TreeWriterOptions writer_options_;
  JournalFile& journal_;
  TreeReporter& reporter_;
  std::unique_ptr<TreeWriter> writer_;
  std::optional<tree::TreeDecoder> decoder_;  // after writer_: holds a reference to it
};

bool is_cut(const Error& e) {
  return errors::is(e, ErrorCode::history_gone) || errors::is(e, ErrorCode::transfer_lost) ||
         errors::is(e, ErrorCode::stalled);
}

Result<std::optional<ResumePoint>> starting_point(int out_fd, const TreePullOptions& o) {
  auto journal = read_journal(out_fd);
  if (!journal) return journal.error();
  if (!*journal) return std::optional<ResumePoint>();
  const std::string where = escaped((o.out / kTreeJournalName).string());
  if (!same_pull(**journal, o)) {
    return make_error(ErrorCode::usage, where + " is the journal of an interrupted pull of " +
                                            escaped((*journal)->agent + ":" + (*journal)->path) +
                                            "; finish that one (with --resume) or delete the journal");
  }
  if (!o.resume) {
    return make_error(ErrorCode::part_exists, "an earlier pull of this folder was interrupted (" + where +
                                                  "); add --resume to continue it, or delete the journal to start over");
  }
  return (*journal)->point;
}

}  // namespace

Result<TreePullResult> pull_tree(const TreePullOptions& o, RequestOptions request, TreeReporter& reporter,
                                 const TreeRunner& run) {
  int out_fd = ::open(o.out.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (out_fd < 0) {
    return make_error(ErrorCode::io, "cannot open the output folder " + escaped(o.out.string()) + ": " + std::strerror(errno));
  }
  struct CloseFd {
    int fd;
    ~CloseFd() { ::close(fd); }
  } closer{out_fd};
  auto point = starting_point(out_fd, o);
  if (!point) return point.error();
  JournalFile journal(out_fd, o);
  request.op = Op::kTree;
  request.select = o.select;
  request.contents = true;
  for (int attempt = 0;; ++attempt) {
    TreeWriterOptions wo{o.overwrite, o.folder.empty(), o.strict, std::nullopt, false};
    request.resume.reset();
    if (*point) {
      wo.resume_path = (*point)->path;
      wo.resume_done = (*point)->done;
      request.resume = Request::Resume{(*point)->path, (*point)->offset};
    }
    TreeSink sink(o, wo, journal, reporter);
    auto ran = run(request, sink);
    if (ran) {
      journal.remove();
      return TreePullResult{sink.end().value_or(tree::EndRecord{})};
    }
    const Error& e = ran.error();
    if (!sink.begun() && errors::is(e, ErrorCode::bad_request)) {
      return make_error(ErrorCode::bad_request, "agent \"" + o.agent + "\" does not serve folder pulls (" + e.message +
                                                    "): upgrade sealrelay-agent there, or get the files one by one");
    }
    auto now = sink.resume_point();
    if (!is_cut(e) || attempt >= o.auto_resumes || !now || *now == *point) return e;
    reporter.notice("the relay cannot continue this transfer (" + e.code + "); resuming at the entry it reached");
    *point = now;
  }
}

}  // namespace sealrelay::requester
