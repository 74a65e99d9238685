#include "agent/tree_source.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "agent/change_detect.h"
#include "crypto/sha256.h"
#include "crypto/tree_stream.h"

namespace sealrelay::agent {
namespace {

using tree::FileStatus;

uint32_t mode_of(const struct stat& st) { return static_cast<uint32_t>(st.st_mode) & tree::kMaxMode; }

// Where a file's content starts: the request's resume offset for the
// resumed file, when the file still has that many bytes.
uint64_t offset_for(const Request& request, std::string_view path, uint64_t size) {
  if (!request.resume || request.resume->path != path || request.resume->offset > size) return 0;
  return request.resume->offset;
}

// Reads up to into.size() bytes at `at`: fewer only at the end of the file;
// -1 on an error.
ssize_t read_at(int fd, std::span<uint8_t> into, uint64_t at) {
  size_t done = 0;
  while (done < into.size()) {
    ssize_t n = ::pread(fd, into.data() + done, into.size() - done, static_cast<off_t>(at + done));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return -1;
    if (n == 0) break;
    done += static_cast<size_t>(n);
  }
  return static_cast<ssize_t>(done);
}

struct Counter : TreeWalkSink {
  const Request& request;
  TreeCount count;
  explicit Counter(const Request& r) : request(r) {}
  Result<void> on_dir(std::string_view, const struct stat&) override { return {}; }
  Result<void> on_skip(std::string_view, tree::SkipReason) override { return {}; }
  Result<void> on_file(std::string_view path, const WalkedFile& file) override {
    auto size = static_cast<uint64_t>(file.st.st_size);
    ++count.files;
    count.bytes += size - offset_for(request, path, size);
    return {};
  }
};

}  // namespace

Result<TreeCount> count_tree(const TreeRoot& root, const TreeWalkOptions& options, const Request& request) {
  Counter counter(request);
  auto walker = TreeWalker::start(root, options, counter);
  if (!walker) return walker.error();
  for (;;) {
    auto more = (*walker)->step();
    if (!more) return more.error();
    if (!*more) return counter.count;
  }
}

struct TreeSource::State : TreeWalkSink {
  struct OpenFile {
    UniqueFd fd;
    FileWatch watch;
    uint64_t position = 0;
    uint64_t size = 0;
  };

  const Request& request;
  std::unique_ptr<TreeWalker> walker;
  std::vector<uint8_t> pending;  // stream bytes not handed out yet
  std::vector<uint8_t> header;   // reused: a DATA record's header
  std::vector<uint8_t> scratch;  // reused: a resumed file's prefix, hashed
  std::optional<OpenFile> file;
  Sha256 sha;
  tree::EndRecord counts;
  bool walked = false;
  bool ended = false;

  explicit State(const Request& r) : request(r) {}

