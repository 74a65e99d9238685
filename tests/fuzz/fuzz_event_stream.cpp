// proto/event_stream.h Reader: a requester's binary event stream, as the CLI
// reads it from a relay that may lie. Properties:
//  * no event above the limit is ever buffered or delivered;
//  * the events do not depend on how the stream was split into reads;
//  * what was delivered, written back as records, is exactly the bytes the
//    reader consumed (heartbeats aside: they are not delivered).
#include <string>
#include <vector>

#include "proto/event_stream.h"
#include "tests/fuzz/fuzz_support.h"

using namespace sealrelay;

namespace {

constexpr size_t kMaxData = 300;

struct Outcome {
  std::vector<sse::Event> events;
  std::string error;  // "" when no error
  bool at_boundary = false;
};

Outcome read(std::string_view body, std::string_view splits) {
  Outcome o;
  event_stream::Reader r(kMaxData);
  size_t at = 0, s = 0;
  while (at < body.size() && o.error.empty()) {
    size_t n = splits.empty() ? body.size() : 1 + static_cast<uint8_t>(splits[s++ % splits.size()]) % 32;
    if (n > body.size() - at) n = body.size() - at;
    auto res = r.feed(body.substr(at, n), [&](sse::Event&& e) {
      FUZZ_CHECK(e.data.size() <= kMaxData);
      FUZZ_CHECK(event_stream::type_of(e.name).has_value() && e.name != "heartbeat");
      FUZZ_CHECK(e.raw == (e.name == "frame"));
      o.events.push_back(std::move(e));
    });
    if (!res) o.error = res.error().code;
    at += n;
  }
  o.at_boundary = r.at_boundary();
  return o;
}

bool same(const std::vector<sse::Event>& a, const std::vector<sse::Event>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i].name != b[i].name || a[i].id != b[i].id || a[i].data != b[i].data || a[i].raw != b[i].raw) return false;
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::Input in(data, size);
  std::string_view splits = in.bytes(in.byte() % 8);
  std::string_view body = in.rest();
  Outcome whole = read(body, {});
  Outcome pieces = read(body, splits.empty() ? std::string_view("\x03", 1) : splits);
  FUZZ_CHECK(whole.error == pieces.error);
  FUZZ_CHECK(same(whole.events, pieces.events));
  if (whole.error.empty() && whole.at_boundary) {
    // Re-encoding what was delivered gives back the body without its heartbeats.
    std::string again, without_heartbeats;
    for (const auto& e : whole.events) {
      uint64_t id = 0;
      if (e.name == "answer" || e.name == "frame" || e.name == "end") id = std::stoull(e.id);
      event_stream::append_record(again, *event_stream::type_of(e.name), id, e.data);
    }
    for (size_t at = 0; at < body.size();) {
      uint32_t len = (uint32_t{static_cast<uint8_t>(body[at + 9])} << 24) |
                     (uint32_t{static_cast<uint8_t>(body[at + 10])} << 16) |
                     (uint32_t{static_cast<uint8_t>(body[at + 11])} << 8) | static_cast<uint8_t>(body[at + 12]);
      auto record = body.substr(at, event_stream::kHeaderBytes + len);
      auto view = event_stream::read_record(record);
      FUZZ_CHECK(view.has_value());
      // error and gone carry no id: compare them with a zero id.
      if (view->type == event_stream::Type::error || view->type == event_stream::Type::gone) {
        event_stream::append_record(without_heartbeats, view->type, 0, view->data);
      } else if (view->type != event_stream::Type::heartbeat) {
        without_heartbeats.append(record);
      }
      at += record.size();
    }
    FUZZ_CHECK(again == without_heartbeats);
  }
  return 0;
}
