// agent/request_path.h: the path inside a requester's message 1, and the
// paths= scopes of authorized_requesters. Properties: what parses is
// canonical (its str() parses to the same components) and made only of safe
// components; a scope covers exactly its paths and what lies below them.
#include <string>
#include <vector>

#include "agent/request_path.h"
#include "tests/fuzz/fuzz_support.h"

using namespace sealrelay;
using namespace sealrelay::agent;

namespace {

void check_components(const RequestPath& p) {
  for (size_t i = 0; i < p.components.size(); ++i) {
    const std::string& c = p.components[i];
    FUZZ_CHECK(!c.empty() && c != "." && c != ".." && c.size() <= kMaxComponentBytes);
    FUZZ_CHECK(c.find('/') == std::string::npos && c.find('\0') == std::string::npos);
    if (i == 0) FUZZ_CHECK(is_valid_share_name(c));
  }
  std::string text = p.str();
  FUZZ_CHECK(text.size() <= kMaxPathBytes);
  auto again = parse_request_path(text);
  FUZZ_CHECK(again.ok() && again->components == p.components);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view all(reinterpret_cast<const char*>(data), size);
  // "path\nscope1\nscope2..." — the first line is the request path.
  size_t nl = all.find('\n');
  std::string_view path = all.substr(0, nl);
  auto parsed = parse_request_path(path);
  if (parsed) {
    check_components(*parsed);
    FUZZ_CHECK(PathScope::everything().visibility(parsed->components) == Visibility::full);
  } else {
    FUZZ_CHECK(parsed.error().code == "bad_path");
  }
  if (nl == std::string_view::npos) return 0;
  std::vector<std::string> scopes;
  for (std::string_view rest = all.substr(nl + 1); scopes.size() < 8;) {
    size_t e = rest.find('\n');
    scopes.emplace_back(rest.substr(0, e));
    if (e == std::string_view::npos) break;
    rest.remove_prefix(e + 1);
  }
  auto scope = PathScope::of(scopes);
  if (!scope) return 0;
  for (const auto& s : scope->paths()) {
    auto sp = parse_request_path(s);
    FUZZ_CHECK(sp.ok());
    FUZZ_CHECK(scope->visibility(sp->components) == Visibility::full);
    auto below = sp->components;
    below.push_back("x");
    FUZZ_CHECK(scope->visibility(below) == Visibility::full);
    if (!sp->components.empty()) {
      auto above = sp->components;
      above.pop_back();
      FUZZ_CHECK(scope->visibility(above) != Visibility::hidden);
    }
  }
  if (parsed) {
    Visibility v = scope->visibility(parsed->components);
    // Full visibility means one of the scope paths is a prefix of the path.
    bool covered = false;
    for (const auto& s : scope->paths()) {
      auto sp = parse_request_path(s);
      covered = covered || (sp->components.size() <= parsed->components.size() &&
                            std::equal(sp->components.begin(), sp->components.end(), parsed->components.begin()));
    }
    FUZZ_CHECK((v == Visibility::full) == covered);
    if (!parsed->components.empty() && v == Visibility::hidden) {
      auto child = parsed->components;
      child.push_back("y");
      FUZZ_CHECK(scope->visibility(child) == Visibility::hidden);
    }
  }
  return 0;
}
