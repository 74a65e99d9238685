// Which bodies the relay reads (docs/api.md §Bodies), decided from the
// request line and headers alone, before cpp-httplib reads a byte of body.
//
// cpp-httplib 0.11.4 reads a POST with neither Content-Length nor
// Transfer-Encoding until the peer closes, parses Content-Length with
// strtoull (so "+99999999999" and "-1" are huge), and collects a chunked body
// into memory for any route without a content reader: each of those let one
// unauthenticated connection grow the relay without bound. So a body is
// accepted only in two forms: a Content-Length of plain digits within the
// route's limit, or chunked on exactly the frames upload, which streams
// (never buffered). Everything else is refused before the body is read, and
// the connection is closed after the refusal so the unread bytes are never
// parsed as a next request.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "base/result.h"

namespace httplib {
struct Request;
}

namespace sealrelay::relay {

// "/v1/agent/transfers/{tid}/frames" with a well-formed transfer id.
bool is_upload_path(std::string_view path);

// nullopt when the request's body (if any) is framed as its route allows,
// else the refusal: bad_request, length_required or too_large
// (proto/errors.h). max_json_bytes bounds every body but the upload's.
std::optional<Error> check_body(const httplib::Request& req, size_t max_json_bytes);

}  // namespace sealrelay::relay
