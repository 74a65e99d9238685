#include "crypto/tree_stream.h"

#include <algorithm>
#include <cstring>

namespace sealrelay::tree {
namespace {

Error bad_tree(std::string what) {
  return make_error("bad_tree", "the folder stream is malformed (" + std::move(what) +
                                    "); only the agent could have sent it: check its version and report it");
}

// Bodies' lengths per record type (docs/protocol.md §4.5's table).
struct LengthRange {
  size_t min, max;
};
std::optional<LengthRange> length_range(uint8_t type) {
  switch (type) {
    case 1: return LengthRange{13, 12 + kMaxPathBytes};
    case 2: return LengthRange{29, 28 + kMaxPathBytes};
    case 3: return LengthRange{1, kMaxDataBytes};
    case 4: return LengthRange{33, 33};
    case 5: return LengthRange{2, 1 + kMaxPathBytes};
    case 6: return LengthRange{32, 32};
    default: return std::nullopt;
  }
}

void put_u32(std::vector<uint8_t>& out, uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<uint8_t>(v >> shift));
}
void put_u64(std::vector<uint8_t>& out, uint64_t v) {
  for (int shift = 56; shift >= 0; shift -= 8) out.push_back(static_cast<uint8_t>(v >> shift));
}
void put_header(std::vector<uint8_t>& out, RecordType type, size_t length) {
  out.push_back(static_cast<uint8_t>(type));
  put_u32(out, static_cast<uint32_t>(length));
}
void put_bytes(std::vector<uint8_t>& out, std::string_view s) { out.insert(out.end(), s.begin(), s.end()); }

uint64_t get_u64(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = v << 8 | p[i];
  return v;
}
uint32_t get_u32(const uint8_t* p) { return uint32_t{p[0]} << 24 | uint32_t{p[1]} << 16 | uint32_t{p[2]} << 8 | p[3]; }

// Length of the UTF-8 sequence at s[i], 0 when it is not valid (overlong,
// surrogate, above U+10FFFF, truncated).
size_t utf8_sequence(std::string_view s, size_t i) {
  auto b = [&](size_t k) { return static_cast<uint8_t>(s[k]); };
  uint8_t c = b(i);
  if (c < 0x80) return 1;
  size_t n = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC2 ? 2 : 0;
  if (n == 0 || c > 0xF4 || i + n > s.size()) return 0;
  for (size_t k = 1; k < n; ++k) {
    if ((b(i + k) & 0xC0) != 0x80) return 0;
  }
  uint8_t c1 = b(i + 1);
  if (c == 0xE0 && c1 < 0xA0) return 0;  // overlong
  if (c == 0xED && c1 > 0x9F) return 0;  // surrogate
  if (c == 0xF0 && c1 < 0x90) return 0;  // overlong
  if (c == 0xF4 && c1 > 0x8F) return 0;  // above U+10FFFF
  return n;
}

Result<void> check_component(std::string_view c) {
  if (c.empty()) return bad_tree("a path with an empty component");
  if (c == "." || c == "..") return bad_tree("a path with a '.' or '..' component");
  if (c.size() > kMaxComponentBytes) return bad_tree("a path component longer than 255 bytes");
  for (size_t i = 0; i < c.size();) {
    auto ch = static_cast<uint8_t>(c[i]);
    if (ch < 0x20 || ch == 0x7F || ch == '\\') return bad_tree("a path with a control character or '\\'");
    size_t n = utf8_sequence(c, i);
    if (n == 0) return bad_tree("a path that is not valid UTF-8");
    i += n;
  }
  return {};
}

// Whether `dir` is a folder above `path` (a proper prefix ending at a '/').
bool is_above(std::string_view dir, std::string_view path) {
  return dir.size() < path.size() && path.substr(0, dir.size()) == dir && path[dir.size()] == '/';
}

std::string_view parent_of(std::string_view path) {
  auto slash = path.rfind('/');
  return slash == std::string_view::npos ? std::string_view{} : path.substr(0, slash);
}

}  // namespace