  Result<void> on_dir(std::string_view path, const struct stat& st) override {
    tree::append_dir(pending, {std::string(path), st.st_mtime, mode_of(st)});
    ++counts.dirs;
    return {};
  }
  Result<void> on_skip(std::string_view path, tree::SkipReason reason) override {
    tree::append_skip(pending, {std::string(path), reason});
    ++counts.skipped;
    return {};
  }
  Result<void> on_file(std::string_view path, const WalkedFile& walked) override;
  void end_file(FileStatus status);
  void fill_file();
  bool hash_prefix(OpenFile& open, uint64_t offset);
};

Result<void> TreeSource::State::on_file(std::string_view path, const WalkedFile& walked) {
  const auto walked_size = static_cast<uint64_t>(walked.st.st_size);
  if (!request.contents) {
    tree::append_file(pending, {std::string(path), walked_size, walked.st.st_mtime, mode_of(walked.st), 0});
    ++counts.files;
    counts.bytes += walked_size;
    return {};
  }
  auto fd = open_walked_file(walked);
  std::optional<FileWatch> watch;
  if (fd) {
    auto w = FileWatch::start(fd->get(), walked.parent_fd, *walked.name);
    if (w) watch.emplace(std::move(*w));
  }
  if (!fd || !watch) {
    if (!fd && fd.error().code != "unreadable") {  // gone or swapped since the walk saw it
      tree::append_file(pending, {std::string(path), walked_size, walked.st.st_mtime, mode_of(walked.st), 0});
      end_file(fd.error().code == "vanished" ? FileStatus::kVanished : FileStatus::kChanged);
      return {};
    }
    return on_skip(path, tree::SkipReason::kUnreadable);
  }
  // The size the change check holds the file to, not the walk's.
  const auto size = static_cast<uint64_t>(watch->snapshot().size);
  const uint64_t offset = offset_for(request, path, size);
  tree::append_file(pending, {std::string(path), size, watch->snapshot().mtime_ns / 1'000'000'000,
                              mode_of(walked.st), offset});
  file.emplace(OpenFile{std::move(*fd), std::move(*watch), 0, size});
  (void)hash_prefix(*file, offset);  // a file that ends there has its FILE_END
  return {};
}

// Feeds the file's bytes before `offset` into its hash without sending
// them; false when the file ended (then with its FILE_END).
bool TreeSource::State::hash_prefix(OpenFile& open, uint64_t offset) {
  scratch.resize(tree::kMaxDataBytes);
  while (open.position < offset) {
    size_t n = static_cast<size_t>(std::min<uint64_t>(scratch.size(), offset - open.position));
    ssize_t got = read_at(open.fd.get(), std::span(scratch).first(n), open.position);
    if (got <= 0) {
      end_file(got < 0 ? FileStatus::kUnreadable : FileStatus::kChanged);
      return false;
    }
    sha.update(std::span(scratch).first(static_cast<size_t>(got)));
    open.position += static_cast<uint64_t>(got);
  }
  return true;
}

void TreeSource::State::end_file(FileStatus status) {
  tree::FileEndRecord end{status, {}};
  auto digest = sha.finish();  // also starts the hash over for the next file
  if (status == FileStatus::kOk) {
    end.sha256 = digest;
    ++counts.files;
    counts.bytes += file->size;
  } else {
    ++counts.skipped;
  }
  tree::append_file_end(pending, end);
  file.reset();
}

// The open file's next DATA record, or its FILE_END.
void TreeSource::State::fill_file() {
  OpenFile& open = *file;
  if (open.position == open.size) {
    end_file(open.watch.still_same(open.fd.get()) ? FileStatus::kOk : FileStatus::kChanged);
    return;
  }
  const size_t n = static_cast<size_t>(std::min<uint64_t>(tree::kMaxDataBytes, open.size - open.position));
  const size_t at = pending.size();
  pending.resize(at + tree::kRecordHeaderBytes + n);
  auto into = std::span(pending).subspan(at + tree::kRecordHeaderBytes, n);
  ssize_t got = read_at(open.fd.get(), into, open.position);
  if (got <= 0) {
    pending.resize(at);
    end_file(got < 0 ? FileStatus::kUnreadable : FileStatus::kChanged);  // 0: it shrank
    return;
  }
  const auto length = static_cast<size_t>(got);
  header.clear();
  tree::append_data_header(header, length);
  std::copy(header.begin(), header.end(), pending.begin() + static_cast<ptrdiff_t>(at));
  pending.resize(at + tree::kRecordHeaderBytes + length);
  sha.update(into.first(length));
  open.position += length;
  if (length < n) end_file(FileStatus::kChanged);  // it shrank
}

TreeSource::TreeSource(std::unique_ptr<State> state) : state_(std::move(state)) {}
TreeSource::~TreeSource() = default;

Result<std::unique_ptr<TreeSource>> TreeSource::start(const TreeRoot& root, const TreeWalkOptions& options,
                                                      const Request& request) {
  auto state = std::make_unique<State>(request);
  auto walker = TreeWalker::start(root, options, *state);
  if (!walker) return walker.error();
  state->walker = std::move(*walker);
  return std::unique_ptr<TreeSource>(new TreeSource(std::move(state)));
}

Result<size_t> TreeSource::next(std::span<uint8_t> into) {
  State& s = *state_;
  while (s.pending.size() < into.size() && !s.ended) {
    if (s.file) {
      s.fill_file();
    } else if (!s.walked) {
      auto more = s.walker->step();
      if (!more) return more.error();
      s.walked = !*more;
    } else {
      tree::append_end(s.pending, s.counts);
      s.ended = true;
    }
  }
  const size_t n = std::min(into.size(), s.pending.size());
  std::copy_n(s.pending.begin(), n, into.begin());
  s.pending.erase(s.pending.begin(), s.pending.begin() + static_cast<ptrdiff_t>(n));
  return n;
}

}  // namespace sealrelay::agent
