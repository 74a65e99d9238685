// Which HTTP proxy, if any, carries the connection to the relay. Sites that
// reach the internet only through a proxy set it in the program's `proxy`
// setting or in the usual environment variables; the connection to an
// https relay is then a CONNECT tunnel with TLS end to end through it.
#pragma once

#include <functional>
#include <optional>
#include <string>

#include "base/result.h"

namespace sealrelay {

struct Proxy {
  std::string host;
  int port = 0;
  // Basic authentication to the proxy. Never logged, never sent to the relay.
  std::string user;
  std::string password;

  // "http://host:port", without the credentials: for messages and logs.
  std::string display() const;
};

// Looks a variable up; std::getenv in the programs, a map in tests.
using EnvLookup = std::function<const char*(const char*)>;

// The proxy for `relay_url` (http(s)://host[:port]):
//   setting "direct"  none;
//   setting set       that proxy, http://[USER[:PASSWORD]@]HOST[:PORT]
//                     (port 80 when left out; %XX escapes in the credentials);
//   setting ""        the environment: HTTPS_PROXY for an https relay,
//                     HTTP_PROXY for http (or their lower-case forms, which
//                     win), unless NO_PROXY (no_proxy) lists the relay's host:
//                     comma-separated names matching it or a domain above it
//                     ("example.com", ".example.com"), or "*" for every host;
//                     a loopback relay (localhost, 127.x, ::1) never is.
// Fails with bad_config on a proxy that is not http://host[:port] (https://
// and socks proxies are not supported), naming where it came from.
Result<std::optional<Proxy>> choose_proxy(const std::string& relay_url, const std::string& setting,
                                          const EnvLookup& env);

}  // namespace sealrelay