std::string_view file_status_name(FileStatus status) {
  switch (status) {
    case FileStatus::kOk: return "ok";
    case FileStatus::kChanged: return "changed";
    case FileStatus::kVanished: return "vanished";
    case FileStatus::kUnreadable: return "unreadable";
  }
  return "unknown";
}

std::string_view skip_reason_name(SkipReason reason) {
  switch (reason) {
    case SkipReason::kSymlinkOut: return "symlink_out";
    case SkipReason::kLoop: return "loop";
    case SkipReason::kUnreadable: return "unreadable";
    case SkipReason::kTooLarge: return "too_large";
    case SkipReason::kHardLink: return "hard_link";
    case SkipReason::kBadName: return "bad_name";
    case SkipReason::kTooDeep: return "too_deep";
    case SkipReason::kTooMany: return "too_many";
  }
  return "unknown";
}

Result<void> check_path(std::string_view path) {
  if (path.empty()) return bad_tree("an empty path");
  if (path.size() > kMaxPathBytes) return bad_tree("a path longer than 4096 bytes");
  size_t depth = 0;
  for (size_t start = 0;;) {
    size_t slash = path.find('/', start);
    std::string_view c = path.substr(start, slash == std::string_view::npos ? std::string_view::npos : slash - start);
    if (++depth > kMaxDepth) return bad_tree("a path deeper than 128 components");
    if (auto ok = check_component(c); !ok) return ok;
    if (slash == std::string_view::npos) return {};
    start = slash + 1;
  }
}

int compare_paths(std::string_view a, std::string_view b) {
  // '/' ranks below every byte a component may hold, and the end of a path
  // below '/': that is comparing component by component.
  auto rank = [](std::string_view s, size_t i) {
    return i >= s.size() ? -1 : s[i] == '/' ? 0 : static_cast<uint8_t>(s[i]) + 1;
  };
  for (size_t i = 0;; ++i) {
    int ra = rank(a, i), rb = rank(b, i);
    if (ra != rb) return ra < rb ? -1 : 1;
    if (ra == -1) return 0;
  }
}

void append_dir(std::vector<uint8_t>& out, const DirRecord& r) {
  put_header(out, RecordType::kDir, 12 + r.path.size());
  put_u64(out, static_cast<uint64_t>(r.mtime));
  put_u32(out, r.mode);
  put_bytes(out, r.path);
}

void append_file(std::vector<uint8_t>& out, const FileRecord& r) {
  put_header(out, RecordType::kFile, 28 + r.path.size());
  put_u64(out, r.size);
  put_u64(out, static_cast<uint64_t>(r.mtime));
  put_u32(out, r.mode);
  put_u64(out, r.offset);
  put_bytes(out, r.path);
}

void append_data_header(std::vector<uint8_t>& out, size_t length) { put_header(out, RecordType::kData, length); }

void append_file_end(std::vector<uint8_t>& out, const FileEndRecord& r) {
  put_header(out, RecordType::kFileEnd, 33);
  out.push_back(static_cast<uint8_t>(r.status));
  out.insert(out.end(), r.sha256.begin(), r.sha256.end());
}

void append_skip(std::vector<uint8_t>& out, const SkipRecord& r) {
  put_header(out, RecordType::kSkip, 1 + r.path.size());
  out.push_back(static_cast<uint8_t>(r.reason));
  put_bytes(out, r.path);
}

void append_end(std::vector<uint8_t>& out, const EndRecord& r) {
  put_header(out, RecordType::kEnd, 32);
  put_u64(out, r.files);
  put_u64(out, r.dirs);
  put_u64(out, r.bytes);
  put_u64(out, r.skipped);
}

struct TreeDecoder::State {
  State(TreeVisitor& v, DecoderOptions o) : visitor(v), options(std::move(o)) {}
  TreeVisitor& visitor;
  DecoderOptions options;
  std::optional<Error> failed;
  bool ended = false;
  uint64_t entries = 0;
  // The record being read: its header, then (not DATA) its body.
  std::vector<uint8_t> record;
  size_t body_length = 0;
  size_t data_left = 0;  // of the DATA record being passed through
  // The open file, while between FILE and FILE_END.
  bool in_file = false;
  uint64_t file_left = 0;  // content bytes the file still owes
  uint64_t file_size = 0;
  // Order and parents: the previous path, and the DIR records on the
  // current branch, each above the next (at most kMaxDepth).
  std::optional<std::string> previous;
  std::vector<std::string> branch;
  EndRecord seen;  // what END must say

