// proto/sse.h Parser: the relay's SSE streams as the agent and the CLI read
// them. A lying relay controls every byte. Properties:
//  * no crash, no limit exceeded (every event's data fits max_data);
//  * the events do not depend on how the bytes were split into reads (the
//    same input fed whole and fed in fuzzer-chosen pieces gives the same
//    events, ids and error).
#include <string>
#include <vector>

#include "proto/sse.h"
#include "tests/fuzz/fuzz_support.h"

using namespace sealrelay;

namespace {

struct Outcome {
  std::vector<sse::Event> events;
  bool failed = false;
  std::string last_id;
};

constexpr sse::Limits kLimits{/*max_line=*/512, /*max_data=*/1024};

Outcome parse(std::string_view text, std::string_view splits) {
  Outcome o;
  sse::Parser p(kLimits);
  size_t at = 0, s = 0;
  while (at < text.size() && !o.failed) {
    size_t n = splits.empty() ? text.size() : 1 + static_cast<uint8_t>(splits[s++ % splits.size()]) % 64;
    if (n > text.size() - at) n = text.size() - at;
    auto r = p.feed(text.substr(at, n), [&](sse::Event&& e) {
      FUZZ_CHECK(e.data.size() <= kLimits.max_data);
      FUZZ_CHECK(!e.name.empty());
      o.events.push_back(std::move(e));
    });
    o.failed = !r.ok();
    at += n;
  }
  if (o.failed) {
    // Errors are sticky.
    FUZZ_CHECK(!p.feed("data: x\n\n", [](sse::Event&&) { FUZZ_CHECK(false); }).ok());
  }
  o.last_id = p.last_event_id();
  return o;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::Input in(data, size);
  std::string_view splits = in.bytes(in.byte() % 16);
  std::string_view text = in.rest();
  Outcome whole = parse(text, {});
  Outcome pieces = parse(text, splits.empty() ? std::string_view("\x01", 1) : splits);
  FUZZ_CHECK(whole.failed == pieces.failed);
  if (!whole.failed) {
    FUZZ_CHECK(whole.last_id == pieces.last_id);
    FUZZ_CHECK(whole.events.size() == pieces.events.size());
    for (size_t i = 0; i < whole.events.size(); ++i) {
      FUZZ_CHECK(whole.events[i].name == pieces.events[i].name);
      FUZZ_CHECK(whole.events[i].id == pieces.events[i].id);
      FUZZ_CHECK(whole.events[i].data == pieces.events[i].data);
    }
  }
  return 0;
}
