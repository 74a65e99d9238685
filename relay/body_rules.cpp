#include "relay/body_rules.h"

#include <httplib.h>
#include <strings.h>

#include <algorithm>

#include "base/ids.h"
#include "proto/errors.h"

namespace sealrelay::relay {
namespace {

// The methods cpp-httplib reads a body for (its expect_content; DELETE only
// with a Content-Length). Any other method's body would stay on the
// connection and be parsed as the next request.
bool takes_body(const std::string& method) {
  return method == "POST" || method == "PUT" || method == "PATCH" || method == "PRI";
}

// 18 digits stay below 2^63: no parser anywhere overflows.
constexpr size_t kMaxLengthDigits = 18;

}  // namespace

bool is_upload_path(std::string_view path) {
  constexpr std::string_view head = "/v1/agent/transfers/", tail = "/frames";
  if (path.size() <= head.size() + tail.size() || !path.starts_with(head) || !path.ends_with(tail)) {
    return false;
  }
  return ids::valid_transfer_id(path.substr(head.size(), path.size() - head.size() - tail.size()));
}

std::optional<Error> check_body(const httplib::Request& req, size_t max_json_bytes) {
  const size_t lengths = req.get_header_value_count("Content-Length");
  const size_t codings = req.get_header_value_count("Transfer-Encoding");
  const bool upload = req.method == "POST" && is_upload_path(req.path);
  if (lengths > 1 || codings > 1 || (lengths && codings)) {
    return make_error(ErrorCode::bad_request,
                      "send one Content-Length or one Transfer-Encoding: chunked, not several");
  }
  if (codings) {
    if (!upload) {
      return make_error(
          ErrorCode::bad_request,
          "chunked bodies are accepted only by POST /v1/agent/transfers/{tid}/frames; "
          "send Content-Length");
    }
    if (strcasecmp(req.get_header_value("Transfer-Encoding").c_str(), "chunked") != 0) {
      return make_error(ErrorCode::bad_request, "the only transfer coding accepted is chunked");
    }
    return std::nullopt;
  }
  if (!lengths) {
    if (!takes_body(req.method)) return std::nullopt;
    return make_error(
        ErrorCode::length_required,
        req.method + " needs a Content-Length (the frames upload may be chunked instead)");
  }
  const std::string len = req.get_header_value("Content-Length");
  const bool digits = !len.empty() && len.size() <= kMaxLengthDigits &&
                      std::all_of(len.begin(), len.end(), [](char c) { return c >= '0' && c <= '9'; });
  if (!digits) {
    return make_error(ErrorCode::bad_request,
                      "Content-Length must be 1 to 18 decimal digits, nothing else");
  }
  const uint64_t n = std::stoull(len);
  if (!takes_body(req.method)) {
    if (n == 0) return std::nullopt;
    return make_error(ErrorCode::bad_request, req.method + " takes no body");
  }
  if (!upload && n > max_json_bytes) {
    return make_error(ErrorCode::too_large,
                      "request body exceeds " + std::to_string(max_json_bytes) + " bytes");
  }
  return std::nullopt;
}

}  // namespace sealrelay::relay