  Result<void> feed(std::span<const uint8_t> bytes);
  Result<void> on_header();
  Result<void> on_body();
  Result<void> check_entry(std::string_view path, bool is_dir);
  Result<void> on_file_end(const uint8_t* body);
  Result<void> on_end(const uint8_t* body);
};

Result<void> TreeDecoder::State::check_entry(std::string_view path, bool is_dir) {
  if (++entries > options.max_entries) {
    return make_error("bad_tree", "the folder has more than " + std::to_string(options.max_entries) +
                                      " entries; pull a smaller part of it or raise --max-entries");
  }
  if (auto ok = check_path(path); !ok) return ok;
  if (previous) {
    if (compare_paths(path, *previous) <= 0) return bad_tree("a path out of stream order");
  } else if (options.resume_path && compare_paths(path, *options.resume_path) < 0) {
    return bad_tree("a path before the resume point");
  }
  while (!branch.empty() && !is_above(branch.back(), path)) branch.pop_back();
  std::string_view parent = parent_of(path);
  bool known = parent.empty() || (!branch.empty() && branch.back() == parent) ||
               (options.resume_path && is_above(parent, *options.resume_path));
  if (!known) return bad_tree("an entry whose folder was not sent");
  previous.emplace(path);
  if (is_dir) branch.emplace_back(path);
  return {};
}

Result<void> TreeDecoder::State::on_header() {
  const uint8_t type = record[0];
  const size_t length = get_u32(&record[1]);
  auto range = length_range(type);
  if (!range || length < range->min || length > range->max) return bad_tree("a record of unknown type or length");
  if (ended) return bad_tree("a record after END");
  auto t = static_cast<RecordType>(type);
  if (in_file && t != RecordType::kData && t != RecordType::kFileEnd) return bad_tree("a record inside a file");
  if (!in_file && (t == RecordType::kData || t == RecordType::kFileEnd)) return bad_tree("file content outside a file");
  if (t == RecordType::kData) {
    if (length > file_left) return bad_tree("more content than the file's size");
    file_left -= length;
    data_left = length;
    record.clear();
    return {};
  }
  body_length = length;
  return {};
}

Result<void> TreeDecoder::State::on_file_end(const uint8_t* body) {
  FileEndRecord r;
  if (body[0] > static_cast<uint8_t>(FileStatus::kUnreadable)) return bad_tree("an unknown file status");
  r.status = static_cast<FileStatus>(body[0]);
  std::copy(body + 1, body + 33, r.sha256.begin());
  bool zeros = std::all_of(r.sha256.begin(), r.sha256.end(), [](uint8_t b) { return b == 0; });
  if (r.status == FileStatus::kOk && file_left != 0) return bad_tree("a file that ended before its size");
  if (r.status != FileStatus::kOk && !zeros) return bad_tree("a skipped file with a hash");
  in_file = false;
  if (r.status == FileStatus::kOk) {
    ++seen.files;
    seen.bytes += file_size;
  } else {
    ++seen.skipped;
  }
  return visitor.on_file_end(r);
}

Result<void> TreeDecoder::State::on_end(const uint8_t* body) {
  EndRecord r{get_u64(body), get_u64(body + 8), get_u64(body + 16), get_u64(body + 24)};
  if (r.files != seen.files || r.dirs != seen.dirs || r.bytes != seen.bytes || r.skipped != seen.skipped) {
    return bad_tree("END's counts differ from the records");
  }
  ended = true;
  return visitor.on_end(r);
}

