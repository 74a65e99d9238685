// Small helpers shared by relay/server*.cpp (not a public interface).
#pragma once

#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "relay/store.h"

namespace httplib {
struct Request;
struct Response;
}  // namespace httplib

namespace sealrelay::relay {

// "GET /v1/transfers/{tid}" style label for metrics (no ids).
std::string route_name(const std::string& method, const std::string& path);
// `bytes` random bytes as lowercase hex.
std::string random_hex(size_t bytes);
// dump() that never throws (invalid UTF-8 is replaced).
std::string json_text(const nlohmann::json& j);
void send_json(httplib::Response& res, int status, const nlohmann::json& j);
// The body as a JSON object, or nullopt.
std::optional<nlohmann::json> parse_json_body(const httplib::Request& req);
// An error event's record (proto/event_stream.h) with {"error","message"}.
std::string error_event(const std::string& code, const std::string& message);
// Requester view of a transfer (GET /v1/transfers/{tid}).
nlohmann::json transfer_json(const TransferInfo& t);

}  // namespace sealrelay::relay
