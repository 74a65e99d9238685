// Malformed, oversized and hostile input to every relay route (issue 7;
// docs/api.md §Errors; docs/security.md §Bad input), sent as raw bytes over
// a socket so nothing is tidied up by an HTTP library: bad JSON, wrong
// types, bad base64, oversized frames, headers, request lines and bodies,
// unbounded chunked bodies, thousands of headers, a spoofed REMOTE_ADDR
// header, unknown agents and transfers, and wrong, missing, other-agent,
// wrong-kind and revoked tokens on every authenticated route. Each gets its
// documented status and a JSON {"error","message"}; after each the relay
// still serves; at the end its memory has not grown with what was thrown at
// it. tests/integration/relay/relay_limits_test.cpp covers the single limits
// one by one; this is the table over every route.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fstream>
#include <functional>

#include "proto/upload.h"
#include "tests/integration/relay/harness.h"

namespace sealrelay::test {
namespace {

struct RawReply {
  int status = 0;  // 0: the relay closed or reset without an answer
  std::string headers, body;
  json j;
  // The JSON error code, "" when the body is not a JSON object.
  std::string code() const { return j.is_object() && j.contains("error") && j["error"].is_string() ? j["error"] : ""; }
  bool has_message() const { return j.is_object() && j.contains("message") && j["message"].is_string(); }
};

// Sends `head` then, if set, `body()` chunks until it returns "" (or the
// relay stops reading), and reads the answer. The relay may close as soon as
// it has answered; a write error after that is fine.
RawReply raw_request(int port, const std::string& head, const std::function<std::string()>& body = nullptr,
                     std::chrono::seconds timeout = 20s) {
  RawReply r;
  int fd = connect_loopback(port);
  if (fd < 0) return r;
  timeval tv{static_cast<time_t>(timeout.count()), 0};
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  auto send_all = [&](const std::string& s) {
    for (size_t done = 0; done < s.size();) {
      ssize_t n = ::send(fd, s.data() + done, s.size() - done, MSG_NOSIGNAL);
      if (n <= 0) return false;
      done += static_cast<size_t>(n);
    }
    return true;
  };
  std::string in;
  auto readable = [&](int ms) {
    pollfd p{fd, POLLIN, 0};
    return ::poll(&p, 1, ms) > 0;
  };
  bool ok = send_all(head);
  if (ok && body) {
    for (std::string chunk; !(chunk = body()).empty();) {
      if (readable(0)) break;  // answered before the body was read
      if (!send_all(chunk)) break;
    }
  }
  auto deadline = std::chrono::steady_clock::now() + timeout;
  char buf[65536];
  while (std::chrono::steady_clock::now() < deadline) {
    if (!readable(100)) continue;
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    in.append(buf, static_cast<size_t>(n));
    size_t end = in.find("\r\n\r\n");
    if (end != std::string::npos) {
      std::string h = in.substr(0, end);
      size_t cl = h.find("Content-Length: ");
      if (cl != std::string::npos && in.size() >= end + 4 + std::stoull(h.substr(cl + 16))) break;
    }
  }
  ::close(fd);
  size_t end = in.find("\r\n\r\n");
  if (!in.starts_with("HTTP/1.1 ") || end == std::string::npos) return r;
  r.status = std::atoi(in.c_str() + 9);
  r.headers = in.substr(0, end);
  r.body = in.substr(end + 4);
  r.j = json::parse(r.body, nullptr, false);
  return r;
}

std::string request(const std::string& method, const std::string& path, const std::string& token,
                    const std::string& body = "", const std::string& extra_headers = "") {
  std::string h = method + " " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n";
  if (!token.empty()) h += "Authorization: Bearer " + token + "\r\n";
  h += extra_headers;
  if (!body.empty() || method == "POST") {
    h += "Content-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) + "\r\n";
  }
  return h + "\r\n" + body;
}

class HostileInput : public testing::Test {
 protected:
  void SetUp() override {
    agent_token = Relay::token(dir.path(), {"add-agent", "shop-1"});
    other_agent_token = Relay::token(dir.path(), {"add-agent", "shop-2"});
    revoked_agent_token = Relay::token(dir.path(), {"add-agent", "shop-3"});
    req_token = Relay::token(dir.path(), {"add-requester", "ops", "--agents", "shop-1"});
    revoked_req_token = Relay::token(dir.path(), {"add-requester", "old", "--agents", "*"});
    Relay::token(dir.path(), {"revoke", revoked_agent_token.substr(4, 16)});
    Relay::token(dir.path(), {"revoke", revoked_req_token.substr(4, 16)});
    relay = Relay::start(dir.path(), {"--max-frame-bytes", "2000", "--max-json-bytes", "4096",
                                      "--rate-per-token", "10000", "--burst-per-token", "10000",
                                      "--rate-per-ip", "10000", "--burst-per-ip", "10000"});
    ASSERT_TRUE(relay);
    agent.port = relay->port();
    agent.token = agent_token;
    agent.id = "shop-1";
    agent.connect();
    auto r = call(port(), "POST", "/v1/transfers", req_token, {{"agent", "shop-1"}, {"msg1", b64("m1")}});
    ASSERT_EQ(r.status, 201) << r.raw;
    tid = r.body["transfer_id"];
  }
  int port() { return relay->port(); }
  void expect_serving(const std::string& after) {
    EXPECT_EQ(call(port(), "GET", "/healthz", "").status, 200) << "the relay stopped serving after " << after;
  }

