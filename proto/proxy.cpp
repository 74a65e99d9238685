#include "proto/proxy.h"

#include <algorithm>
#include <cctype>
#include <regex>
#include <sstream>

#include "proto/errors.h"

namespace sealrelay {
namespace {

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

// %XX escapes, as in URL credentials (a password with '@' or ':' in it).
std::optional<std::string> percent_decode(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      out += s[i];
      continue;
    }
    if (i + 2 >= s.size() || !std::isxdigit(static_cast<unsigned char>(s[i + 1])) ||
        !std::isxdigit(static_cast<unsigned char>(s[i + 2]))) {
      return std::nullopt;
    }
    out += static_cast<char>(std::stoi(s.substr(i + 1, 2), nullptr, 16));
    i += 2;
  }
  return out;
}

// `text` (from `source`) as a proxy. The message never repeats `text`: it
// may hold a password.
Result<Proxy> parse_proxy(const std::string& text, const std::string& source) {
  static const std::regex kProxy(
      R"(^(?:([A-Za-z][A-Za-z0-9+.-]*)://)?(?:([^@/]*)@)?([A-Za-z0-9.\-]+|\[[0-9A-Fa-f:]+\])(?::([0-9]{1,5}))?/?$)");
  std::smatch m;
  const std::string form = " (" + source + "): write it as http://[USER:PASSWORD@]HOST[:PORT]";
  if (!std::regex_match(text, m, kProxy)) return make_error(ErrorCode::bad_config, "the proxy is not a URL" + form);
  if (m[1].matched && lower(m[1]) != "http") {
    return make_error(ErrorCode::bad_config, "only http:// proxies are supported, not " + std::string(m[1]) + "://" + form);
  }
  Proxy p;
  p.host = m[3];
  if (p.host.front() == '[') p.host = p.host.substr(1, p.host.size() - 2);
  p.port = m[4].matched ? std::stoi(m[4]) : 80;
  if (p.port < 1 || p.port > 65535) return make_error(ErrorCode::bad_config, "the proxy's port is out of range" + form);
  if (m[2].matched) {
    std::string userinfo = m[2];
    auto colon = userinfo.find(':');
    auto user = percent_decode(userinfo.substr(0, colon));
    auto password = percent_decode(colon == std::string::npos ? "" : userinfo.substr(colon + 1));
    if (!user || !password) return make_error(ErrorCode::bad_config, "the proxy's credentials have a broken %XX escape" + form);
    p.user = *user;
    p.password = *password;
  }
  return p;
}

// Whether NO_PROXY's `list` exempts `host`.
bool exempt(const std::string& list, const std::string& host) {
  std::stringstream entries(list);
  for (std::string e; std::getline(entries, e, ',');) {
    e.erase(std::remove_if(e.begin(), e.end(), [](unsigned char c) { return std::isspace(c); }), e.end());
    e = lower(e);
    if (e == "*") return true;
    if (e.rfind("*.", 0) == 0) e.erase(0, 1);
    if (!e.empty() && e.front() == '.') e.erase(0, 1);
    if (e.empty()) continue;
    if (host == e) return true;
    if (host.size() > e.size() && host.compare(host.size() - e.size(), e.size(), e) == 0 &&
        host[host.size() - e.size() - 1] == '.') {
      return true;
    }
  }
  return false;
}

const char* first_set(const EnvLookup& env, const char* a, const char* b) {
  const char* v = env(a);
  if (v && *v) return v;
  v = env(b);
  return v && *v ? v : nullptr;
}

}  // namespace

std::string Proxy::display() const {
  const bool v6 = host.find(':') != std::string::npos;
  return "http://" + (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

Result<std::optional<Proxy>> choose_proxy(const std::string& relay_url, const std::string& setting,
                                          const EnvLookup& env) {
  if (setting == "direct") return std::optional<Proxy>();
  if (!setting.empty()) {
    auto p = parse_proxy(setting, "the proxy setting");
    if (!p) return p.error();
    return std::optional<Proxy>(*p);
  }
  static const std::regex kRelay(R"(^(https?)://([^/:\[\]]+|\[[0-9A-Fa-f:]+\]))");
  std::smatch m;
  if (!std::regex_search(relay_url, m, kRelay)) return std::optional<Proxy>();  // RelayClient refuses it.
  std::string host = lower(m[2]);
  if (host.front() == '[') host = host.substr(1, host.size() - 2);
  // A relay on this machine is never behind the site's proxy (as Go and
  // most tools do): also keeps a proxied shell's tests on loopback.
  if (host == "localhost" || host == "::1" || host.rfind("127.", 0) == 0) return std::optional<Proxy>();
  const bool https = m[1] == "https";
  const char* name = https ? "https_proxy" : "http_proxy";
  const char* value = https ? first_set(env, "https_proxy", "HTTPS_PROXY") : first_set(env, "http_proxy", "HTTP_PROXY");
  if (!value) return std::optional<Proxy>();
  if (const char* no = first_set(env, "no_proxy", "NO_PROXY"); no && exempt(no, host)) return std::optional<Proxy>();
  auto p = parse_proxy(value, std::string("the environment's ") + name);
  if (!p) return p.error();
  return std::optional<Proxy>(*p);
}

}  // namespace sealrelay
