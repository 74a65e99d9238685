// crypto/tree_stream.h TreeDecoder against an agent that lies: the fuzzer
// writes the folder stream, fed in pieces it chooses. Properties:
//  * every path the visitor gets passes check_path and comes strictly after
//    the one before in stream order (and not before the resume point);
//  * a file's DATA never exceeds size − offset, and FILE_END ok comes after
//    exactly that many bytes; no DATA without contents;
//  * END is the last thing the visitor sees, and finish() is ok only after it;
//  * errors are sticky.
#include <optional>
#include <string>
#include <vector>

#include "crypto/tree_stream.h"
#include "tests/fuzz/fuzz_support.h"

using namespace sealrelay;
using namespace sealrelay::tree;

namespace {

struct Checker : TreeVisitor {
  std::optional<std::string> resume;
  bool contents = true;
  std::optional<std::string> previous;
  std::optional<uint64_t> owed;  // of the open file
  bool ended = false;

  void path(const std::string& p) {
    FUZZ_CHECK(!ended);
    FUZZ_CHECK(!owed);
    FUZZ_CHECK(check_path(p).ok());
    if (previous) FUZZ_CHECK(compare_paths(*previous, p) < 0);
    if (!previous && resume) FUZZ_CHECK(compare_paths(*resume, p) <= 0);
    previous = p;
  }
  Result<void> on_dir(const DirRecord& r) override {
    FUZZ_CHECK(r.mode <= kMaxMode);
    path(r.path);
    return {};
  }
  Result<void> on_file(const FileRecord& r) override {
    FUZZ_CHECK(r.offset <= r.size && r.mode <= kMaxMode);
    path(r.path);
    if (contents) owed = r.size - r.offset;
    return {};
  }
  Result<void> on_data(std::span<const uint8_t> bytes) override {
    FUZZ_CHECK(owed && bytes.size() <= *owed);
    *owed -= bytes.size();
    return {};
  }
  Result<void> on_file_end(const FileEndRecord& r) override {
    FUZZ_CHECK(owed);
    if (r.status == FileStatus::kOk) FUZZ_CHECK(*owed == 0);
    owed.reset();
    return {};
  }
  Result<void> on_skip(const SkipRecord& r) override {
    path(r.path);
    return {};
  }
  Result<void> on_end(const EndRecord&) override {
    FUZZ_CHECK(!ended && !owed);
    ended = true;
    return {};
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::Input in(data, size);
  const uint8_t setup = in.byte();
  Checker checker;
  DecoderOptions options;
  options.contents = (setup & 1) == 0;
  options.max_entries = (setup & 2) ? 4 : kDefaultMaxEntries;
  if (setup & 4) options.resume_path = "a/b";
  checker.contents = options.contents;
  checker.resume = options.resume_path;
  std::vector<size_t> pieces;
  for (int n = setup >> 4; n > 0; --n) pieces.push_back(in.byte() + 1);
  std::string_view stream = in.rest();
  TreeDecoder decoder(checker, options);
  std::optional<std::string> error;
  size_t at = 0;
  for (size_t i = 0; at < stream.size(); ++i) {
    size_t n = pieces.empty() ? stream.size() : std::min(pieces[i % pieces.size()], stream.size() - at);
    auto bytes = std::span(reinterpret_cast<const uint8_t*>(stream.data()) + at, n);
    auto r = decoder.feed(bytes);
    at += n;
    if (error) FUZZ_CHECK(!r.ok() && r.error().message == *error);
    if (!r.ok()) error = r.error().message;
  }
  auto done = decoder.finish();
  FUZZ_CHECK(done.ok() == (!error && checker.ended));
  FUZZ_CHECK(decoder.ended() == checker.ended);
  return 0;
}
