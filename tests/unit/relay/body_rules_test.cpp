// relay/body_rules.h: which bodies the relay reads, from the headers alone
// (docs/api.md §Bodies). The same table runs against a real relay in
// tests/security/hostile_input_test.cpp.
#include "relay/body_rules.h"

#include <gtest/gtest.h>
#include <httplib.h>

#include "proto/errors.h"

namespace sealrelay::relay {
namespace {

const std::string kTid = "t_0123456789abcdef0123456789abcdef";

httplib::Request request(const std::string& method, const std::string& path,
                         std::vector<std::pair<std::string, std::string>> headers) {
  httplib::Request req;
  req.method = method;
  req.path = path;
  for (auto& [k, v] : headers) req.headers.emplace(k, v);
  return req;
}

TEST(BodyRules, OnlyTheExactUploadPathWithAWellFormedIdIsTheUpload) {
  EXPECT_TRUE(is_upload_path("/v1/agent/transfers/" + kTid + "/frames"));
  for (const std::string& near : std::vector<std::string>{"/v1/agent/transfers/a/b/frames", "/v1/agent/transfers/t_nope/frames",
                           "/v1/agent/transfers//frames", "/v1/agent/transfers/frames",
                           "/v1/agent/transfers/" + kTid + "/frames/", "/v1/agent/transfers/" + kTid + "/framesx",
                           "/v1/agent/transfers/" + kTid + "x/frames", "/x/v1/agent/transfers/" + kTid + "/frames"}) {
    EXPECT_FALSE(is_upload_path(near)) << near;
  }
}

TEST(BodyRules, EachFramingGetsItsAnswerBeforeTheBodyIsRead) {
  const std::string upload = "/v1/agent/transfers/" + kTid + "/frames";
  struct Case {
    const char* what;
    httplib::Request req;
    int status;  // 0: accepted
  } cases[] = {
      {"JSON with a length", request("POST", "/v1/transfers", {{"Content-Length", "100"}}), 0},
      {"JSON at the limit", request("POST", "/v1/transfers", {{"Content-Length", "4096"}}), 0},
      {"JSON over the limit", request("POST", "/v1/transfers", {{"Content-Length", "4097"}}), 413},
      {"no length", request("POST", "/v1/transfers", {}), 411},
      {"PUT without a length", request("PUT", "/v1/transfers", {}), 411},
      {"plus sign", request("POST", "/v1/transfers", {{"Content-Length", "+99999999999"}}), 400},
      {"minus one", request("POST", "/v1/transfers", {{"Content-Length", "-1"}}), 400},
      {"exponent", request("POST", "/v1/transfers", {{"Content-Length", "1e9"}}), 400},
      {"space inside", request("POST", "/v1/transfers", {{"Content-Length", "1 2"}}), 400},
      {"empty", request("POST", "/v1/transfers", {{"Content-Length", ""}}), 400},
      {"19 digits", request("POST", upload, {{"Content-Length", "1000000000000000000"}}), 400},
      {"two lengths", request("POST", "/v1/transfers", {{"Content-Length", "10"}, {"Content-Length", "10"}}), 400},
      {"a list", request("POST", "/v1/transfers", {{"Content-Length", "10, 10"}}), 400},
      {"length and chunked", request("POST", upload, {{"Content-Length", "10"}, {"Transfer-Encoding", "chunked"}}),
       400},
      {"chunked upload", request("POST", upload, {{"Transfer-Encoding", "chunked"}}), 0},
      {"Chunked upload", request("POST", upload, {{"Transfer-Encoding", "Chunked"}}), 0},
      {"upload with a length, any size", request("POST", upload, {{"Content-Length", "999999999999999999"}}), 0},
      {"upload without either", request("POST", upload, {}), 411},
      {"gzip, chunked upload", request("POST", upload, {{"Transfer-Encoding", "gzip, chunked"}}), 400},
      {"two codings", request("POST", upload, {{"Transfer-Encoding", "chunked"}, {"Transfer-Encoding", "chunked"}}),
       400},
      {"chunked JSON", request("POST", "/v1/transfers", {{"Transfer-Encoding", "chunked"}}), 400},
      {"chunked near miss", request("POST", "/v1/agent/transfers/a/b/frames", {{"Transfer-Encoding", "chunked"}}), 400},
      {"chunked PUT to the upload path", request("PUT", upload, {{"Transfer-Encoding", "chunked"}}), 400},
      {"GET", request("GET", "/v1/agents", {}), 0},
      {"GET with length 0", request("GET", "/v1/agents", {{"Content-Length", "0"}}), 0},
      {"GET with a body", request("GET", "/v1/agents", {{"Content-Length", "5"}}), 400},
      {"HEAD chunked", request("HEAD", "/v1/agents", {{"Transfer-Encoding", "chunked"}}), 400},
      {"DELETE", request("DELETE", "/v1/transfers/" + kTid, {}), 0},
      {"DELETE with a body", request("DELETE", "/v1/transfers/" + kTid, {{"Content-Length", "5"}}), 400},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.what);
    auto r = check_body(c.req, 4096);
    auto code = r ? errors::parse(r->code) : std::nullopt;
    EXPECT_EQ(r ? errors::http_status(code.value_or(ErrorCode::unknown)).value_or(-1) : 0, c.status)
        << (r ? r->message : "");
    if (r) {
      EXPECT_FALSE(r->code.empty());
      EXPECT_FALSE(r->message.empty());
    }
  }
}

}  // namespace
}  // namespace sealrelay::relay
