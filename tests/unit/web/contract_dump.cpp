// Prints what the C++ side defines and other files mirror, as JSON, for
// web/test/contract.test.mjs: the error table (proto/errors.h), checked
// against docs/api.md §Errors, web/js/messages.js and the codes web/js makes;
// and the wire constants (crypto/protocol.h, base/, proto/), checked against
// web/js. Run through ctest ($SEALRELAY_CONTRACT_DUMP).
#include <cstdio>

#include <nlohmann/json.hpp>

#include "base/fingerprint.h"
#include "base/ids.h"
#include "base/key_bytes.h"
#include "crypto/protocol.h"
#include "crypto/tree_stream.h"
#include "proto/errors.h"
#include "proto/event_stream.h"
#include "proto/sse.h"

using nlohmann::json;
using namespace sealrelay;

namespace {

json error_table() {
  json rows = json::array();
  for (const errors::Info& i : errors::table()) {
    json via = json::array();
    for (auto [bit, name] : {std::pair{errors::kStatus, "status"}, {errors::kEvent, "event"},
                             {errors::kRefusal, "refusal"}, {errors::kAbort, "abort"}, {errors::kLocal, "local"}}) {
      if (i.via & bit) via.push_back(name);
    }
    rows.push_back({{"code", i.name},
                    {"status", i.http_status ? json(i.http_status) : json(nullptr)},
                    {"via", via},
                    {"meaning", i.meaning}});
  }
  return rows;
}

// The folder stream's limits and record types (crypto/tree_stream.h).
json tree_constants() {
  namespace t = tree;
  using R = t::RecordType;
  const auto type = [](R r) { return static_cast<int>(r); };
  return {{"RECORD_HEADER_BYTES", t::kRecordHeaderBytes},
          {"MAX_DATA_BYTES", t::kMaxDataBytes},
          {"MAX_COMPONENT_BYTES", t::kMaxComponentBytes},
          {"MAX_DEPTH", t::kMaxDepth},
          {"MAX_RECORD_BYTES", t::kMaxRecordBytes},
          {"MAX_SELECT_PATTERNS", t::kMaxSelectPatterns},
          {"MAX_SELECT_BYTES", t::kMaxSelectBytes},
          {"DEFAULT_MAX_ENTRIES", t::kDefaultMaxEntries},
          {"MAX_MODE", t::kMaxMode},
          {"RECORD",
           {{"dir", type(R::kDir)}, {"file", type(R::kFile)}, {"data", type(R::kData)},
            {"fileEnd", type(R::kFileEnd)}, {"skip", type(R::kSkip)}, {"end", type(R::kEnd)}}}};
}

// Each C++ wire constant under the web/js module and export that mirrors
// it (docs/protocol.md §7 lists them); the test imports each and compares.
json constants() {
  namespace p = protocol;
  namespace es = event_stream;
  using es::Type;
  const sse::Limits sse_limits;
  return {
      {"protocol.js",
       {{"VERSION", p::kVersion},
        {"PROLOGUE", p::kPrologue},
        {"KEY_BYTES", kKeyBytes},
        {"HASH_BYTES", p::kHashBytes},
        {"NOISE_TAG_BYTES", p::kNoiseTagBytes},
        {"MAX_NOISE_MESSAGE_BYTES", p::kMaxNoiseMessageBytes},
        {"FLAG_FINAL", p::kFlagFinal},
        {"FLAG_ERROR", p::kFlagError},
        {"FRAME_NONCE_BYTES", p::kFrameNonceBytes},
        {"FRAME_TAG_BYTES", p::kFrameTagBytes},
        {"FRAME_INDEX_OFFSET", p::kFrameIndexOffset},
        {"FRAME_NONCE_OFFSET", p::kFrameNonceOffset},
        {"FRAME_HEADER_BYTES", p::kFrameHeaderBytes},
        {"FRAME_OVERHEAD_BYTES", p::kFrameOverheadBytes},
        {"FRAME_AD_BYTES", p::kFrameAdBytes},
        {"FRAME_KEY_LABEL", p::kFrameKeyLabel},
        {"MIN_CHUNK_BYTES", p::kMinChunkBytes},
        {"DEFAULT_CHUNK_BYTES", p::kDefaultChunkBytes},
        {"MAX_CHUNK_BYTES", p::kMaxChunkBytes},
        {"MAX_FRAME_BYTES", p::kMaxFrameBytes},
        {"SHA256_BYTES", p::kSha256Bytes},
        {"TRAILER_BYTES", p::kTrailerBytes},
        {"MAX_ABORT_BYTES", p::kMaxAbortBytes},
        {"MAX_PATH_BYTES", p::kMaxPathBytes},
        {"MAX_NAME_BYTES", p::kMaxNameBytes},
        {"MAX_MESSAGE_BYTES", p::kMaxMessageBytes},
        {"MAX_CODE_BYTES", p::kMaxCodeBytes},
        {"PAYLOAD_BUCKET_BYTES", p::kPayloadBucketBytes},
        {"AGENT_ID_RULE", ids::kAgentIdRule}}},
      {"fingerprint.js", {{"DOMAIN_LABEL", fingerprint::kDomain}, {"DIGEST_BYTES", fingerprint::kDigestBytes}}},
      {"event_stream.js",
       {{"CONTENT_TYPE", es::kContentType},
        {"HEADER_BYTES", es::kHeaderBytes},
        {"DEFAULT_MAX_DATA", es::kDefaultMaxData},
        {"TYPE",
         {{"heartbeat", Type::heartbeat}, {"answer", Type::answer}, {"frame", Type::frame}, {"end", Type::end},
          {"error", Type::error}, {"gone", Type::gone}}}}},
      {"sse.js", {{"DEFAULT_LIMITS", {{"maxLine", sse_limits.max_line}, {"maxData", sse_limits.max_data}}}}},
      {"tree_stream.js", tree_constants()},
  };
}

static_assert(errors::kMaxCodeBytes == protocol::kMaxCodeBytes, "one bound for error codes in payloads and tables");

}  // namespace

int main() {
  std::printf("%s\n", json{{"errors", error_table()}, {"constants", constants()}}.dump(1).c_str());
  return 0;
}
