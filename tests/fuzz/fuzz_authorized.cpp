// agent/authorized_requesters.h: the agent's trust list file. Written by an
// admin, but a strict parser is what keeps a typo from granting everything.
// Properties: no crash; every accepted entry has a unique key and a scope
// whose paths parse; a line with "paths=" anywhere but right after the key
// is never accepted; a line reported broken grants nothing.
#include <cstdlib>
#include <set>
#include <string>

#include "agent/authorized_requesters.h"
#include "tests/fuzz/fuzz_support.h"

using namespace sealrelay;
using namespace sealrelay::agent;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto list = AuthorizedRequesters::parse(text);
  if (!list) return 0;
  std::set<RequesterKey> keys;
  std::set<int> broken;
  for (const auto& b : list->broken()) {
    FUZZ_CHECK(b.message.starts_with("line "));
    broken.insert(std::atoi(b.message.c_str() + 5));
  }
  for (const auto& e : list->entries()) {
    FUZZ_CHECK(!broken.contains(e.line));
    FUZZ_CHECK(keys.insert(e.key).second);
    FUZZ_CHECK(list->find(e.key) != nullptr);
    for (const auto& p : e.scope.paths()) FUZZ_CHECK(parse_request_path(p).ok());
    FUZZ_CHECK(e.comment.find('\n') == std::string::npos);
    // No token of the comment is a misplaced scope.
    std::string_view c = e.comment;
    for (size_t at = 0; at <= c.size();) {
      size_t end = c.find_first_of(" \t", at);
      if (end == std::string_view::npos) end = c.size();
      FUZZ_CHECK(!c.substr(at, end - at).starts_with("paths="));
      at = end + 1;
    }
  }
  return 0;
}
