// What the relay itself writes, besides the agents' opaque bytes: the error
// and end records of a transfer stream (proto/event_stream.h), the JSON
// inside them, and the random ids it hands out (transfer ids, sessions).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

namespace sealrelay::relay {

// `bytes` random bytes (OpenSSL's CSPRNG) as lowercase hex.
std::string random_hex(size_t bytes);
// dump() that never throws (invalid UTF-8 is replaced).
std::string json_text(const nlohmann::json& j);
// An error event's record with {"error","message"}.
std::string error_event(const std::string& code, const std::string& message);
// The end event's record after `frames` frames (its id is frames + 1).
std::string end_event(uint64_t frames);

}  // namespace sealrelay::relay
