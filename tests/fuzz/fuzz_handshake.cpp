// crypto/session.h with bytes from a lying relay: the agent reading any
// message 1, and a requester reading any message 2 for its own message 1.
// Properties: no crash; a message 1 not made by the requester for this agent
// is refused (the only one that reads is the requester's own, and it yields
// the request and the requester's key); a message 2 not made by the agent for
// this very message 1 is refused.
#include <cstring>
#include <string>
#include <vector>

#include "crypto/session.h"
#include "tests/fuzz/fuzz_support.h"

using namespace sealrelay;

namespace {

struct Parties {
  Identity agent = generate_identity();
  Identity requester = generate_identity();
};

const Parties& parties() {
  static const Parties* p = new Parties();
  return *p;
}

std::span<const uint8_t> bytes_of(std::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const Parties& p = parties();
  fuzz::Input in(data, size);
  const uint8_t mode = in.byte();
  const std::string request = "{\"v\":1,\"op\":\"get\",\"path\":\"/s/f\",\"ts\":1}";
  if (mode % 2 == 0) {
    // The agent reads a message 1: raw bytes, or a real one with a change.
    std::vector<uint8_t> msg1;
    if (mode & 2) {
      auto init = InitiatorHandshake::start(p.requester, p.agent.public_key, bytes_of(request));
      FUZZ_CHECK(init.ok());
      msg1 = init->message1();
      size_t at = in.u16() % msg1.size();
      uint8_t x = in.byte();
      msg1[at] ^= x ? x : 1;
      auto r = ResponderHandshake::read(p.agent, msg1);
      FUZZ_CHECK(!r.ok());
      return 0;
    }
    auto raw = in.rest();
    msg1.assign(raw.begin(), raw.end());
    auto r = ResponderHandshake::read(p.agent, msg1);
    if (r.ok()) {
      // Only a party that knows the agent's public key can address it;
      // random bytes never authenticate.
      FUZZ_CHECK(false);
    }
    return 0;
  }
  // The requester reads a message 2 for its own message 1.
  auto init = InitiatorHandshake::start(p.requester, p.agent.public_key, bytes_of(request));
  FUZZ_CHECK(init.ok());
  std::vector<uint8_t> msg2;
  if (mode & 2) {
    auto resp = ResponderHandshake::read(p.agent, init->message1());
    FUZZ_CHECK(resp.ok() && resp->requester_key() == p.requester.public_key);
    auto reply = resp->answer(bytes_of("{\"v\":1,\"ok\":true}"));
    FUZZ_CHECK(reply.ok());
    msg2 = reply->message2;
    if (mode & 4) {
      size_t at = in.u16() % msg2.size();
      uint8_t x = in.byte();
      msg2[at] ^= x ? x : 1;
      FUZZ_CHECK(!init->finish(msg2).ok());
    } else {
      FUZZ_CHECK(init->finish(msg2).ok());
    }
    return 0;
  }
  auto raw = in.rest();
  msg2.assign(raw.begin(), raw.end());
  FUZZ_CHECK(!init->finish(msg2).ok());
  return 0;
}