Result<void> TreeDecoder::State::on_body() {
  const uint8_t* body = record.data() + kRecordHeaderBytes;
  auto path_at = [&](size_t at) {
    return std::string_view(reinterpret_cast<const char*>(body + at), body_length - at);
  };
  switch (static_cast<RecordType>(record[0])) {
    case RecordType::kDir: {
      DirRecord r{std::string(path_at(12)), static_cast<int64_t>(get_u64(body)), get_u32(body + 8)};
      if (r.mode > kMaxMode) return bad_tree("a mode above 0777");
      if (auto ok = check_entry(r.path, true); !ok) return ok;
      ++seen.dirs;
      return visitor.on_dir(r);
    }
    case RecordType::kFile: {
      FileRecord r{std::string(path_at(28)), get_u64(body), static_cast<int64_t>(get_u64(body + 8)),
                   get_u32(body + 16), get_u64(body + 20)};
      if (r.mode > kMaxMode) return bad_tree("a mode above 0777");
      if (r.offset > r.size) return bad_tree("a file's offset beyond its size");
      if (!options.contents && r.offset != 0) return bad_tree("an offset in a stream without contents");
      if (auto ok = check_entry(r.path, false); !ok) return ok;
      if (options.contents) {
        in_file = true;
        file_left = r.size - r.offset;
        file_size = r.size;
      } else {
        ++seen.files;
        seen.bytes += r.size;
      }
      return visitor.on_file(r);
    }
    case RecordType::kFileEnd:
      return on_file_end(body);
    case RecordType::kSkip: {
      if (body[0] < 1 || body[0] > static_cast<uint8_t>(SkipReason::kTooMany)) return bad_tree("an unknown skip reason");
      SkipRecord r{std::string(path_at(1)), static_cast<SkipReason>(body[0])};
      if (auto ok = check_entry(r.path, false); !ok) return ok;
      ++seen.skipped;
      return visitor.on_skip(r);
    }
    case RecordType::kEnd:
      return on_end(body);
    case RecordType::kData:
      break;
  }
  std::abort();  // DATA never gets here (on_header)
}

Result<void> TreeDecoder::State::feed(std::span<const uint8_t> bytes) {
  while (!bytes.empty()) {
    if (data_left > 0) {
      size_t n = std::min(data_left, bytes.size());
      data_left -= n;
      if (auto ok = visitor.on_data(bytes.first(n)); !ok) return ok;
      bytes = bytes.subspan(n);
      continue;
    }
    if (ended) return bad_tree("bytes after END");
    size_t want = record.size() < kRecordHeaderBytes ? kRecordHeaderBytes : kRecordHeaderBytes + body_length;
    size_t n = std::min(want - record.size(), bytes.size());
    record.insert(record.end(), bytes.begin(), bytes.begin() + static_cast<ptrdiff_t>(n));
    bytes = bytes.subspan(n);
    if (record.size() < want) continue;
    if (want == kRecordHeaderBytes) {
      if (auto ok = on_header(); !ok) return ok;
      if (data_left > 0) continue;
    } else {
      auto ok = on_body();
      record.clear();
      if (!ok) return ok;
    }
  }
  return {};
}

TreeDecoder::TreeDecoder(TreeVisitor& visitor, DecoderOptions options)
    : state_(std::make_unique<State>(visitor, std::move(options))) {
  state_->record.reserve(kMaxRecordBytes);
}
TreeDecoder::~TreeDecoder() = default;
TreeDecoder::TreeDecoder(TreeDecoder&&) noexcept = default;
TreeDecoder& TreeDecoder::operator=(TreeDecoder&&) noexcept = default;

Result<void> TreeDecoder::feed(std::span<const uint8_t> bytes) {
  if (state_->failed) return *state_->failed;
  auto ok = state_->feed(bytes);
  if (!ok) state_->failed = ok.error();
  return ok;
}

Result<void> TreeDecoder::finish() {
  if (state_->failed) return *state_->failed;
  if (!state_->ended) state_->failed = bad_tree("the stream ended before END");
  if (state_->failed) return *state_->failed;
  return {};
}

bool TreeDecoder::ended() const { return state_->ended; }
uint64_t TreeDecoder::entries() const { return state_->entries; }

}  // namespace sealrelay::tree