  TempDir dir;
  std::string agent_token, other_agent_token, revoked_agent_token, req_token, revoked_req_token, tid;
  std::unique_ptr<Relay> relay;
  Agent agent;
};

struct Route {
  const char* method;
  std::string path;  // {tid} is replaced
  bool agent;        // needs an agent token (else a requester token)
};

// Every authenticated route, with every kind of bad credential.
TEST_F(HostileInput, EveryRouteRefusesEveryBadCredentialWithItsStatus) {
  const std::vector<Route> routes = {
      {"GET", "/v1/agents", false},
      {"POST", "/v1/transfers", false},
      {"GET", "/v1/transfers", false},
      {"GET", "/v1/transfers/{tid}", false},
      {"DELETE", "/v1/transfers/{tid}", false},
      {"GET", "/v1/transfers/{tid}/events", false},
      {"GET", "/v1/agent/control", true},
      {"POST", "/v1/agent/transfers/{tid}/answer", true},
      {"POST", "/v1/agent/transfers/{tid}/frames", true},
      {"GET", "/v1/agent/transfers/{tid}", true},
  };
  struct Credential {
    const char* what;
    std::string header;  // the whole Authorization line, or ""
    int status;
    const char* code;
  };
  const std::string secret_swapped = req_token.substr(0, 21) + std::string(64, 'f');
  for (const auto& route : routes) {
    std::string path = route.path;
    if (auto at = path.find("{tid}"); at != std::string::npos) path.replace(at, 5, tid);
    const std::string& right = route.agent ? agent_token : req_token;
    const std::string& wrong_kind = route.agent ? req_token : agent_token;
    const std::string& revoked = route.agent ? revoked_agent_token : revoked_req_token;
    const std::vector<Credential> creds = {
        {"no token", "", 401, "unauthorized"},
        {"empty bearer", "Authorization: Bearer \r\n", 401, "unauthorized"},
        {"basic auth", "Authorization: Basic YWdlbnQ6c2VjcmV0\r\n", 401, "unauthorized"},
        {"malformed token", "Authorization: Bearer srt_zz\r\n", 401, "unauthorized"},
        {"very long token", "Authorization: Bearer srt_" + std::string(7000, 'a') + "\r\n", 401, "unauthorized"},
        {"binary token", std::string("Authorization: Bearer srt_\x01\x7f\xff\r\n"), 401, "unauthorized"},
        {"wrong secret", "Authorization: Bearer " + right.substr(0, 21) + std::string(64, '0') + "\r\n", 401,
         "unauthorized"},
        {"unknown token id", "Authorization: Bearer srt_0123456789abcdef_" + std::string(64, 'a') + "\r\n", 401,
         "unauthorized"},
        {"revoked token", "Authorization: Bearer " + revoked + "\r\n", 401, "unauthorized"},
        {"token of the other kind", "Authorization: Bearer " + wrong_kind + "\r\n", 403, "forbidden"},
    };
    for (const auto& c : creds) {
      SCOPED_TRACE(std::string(route.method) + " " + route.path + " with " + c.what);
      std::string body = std::string(route.method) == "POST" ? R"({"agent":"shop-1","msg1":"bTE=","msg2":"bTI="})"
                                                             : "";
      auto r = raw_request(port(), request(route.method, path, "", body, c.header));
      EXPECT_EQ(r.status, c.status) << r.headers << "\n" << r.body;
      EXPECT_EQ(r.code(), c.code) << r.body;
      EXPECT_TRUE(r.has_message()) << r.body;
      if (c.status == 401) {
        EXPECT_NE(r.headers.find("WWW-Authenticate: Bearer"), std::string::npos) << r.headers;
      }
    }
  }
  // Another agent's token on this agent's transfer, another requester's on
  // this requester's: the transfer does not exist for them.
  const std::string other_req = Relay::token(dir.path(), {"add-requester", "eve", "--agents", "*"});
  ASSERT_TRUE(wait_until([&] { return call(port(), "GET", "/v1/agents", other_req).status == 200; }, 5s));
  for (const auto& route : routes) {
    if (route.path.find("{tid}") == std::string::npos) continue;
    std::string path = route.path;
    path.replace(path.find("{tid}"), 5, tid);
    SCOPED_TRACE(std::string(route.method) + " " + route.path + " with another principal's token");
    std::string body = std::string(route.method) == "POST" ? R"({"msg2":"bTI="})" : "";
    auto r = raw_request(port(), request(route.method, path, route.agent ? other_agent_token : other_req, body,
                                         "X-Sealrelay-First-Frame: 0\r\n"));
    EXPECT_EQ(r.status, 404) << r.body;
    EXPECT_EQ(r.code(), "unknown_transfer") << r.body;
  }
  expect_serving("bad credentials");
}

// Bodies and headers that are malformed, of the wrong type or too large,
// on the routes that read them.
TEST_F(HostileInput, MalformedAndOversizedInputGetsItsDocumentedError) {
  struct Case {
    const char* what;
    std::string raw;
    int status;
    const char* code;
  };
  const std::string create = "/v1/transfers";
  const std::string answer = "/v1/agent/transfers/" + tid + "/answer";
  const std::string events = "/v1/transfers/" + tid + "/events";
  auto post = [&](const std::string& path, const std::string& token, const std::string& body,
                  const std::string& extra = "") { return request("POST", path, token, body, extra); };
  const std::string big_b64 = b64(std::string(65536, 'x'));
  std::vector<Case> cases = {
      // POST /v1/transfers
      {"empty body", post(create, req_token, ""), 400, "bad_request"},
      {"not JSON", post(create, req_token, "{\"agent\":"), 400, "bad_request"},
      {"JSON array", post(create, req_token, "[1,2]"), 400, "bad_request"},
      {"JSON string", post(create, req_token, "\"x\""), 400, "bad_request"},
      {"agent of the wrong type", post(create, req_token, R"({"agent":5,"msg1":"bTE="})"), 400, "bad_request"},
      {"msg1 of the wrong type", post(create, req_token, R"({"agent":"shop-1","msg1":["bTE="]})"), 400,
       "bad_request"},
      {"msg1 null", post(create, req_token, R"({"agent":"shop-1","msg1":null})"), 400, "bad_request"},
      {"msg1 not base64", post(create, req_token, R"({"agent":"shop-1","msg1":"%%%%"})"), 400, "bad_request"},
      {"msg1 unpadded", post(create, req_token, R"({"agent":"shop-1","msg1":"bTE"})"), 400, "bad_request"},
      {"msg1 url-safe alphabet", post(create, req_token, R"({"agent":"shop-1","msg1":"-_8="})"), 400,
       "bad_request"},
      {"msg1 empty", post(create, req_token, R"({"agent":"shop-1","msg1":""})"), 400, "bad_request"},
      {"invalid UTF-8", post(create, req_token, "{\"agent\":\"shop-\xff\",\"msg1\":\"bTE=\"}"), 400, "bad_request"},
      {"deeply nested", post(create, req_token, std::string(2000, '[') + std::string(2000, ']')), 400,
       "bad_request"},
      {"unknown agent", post(create, req_token, R"({"agent":"ghost","msg1":"bTE="})"), 404, "unknown_agent"},
      {"agent id with a path", post(create, req_token, R"({"agent":"../shop-1","msg1":"bTE="})"), 404,
       "unknown_agent"},
      {"agent out of scope", post(create, req_token, R"({"agent":"shop-2","msg1":"bTE="})"), 404, "unknown_agent"},
      {"body over the JSON limit", post(create, req_token, std::string(5000, ' ')), 413, "too_large"},
      {"Content-Length over the limit, no body",
       "POST /v1/transfers HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAuthorization: Bearer " + req_token +
           "\r\nContent-Length: 99999999999\r\n\r\n",
       413, "too_large"},
      {"Content-Length not a number",
       "POST /v1/transfers HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAuthorization: Bearer " + req_token +
           "\r\nContent-Length: lots\r\n\r\n",
       400, "bad_request"},
      {"gzip body", post(create, req_token, "{}", "Content-Encoding: gzip\r\n"), 400, "bad_request"},
      // POST /v1/agent/transfers/{tid}/answer
      {"answer not JSON", post(answer, agent_token, "msg2=x"), 400, "bad_request"},
      {"answer msg2 of the wrong type", post(answer, agent_token, R"({"msg2":12})"), 400, "bad_request"},
      {"answer msg2 not base64", post(answer, agent_token, R"({"msg2":"a b="})"), 400, "bad_request"},
      {"answer msg2 empty", post(answer, agent_token, R"({"msg2":""})"), 400, "bad_request"},
      {"answer error code with bad characters", post(answer, agent_token, R"({"error":"Bad Code!","message":"x"})"),
       400, "bad_request"},
      {"answer with neither", post(answer, agent_token, R"({"hello":1})"), 400, "bad_request"},
      // GET streams with bad headers
      {"events with a bad Last-Event-ID",
       request("GET", events, req_token, "", "Last-Event-ID: 12abc\r\n"), 400, "bad_request"},
      {"events with a negative Last-Event-ID",
       request("GET", events, req_token, "", "Last-Event-ID: -1\r\n"), 400, "bad_request"},
      {"control without a public key", request("GET", "/v1/agent/control", agent_token), 400, "bad_request"},
      {"control with a 31-byte key",
       request("GET", "/v1/agent/control", agent_token, "", "X-Sealrelay-Public-Key: " + b64(std::string(31, 'k')) +
                                                                "\r\n"),
       400, "bad_request"},
      {"control with a key in the url-safe alphabet",
       request("GET", "/v1/agent/control", agent_token, "",
               "X-Sealrelay-Public-Key: " + std::string(42, '_') + "8=\r\n"),
       400, "bad_request"},
      {"control with a control character in the version",
       request("GET", "/v1/agent/control", agent_token, "",
               "X-Sealrelay-Public-Key: " + random_key_b64() + "\r\nX-Sealrelay-Version: a\x01" "b\r\n"),
       400, "bad_request"},
      {"control with a 200-character version",
       request("GET", "/v1/agent/control", agent_token, "",
               "X-Sealrelay-Public-Key: " + random_key_b64() + "\r\nX-Sealrelay-Version: " + std::string(200, 'v') +
                   "\r\n"),
       400, "bad_request"},
      // Unknown transfers and routes
      {"unknown transfer", request("GET", "/v1/transfers/t_00000000000000000000000000000000", req_token), 404,
       "unknown_transfer"},
      {"transfer id with dots", request("GET", "/v1/transfers/..", req_token), 404, "unknown_transfer"},
      {"encoded slashes in a transfer id", request("GET", "/v1/transfers/..%2f..%2fetc", req_token), 404,
       "not_found"},
      {"agent status of an unknown transfer", request("GET", "/v1/agent/transfers/t_nope", agent_token), 404,
       "unknown_transfer"},
      {"unknown route", request("GET", "/v1/secrets", req_token), 404, "not_found"},
      {"a method no route takes", request("PATCH", "/v1/agents", req_token, "", "Content-Length: 0\r\n"), 404,
       "not_found"},
      {"a method HTTP does not have", request("BREW", "/v1/agents", req_token), 400, "bad_request"},
      // Oversized request line and header line (cpp-httplib's 8 KiB limits)
      {"request line over 8 KiB", request("GET", "/v1/agents?" + std::string(9000, 'q'), req_token), 400,
       "bad_request"},
      {"header line over 8 KiB", request("GET", "/v1/agents", req_token, "", "X-Big: " + std::string(9000, 'h') +
                                                                                "\r\n"),
       400, "bad_request"},
      {"thousands of headers",
       [&] {
         std::string h;
         for (int i = 0; i < 5000; ++i) h += "X-Filler-" + std::to_string(i) + ": y\r\n";
         return request("GET", "/v1/agents", req_token, "", h);
       }(),
       400, "bad_request"},
      {"not HTTP at all", std::string("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 11) + "\r\n\r\n", 400,
       "bad_request"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.what);
    auto r = raw_request(port(), c.raw);
    EXPECT_EQ(r.status, c.status) << r.headers << "\n" << r.body.substr(0, 300);
    EXPECT_EQ(r.code(), c.code) << r.body.substr(0, 300);
    EXPECT_TRUE(r.has_message()) << r.body.substr(0, 300);
    expect_serving(c.what);
  }
  // msg1 / msg2 over 65535 bytes decoded.
  auto big1 = call(port(), "POST", "/v1/transfers", req_token, {{"agent", "shop-1"}, {"msg1", big_b64}});
  EXPECT_TRUE(big1.status == 413 && big1.body.value("error", "") == "too_large") << big1.raw.substr(0, 200);
}

// Bodies that never end: chunked JSON to a route that takes none, a chunked
// upload without credentials, an upload whose first record claims 4 GiB, and
// an endless stream of garbage records. None is buffered: the relay answers
// (or cuts the connection) and its memory stays flat.
TEST_F(HostileInput, UnboundedBodiesAreNeverBuffered) {
  pid_t pid = relay->process().pid();
  const size_t before = rss_of(pid);
  size_t sent = 0;
  auto endless = [&](size_t cap) {
    return [&sent, cap]() -> std::string {
      if (sent >= cap) return "";
      sent += 64 * 1024;
      std::string chunk(64 * 1024, 'z');
      char size[16];
      std::snprintf(size, sizeof size, "%zx\r\n", chunk.size());
      return size + chunk + "\r\n";
    };
  };
  const std::string frames = "/v1/agent/transfers/" + tid + "/frames";
  struct Case {
    const char* what;
    std::string head;
    int status;  // 0: a reset is acceptable (documented), else this status or a reset
    const char* code;
  } cases[] = {
      {"chunked JSON body",
       "POST /v1/transfers HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAuthorization: Bearer " + req_token +
           "\r\nTransfer-Encoding: chunked\r\nContent-Type: application/json\r\n\r\n",
       400, "bad_request"},
      {"chunked upload without a token",
       "POST " + frames + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\nTransfer-Encoding: chunked\r\nX-Sealrelay-First-Frame: 0\r\n\r\n",
       401, "unauthorized"},
      {"chunked upload to an unknown transfer",
       "POST /v1/agent/transfers/t_00000000000000000000000000000000/frames HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAuthorization: Bearer " + agent_token +
           "\r\nTransfer-Encoding: chunked\r\nX-Sealrelay-First-Frame: 0\r\n\r\n",
       404, "unknown_transfer"},
      {"chunked upload to a malformed transfer id (not the upload route)",
       "POST /v1/agent/transfers/t_nope/frames HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAuthorization: Bearer " + agent_token +
           "\r\nTransfer-Encoding: chunked\r\nX-Sealrelay-First-Frame: 0\r\n\r\n",
       400, "bad_request"},
      {"upload before the answer, endless",
       "POST " + frames + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAuthorization: Bearer " + agent_token +
           "\r\nTransfer-Encoding: chunked\r\nX-Sealrelay-First-Frame: 0\r\n\r\n",
       409, "conflict"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.what);
    sent = 0;
    auto r = raw_request(port(), c.head, endless(256u << 20), 30s);
    EXPECT_LT(sent, 256u << 20) << "the relay read the whole endless body";
    if (r.status != 0) {
      EXPECT_EQ(r.status, c.status) << r.body;
      EXPECT_EQ(r.code(), c.code) << r.body;
    }
    expect_serving(c.what);
  }
  // After the answer: a record that claims 4 GiB fails the transfer before
  // a byte of it is read; garbage after valid records the same.
  ASSERT_EQ(agent.answer(tid, "m2").status, 200);
  {
    sent = 0;
    bool first = true;
    auto r = raw_request(
        port(),
        "POST " + frames + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAuthorization: Bearer " + agent_token +
            "\r\nTransfer-Encoding: chunked\r\nX-Sealrelay-First-Frame: 0\r\n\r\n",
        [&]() -> std::string {
          if (first) {
            first = false;
            return "4\r\n\xff\xff\xff\xff\r\n";
          }
          return endless(256u << 20)();
        },
        30s);
    EXPECT_LT(sent, 256u << 20);
    auto st = call(port(), "GET", "/v1/agent/transfers/" + tid, agent_token);
    EXPECT_EQ(st.body["state"], "failed") << st.raw;
    EXPECT_EQ(st.body["error"]["error"], "too_large") << st.raw;
  }
  expect_serving("a 4 GiB record");
  const size_t after = rss_of(pid);
  std::cout << "relay RSS " << before / 1024 << " KiB before, " << after / 1024 << " KiB after\n";
  EXPECT_LT(after, before + (32u << 20)) << "the relay buffered what it should have refused";
}

// Issue 15: cpp-httplib 0.11.4 reads a POST without a length until the peer
// closes, takes "+99999999999" and "-1" as huge lengths, and would read a
// chunked body into memory on a path that only looks like the upload. Each
// framing the relay does not accept is refused from its headers, before a
// byte of body is read, and the connection is closed after the answer (so
// the unread bytes are never parsed as a next request). The test keeps
// sending up to 10x the route's limit and watches the relay's memory.
TEST_F(HostileInput, AnUnframedOrMisframedBodyIsRefusedBeforeItIsRead) {
  const size_t limit = 16u << 20;
  relay.reset();
  relay = Relay::start(dir.path(), {"--max-json-bytes", std::to_string(limit), "--rate-per-token", "10000",
                                    "--burst-per-token", "10000", "--rate-per-ip", "10000", "--burst-per-ip",
                                    "10000"},
                       "relay-bodies");
  ASSERT_TRUE(relay);
  agent.port = port();
  agent.connect();
  const pid_t pid = relay->process().pid();
  const std::string create = "POST /v1/transfers HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + req_token + "\r\n";
  const std::string agent_auth = "Host: x\r\nAuthorization: Bearer " + agent_token + "\r\n";
  struct Case {
    const char* what;
    std::string head;  // no "Connection: close": the relay must close by itself
    bool chunked;      // send the body as chunks
    int status;
    const char* code;
  } cases[] = {
      {"no length, read until EOF", create + "\r\n", false, 411, "length_required"},
      {"Content-Length +99999999999", create + "Content-Length: +99999999999\r\n\r\n", false, 400, "bad_request"},
      {"Content-Length -1", create + "Content-Length: -1\r\n\r\n", false, 400, "bad_request"},
      {"Content-Length 1e9", create + "Content-Length: 1e9\r\n\r\n", false, 400, "bad_request"},
      {"Content-Length 1 2", create + "Content-Length: 1 2\r\n\r\n", false, 400, "bad_request"},
      {"Content-Length 0x10", create + "Content-Length: 0x10\r\n\r\n", false, 400, "bad_request"},
      {"Content-Length of 19 digits", create + "Content-Length: 0000000000000000001\r\n\r\n", false, 400,
       "bad_request"},
      {"two Content-Lengths", create + "Content-Length: 10\r\nContent-Length: 99999999\r\n\r\n", false, 400,
       "bad_request"},
      {"the same Content-Length twice", create + "Content-Length: 10\r\nContent-Length: 10\r\n\r\n", false, 400,
       "bad_request"},
      {"Content-Length and chunked", create + "Content-Length: 10\r\nTransfer-Encoding: chunked\r\n\r\n", true, 400,
       "bad_request"},
      {"Content-Length over the route's limit", create + "Content-Length: " + std::to_string(10 * limit) + "\r\n\r\n",
       false, 413, "too_large"},
      {"chunked on a near-miss of the upload path",
       "POST /v1/agent/transfers/a/b/frames HTTP/1.1\r\n" + agent_auth + "Transfer-Encoding: chunked\r\n\r\n", true,
       400, "bad_request"},
      {"chunked on the upload path with a bad transfer id",
       "POST /v1/agent/transfers/..%2f/frames HTTP/1.1\r\n" + agent_auth + "Transfer-Encoding: chunked\r\n\r\n", true,
       400, "bad_request"},
      {"a transfer coding other than chunked on the upload",
       "POST /v1/agent/transfers/" + tid + "/frames HTTP/1.1\r\n" + agent_auth +
           "Transfer-Encoding: gzip, chunked\r\n\r\n",
       true, 400, "bad_request"},
      {"GET with a body", "GET /v1/agents HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + req_token +
                              "\r\nContent-Length: " + std::to_string(10 * limit) + "\r\n\r\n",
       false, 400, "bad_request"},
      {"DELETE with a body", "DELETE /v1/transfers/" + tid + " HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " +
                                 req_token + "\r\nContent-Length: 1000\r\n\r\n",
       false, 400, "bad_request"},
  };
  const size_t cap = 10 * limit;
  for (const auto& c : cases) {
    SCOPED_TRACE(c.what);
    const size_t before = rss_of(pid);
    size_t sent = 0;
    auto r = raw_request(port(), c.head, [&]() -> std::string {
      if (sent >= cap) return "";
      std::string piece(1u << 20, 'z');  // no line break: as a "next request" it would be one endless line
      sent += piece.size();
      if (!c.chunked) return piece;
      char size[16];
      std::snprintf(size, sizeof size, "%zx\r\n", piece.size());
      return size + piece + "\r\n";
    });
    EXPECT_EQ(r.status, c.status) << r.headers << "\n" << r.body;
    EXPECT_EQ(r.code(), c.code) << r.body;
    EXPECT_TRUE(r.has_message()) << r.body;
    EXPECT_NE(r.headers.find("Connection: close"), std::string::npos) << r.headers;
    EXPECT_LT(sent, cap) << "the relay read the whole body before answering";
    const size_t after = rss_of(pid);
    EXPECT_LT(after, before + limit) << "relay RSS " << before / 1024 << " KiB before, " << after / 1024
                                     << " KiB after " << sent / 1024 << " KiB were sent";
    expect_serving(c.what);
  }
  // Whitespace around a field value is not part of it (RFC 9110 §5.5):
  // cpp-httplib strips it, so " 12" is 12 for every parser, and exactly 12
  // bytes are read as the body.
  auto r = raw_request(port(), create + "Connection: close\r\nContent-Length:  12 \r\n\r\n" + R"({"agent":12})");
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_NE(r.body.find("need \\\"agent\\\""), std::string::npos) << r.body;
  // And the bodies the relay does take still go through on a kept-alive
  // connection: a plain Content-Length, a DELETE and a GET without one.
  EXPECT_EQ(call(port(), "GET", "/v1/agents", req_token).status, 200);
  auto created = call(port(), "POST", "/v1/transfers", req_token, {{"agent", "shop-1"}, {"msg1", b64("m1")}});
  ASSERT_EQ(created.status, 201) << created.raw;
  EXPECT_EQ(call(port(), "DELETE", "/v1/transfers/" + created.body["transfer_id"].get<std::string>(), req_token).status,
            200);
}

// cpp-httplib 0.11.4 copies any REMOTE_ADDR request header into the request
// (an unpatched advisory): the relay must rate-limit by the socket's address,
// so rotating a spoofed header buys nothing.
TEST_F(HostileInput, ASpoofedRemoteAddrHeaderDoesNotEscapeThePerAddressLimit) {
  relay.reset();
  relay = Relay::start(dir.path(), {"--rate-per-ip", "0.1", "--burst-per-ip", "10"}, "relay-ip");
  ASSERT_TRUE(relay);
  int limited = 0;
  for (int i = 0; i < 30; ++i) {
    std::string spoof = "REMOTE_ADDR: 10.0.0." + std::to_string(i) + "\r\nX-Forwarded-For: 10.1.0." +
                        std::to_string(i) + "\r\nX-Real-IP: 10.2.0." + std::to_string(i) + "\r\n";
    auto r = raw_request(port(), request("GET", "/healthz", "", "", spoof));
    if (r.status == 429) {
      ++limited;
      EXPECT_EQ(r.code(), "rate_limited");
    }
  }
  EXPECT_GE(limited, 15) << "a spoofed address header escaped the per-address limit";
  // The log shows the real peer, never the spoofed one.
  std::string log = relay->process().log();
  EXPECT_EQ(log.find("10.0.0."), std::string::npos) << log;
}

}  // namespace
}  // namespace sealrelay::test
