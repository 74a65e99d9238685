#include "tests/security/cluster.h"

#include <httplib.h>

namespace sealrelay::test {

std::string first_line(const std::string& s) { return s.substr(0, s.find('\n')); }

int http_status(int port, const std::string& path, const std::string& token, std::string* body) {
  httplib::Client c("127.0.0.1", port);
  c.set_connection_timeout(2);
  c.set_read_timeout(5);
  httplib::Headers h;
  if (!token.empty()) h.emplace("Authorization", "Bearer " + token);
  auto r = c.Get(path.c_str(), h);
  if (!r) return 0;
  if (body) *body = r->body;
  return r->status;
}

}  // namespace sealrelay::test
