// crypto/payloads.h: the JSON inside message 1 (request, read by the agent),
// message 2 (answer, read by the requester) and the listing document (read
// by the requester). They arrive authenticated, but from a peer that may be
// hostile (a compromised agent, a requester probing an agent). Properties:
// no crash; what decodes stays within the documented ranges; decoding what
// encode_* makes of it gives the same value back; a request or answer that
// decodes has nothing but spaces after its object (docs/protocol.md §4.4),
// and encode_* fills whole buckets.
#include <string>

#include "crypto/payloads.h"
#include "tests/fuzz/fuzz_support.h"

using namespace sealrelay;

namespace {

// What may follow the object of an accepted request or answer: spaces only.
bool only_spaces_after_the_object(std::span<const uint8_t> bytes) {
  size_t end = bytes.size();
  while (end > 0 && bytes[end - 1] == ' ') --end;
  return end > 0 && bytes[end - 1] == '}';
}

bool whole_buckets(const std::string& text) { return text.size() % protocol::kPayloadBucketBytes == 0; }

std::span<const uint8_t> bytes_of(const std::string& s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

void request(std::span<const uint8_t> bytes) {
  auto r = decode_request(bytes);
  if (!r) {
    FUZZ_CHECK(r.error().code == "bad_request" || r.error().code == "unsupported_version");
    return;
  }
  FUZZ_CHECK(!r->path.empty() && r->path.size() <= protocol::kMaxPathBytes);
  FUZZ_CHECK(r->path.find('\0') == std::string::npos);
  FUZZ_CHECK(r->chunk_size >= protocol::kMinChunkBytes && r->chunk_size <= protocol::kMaxChunkBytes);
  FUZZ_CHECK(r->timestamp_ms > 0);
  FUZZ_CHECK(only_spaces_after_the_object(bytes));
  std::string text = encode_request(*r);
  FUZZ_CHECK(whole_buckets(text));
  auto again = decode_request(bytes_of(text));
  // A path that is not UTF-8 is re-encoded with U+FFFD (3 bytes per bad
  // byte) and may then exceed the limit; anything else must round-trip.
  if (!again.ok()) {
    FUZZ_CHECK(text.find("\xEF\xBF\xBD") != std::string::npos);
    return;
  }
  FUZZ_CHECK(again->op == r->op && again->path == r->path && again->offset == r->offset &&
             again->chunk_size == r->chunk_size && again->timestamp_ms == r->timestamp_ms);
}

void answer(std::span<const uint8_t> bytes) {
  auto a = decode_answer(bytes);
  if (!a) return;
  if (!a->ok) FUZZ_CHECK(!a->error.empty());
  FUZZ_CHECK(only_spaces_after_the_object(bytes));
  std::string text = encode_answer(*a);
  FUZZ_CHECK(whole_buckets(text));
  auto again = decode_answer(bytes_of(text));
  // Names that are not valid UTF-8 are re-encoded with U+FFFD by dump() (and
  // may then exceed the limit), so only compare what must survive as is.
  if (!again.ok()) {
    FUZZ_CHECK(text.find("\xEF\xBF\xBD") != std::string::npos);
    return;
  }
  FUZZ_CHECK(again->ok == a->ok && again->size == a->size && again->mtime == a->mtime &&
             again->chunk_size == a->chunk_size && again->offset == a->offset &&
             again->first_index == a->first_index && again->frames == a->frames && again->type == a->type);
}

void listing(std::span<const uint8_t> bytes) {
  auto l = decode_listing(bytes);
  if (!l) return;
  for (const auto& e : *l) {
    FUZZ_CHECK(!e.name.empty() && e.name != "." && e.name != "..");
    FUZZ_CHECK(e.name.find('/') == std::string::npos && e.name.find('\0') == std::string::npos);
  }
  std::string text = encode_listing(*l);
  auto again = decode_listing(bytes_of(text));
  if (!again.ok()) {
    FUZZ_CHECK(text.find("\xEF\xBF\xBD") != std::string::npos);
    return;
  }
  FUZZ_CHECK(again->size() == l->size());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  std::span<const uint8_t> body(data + 1, size - 1);
  switch (data[0] % 3) {
    case 0: request(body); break;
    case 1: answer(body); break;
    case 2: listing(body); break;
  }
  return 0;
}
