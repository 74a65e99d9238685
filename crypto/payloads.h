// The payloads inside the handshake (docs/protocol.md §Payloads): the
// request in message 1, the answer in message 2, and the listing streamed in
// frames. Versioned JSON; unknown fields are ignored so newer peers can add
// some; every field is type- and bound-checked. No I/O.
//
// The request and the answer travel padded (docs/protocol.md §4.4): their
// encoders append spaces up to a multiple of protocol::kPayloadBucketBytes,
// and their decoders accept the JSON object followed by spaces only (none
// from older senders). The listing document is not padded.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "crypto/protocol.h"

namespace sealrelay {

enum class Op { kGet, kList, kStat, kTree };
std::string_view op_name(Op op);

struct Request {
  Op op = Op::kGet;
  std::string path;                 // "/share/dir/file", UTF-8, no NUL, ≤ kMaxPathBytes
  uint64_t offset = 0;              // resume: first byte wanted (get only)
  uint32_t chunk_size = protocol::kDefaultChunkBytes;
  int64_t timestamp_ms = 0;         // unix ms; the agent refuses replays (crypto/replay.h)
  // get/list: the requester can open zstd-compressed frames (docs/protocol.md
  // §3.1); sent as "compress":["zstd"], left out when false.
  bool offer_compression = false;
  // tree only (docs/protocol.md §4.5): what to send, whether with contents,
  // and where to start again.
  struct Select {
    std::vector<std::string> include;  // agent/glob.h syntax, anchored at the pulled folder
    std::vector<std::string> exclude;
    std::optional<int64_t> newer_than;  // unix seconds: files with mtime at or after it
    std::optional<uint32_t> max_depth;  // 1 .. tree::kMaxDepth
  } select = {};
  bool contents = true;
  struct Resume {
    std::string path;  // an entry of the stream order, passing tree::check_path
    uint64_t offset = 0;
  };
  std::optional<Resume> resume = {};
};

// Padded to the bucket.
std::string encode_request(const Request& request);
// Fails with bad_request on malformed JSON, anything but spaces after the
// object, wrong types, missing fields, out-of-range numbers or paths, and
// unsupported_version for v != 1.
Result<Request> decode_request(std::span<const uint8_t> payload);

enum class EntryType { kFile, kDirectory };
std::string_view entry_type_name(EntryType type);

// What an agent says in message 2. ok=false carries the refusal.
struct Answer {
  bool ok = false;
  std::string error;     // when !ok: not_found, not_allowed, unauthorized, replayed, bad_request, busy, internal
  std::string message;   // when !ok: for humans
  EntryType type = EntryType::kFile;
  std::string name;      // last path component
  uint64_t size = 0;     // get: file size; list: listing document size; stat: entry size
  int64_t mtime = 0;     // unix seconds
  uint32_t chunk_size = 0;  // get/list: plaintext bytes per data frame (the last may be shorter)
  uint64_t offset = 0;      // get: byte offset of the first frame (the request's, rounded down to a chunk)
  uint64_t first_index = 0; // get/list: index of the first frame
  bool frames = false;      // whether frames follow (get, list) or not (stat, refusals)
  // Data frames may come zstd-compressed ("compress":"zstd"); only when the
  // request offered it. Left out when false.
  bool compression = false;
  // tree only: files the stream is expected to carry (for progress); `size`
  // is then their expected content bytes from the resume point on.
  uint64_t files = 0;
};

// Padded to the bucket; decode_answer accepts what decode_request does around the object.
std::string encode_answer(const Answer& answer);
Result<Answer> decode_answer(std::span<const uint8_t> payload);

struct ListEntry {
  std::string name;
  EntryType type = EntryType::kFile;
  uint64_t size = 0;
  int64_t mtime = 0;
};

// The listing document of a `list`, streamed in frames like a file.
// Names that are not valid UTF-8 are sent with U+FFFD in place of bad bytes.
std::string encode_listing(const std::vector<ListEntry>& entries);
Result<std::vector<ListEntry>> decode_listing(std::span<const uint8_t> document);

}  // namespace sealrelay
