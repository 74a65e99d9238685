// proto/upload.h Reader: the body of a frames upload, as the relay reads it
// from an agent (or from anyone holding a stolen agent token). Properties:
//  * no record above the limit is ever buffered or delivered;
//  * the records do not depend on how the body was split into reads;
//  * what was delivered, written back as records, is exactly the bytes the
//    reader consumed (no byte invented, none skipped).
#include <string>
#include <vector>

#include "proto/upload.h"
#include "tests/fuzz/fuzz_support.h"

using namespace sealrelay;

namespace {

constexpr size_t kMaxFrame = 300;

struct Outcome {
  std::vector<std::string> frames;
  std::string error;  // "" when no error
  bool ended = false;
  bool at_boundary = false;
};

Outcome read(std::string_view body, std::string_view splits, size_t stop_after) {
  Outcome o;
  upload::Reader r(kMaxFrame);
  size_t at = 0, s = 0;
  while (at < body.size() && o.error.empty()) {
    size_t n = splits.empty() ? body.size() : 1 + static_cast<uint8_t>(splits[s++ % splits.size()]) % 32;
    if (n > body.size() - at) n = body.size() - at;
    auto res = r.feed(body.substr(at, n), [&](std::string_view f) {
      FUZZ_CHECK(!f.empty() && f.size() <= kMaxFrame);
      o.frames.emplace_back(f);
      return o.frames.size() < stop_after;
    });
    if (!res) o.error = res.error().code;
    at += n;
  }
  FUZZ_CHECK(r.frames() == o.frames.size());
  o.ended = r.ended();
  o.at_boundary = r.at_boundary();
  return o;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::Input in(data, size);
  size_t stop_after = 1 + in.byte();
  std::string_view splits = in.bytes(in.byte() % 8);
  std::string_view body = in.rest();
  Outcome whole = read(body, {}, stop_after);
  Outcome pieces = read(body, splits.empty() ? std::string_view("\x03", 1) : splits, stop_after);
  FUZZ_CHECK(whole.error == pieces.error);
  FUZZ_CHECK(whole.frames == pieces.frames);
  FUZZ_CHECK(whole.ended == pieces.ended);
  if (whole.error.empty()) {
    FUZZ_CHECK(whole.at_boundary == pieces.at_boundary);
    // Re-encoding what was delivered gives back the consumed body.
    std::string again;
    for (const auto& f : whole.frames) upload::append_record(again, f);
    if (whole.ended) upload::append_end(again);
    if (whole.at_boundary) {
      FUZZ_CHECK(again == body);
    } else {
      FUZZ_CHECK(body.substr(0, again.size()) == again);
    }
  }
  return 0;
}
