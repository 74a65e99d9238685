// wan_delay: the WAN benchmark's delay line and its round-trip probe
// (bench/wan/delay_line.h says why the bench needs one of its own).
//
//   wan_delay forward --listen HOST:PORT --connect HOST:PORT --one-way-ms N
//   wan_delay echo --listen HOST:PORT
//   wan_delay ping --to HOST:PORT [--count N]
//
// forward and echo print "listening on PORT" once they accept connections
// and run until killed; ping prints one line of milliseconds.
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>

#include "bench/wan/delay_line.h"

namespace wan = sealrelay::bench::wan;

namespace {

int fail(const std::string& message) {
  std::fprintf(stderr, "wan_delay: %s\n", message.c_str());
  return 2;
}

int serve(const std::map<std::string, std::string>& opt, bool forwarding) {
  auto at = wan::parse_endpoint(opt.count("--listen") ? opt.at("--listen") : "");
  if (!at) return fail(at.error().message);
  auto listener = wan::Listener::open(*at);
  if (!listener) return fail(listener.error().message);
  std::printf("listening on %u\n", listener->bound_port());
  std::fflush(stdout);
  if (!forwarding) return fail(wan::echo(*listener).error().message);
  auto to = wan::parse_endpoint(opt.count("--connect") ? opt.at("--connect") : "");
  if (!to) return fail(to.error().message);
  int ms = opt.count("--one-way-ms") ? std::atoi(opt.at("--one-way-ms").c_str()) : -1;
  if (ms < 0) return fail("--one-way-ms N is required (half the round-trip time to add)");
  return fail(wan::forward(*listener, *to, std::chrono::milliseconds(ms)).error().message);
}

int probe(const std::map<std::string, std::string>& opt) {
  auto to = wan::parse_endpoint(opt.count("--to") ? opt.at("--to") : "");
  if (!to) return fail(to.error().message);
  int count = opt.count("--count") ? std::atoi(opt.at("--count").c_str()) : 10;
  auto p = wan::ping(*to, count < 1 ? 1 : count);
  if (!p) return fail(p.error().message);
  std::printf("connect+first echo %.1f ms, echo rtt median %.1f ms (min %.1f, max %.1f, %d echoes)\n", p->first_ms,
              p->median_ms, p->min_ms, p->max_ms, count);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) return fail("usage: wan_delay forward|echo|ping OPTIONS (see bench/wan/wan_delay.cpp)");
  std::string mode = argv[1];
  std::map<std::string, std::string> opt;
  for (int i = 2; i + 1 < argc; i += 2) opt[argv[i]] = argv[i + 1];
  if (mode == "forward") return serve(opt, true);
  if (mode == "echo") return serve(opt, false);
  if (mode == "ping") return probe(opt);
  return fail("unknown mode \"" + mode + "\" (forward, echo or ping)");
}
