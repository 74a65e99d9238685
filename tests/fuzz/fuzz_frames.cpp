// crypto/frames.h FrameOpener against a relay that lies: the fuzzer writes
// the attacker's program. An honest agent seals a small file (chunks chosen
// by the input, resumed after a prefix or not); the "relay" then delivers
// frames of its choosing: honest ones in any order, any number of times,
// with bytes flipped, frames of another transfer, raw bytes. Properties:
//  * every plaintext chunk the opener releases is the honest chunk for the
//    next position (nothing forged, reordered, dropped or duplicated ever
//    reaches the caller);
//  * the opener reports complete only after every chunk arrived in order and
//    the honest trailer verified — and only if the resumed prefix it was given
//    is the agent's (a stale prefix ends in trailer_mismatch);
//  * errors are sticky and release nothing.
#include <cstring>
#include <string>
#include <vector>

#include "crypto/frames.h"
#include "tests/fuzz/fuzz_support.h"

using namespace sealrelay;

namespace {

TransferKeys keys(uint8_t seed) {
  TransferKeys k;
  std::memset(k.frame_key.data(), seed, k.frame_key.size());
  k.handshake_hash.fill(static_cast<uint8_t>(seed ^ 0x5a));
  return k;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::Input in(data, size);
  const TransferKeys mine = keys(1), other = keys(2);
  const uint8_t setup = in.byte();
  const uint64_t first = (setup & 1) ? UINT64_MAX - 4 + (setup >> 6) : in.u16();
  const size_t chunks = setup >> 1 & 7;
  const bool stale_prefix = (setup & 0x10) != 0;

  // The honest transfer: an optional resumed prefix, then `chunks` chunks.
  std::string prefix(in.byte() % 8, 'p');
  std::vector<std::string> plain;
  for (size_t i = 0; i < chunks; ++i) plain.emplace_back(1 + in.byte() % 200, static_cast<char>('a' + i));
  FrameSealer sealer(mine, first);
  sealer.absorb_prefix(std::span(reinterpret_cast<const uint8_t*>(prefix.data()), prefix.size()));
  std::vector<std::vector<uint8_t>> honest(chunks + 1);
  for (size_t i = 0; i < chunks; ++i) {
    sealer.seal_chunk(std::span(reinterpret_cast<const uint8_t*>(plain[i].data()), plain[i].size()), honest[i]);
  }
  sealer.seal_trailer(honest[chunks]);
  // The same positions sealed in another transfer (another key and h).
  FrameSealer foreign(other, first);
  std::vector<std::vector<uint8_t>> spliced(chunks + 1);
  for (size_t i = 0; i < chunks; ++i) {
    foreign.seal_chunk(std::span(reinterpret_cast<const uint8_t*>(plain[i].data()), plain[i].size()), spliced[i]);
  }
  foreign.seal_trailer(spliced[chunks]);

  FrameOpener opener(mine, first);
  std::string held = prefix;
  if (stale_prefix && !held.empty()) held[0] = 'q';
  opener.absorb_prefix(std::span(reinterpret_cast<const uint8_t*>(held.data()), held.size()));

  size_t released = 0;  // data chunks released so far
  bool failed = false, done = false, all_honest_in_order = true;
  std::vector<uint8_t> frame, chunk;
  for (int step = 0; step < 32 && in.left() > 0; ++step) {
    const uint8_t op = in.byte();
    const size_t k = in.byte() % (chunks + 1);
    bool honest_next = false;
    switch (op % 5) {
      case 0:  // an honest frame, at any position
        frame = honest[k];
        honest_next = k == released && !done;
        break;
      case 1: {  // an honest frame with one byte changed
        frame = honest[k];
        size_t at = in.u16() % frame.size();
        uint8_t x = in.byte();
        frame[at] ^= x ? x : 1;
        break;
      }
      case 2:  // a frame of another transfer
        frame = spliced[k];
        break;
      case 3: {  // raw bytes
        auto raw = in.bytes(in.u16() % 512);
        frame.assign(raw.begin(), raw.end());
        break;
      }
      case 4: {  // an honest frame cut short or extended
        frame = honest[k];
        size_t n = in.u16() % (frame.size() + 8);
        frame.resize(n, 0);
        honest_next = n == honest[k].size() && k == released && !done;
        break;
      }
    }
    if (!honest_next && !done) all_honest_in_order = false;  // what follows the trailer is refused below
    auto r = opener.open(frame, chunk);
    if (!r) {
      FUZZ_CHECK(chunk.empty());
      failed = true;
      continue;
    }
    FUZZ_CHECK(!failed && !done);   // sticky errors; nothing after the trailer
    FUZZ_CHECK(honest_next);        // only the honest next frame opens
    if (*r == FrameOpener::Kind::kData) {
      FUZZ_CHECK(released < chunks);
      FUZZ_CHECK(std::string(chunk.begin(), chunk.end()) == plain[released]);
      ++released;
    } else {
      FUZZ_CHECK(chunk.empty() && released == chunks && opener.complete());
      FUZZ_CHECK(held == prefix);  // a stale prefix never verifies
      done = true;
    }
  }
  // Complete only through the honest sequence (later frames fail after_end).
  if (opener.complete()) FUZZ_CHECK(all_honest_in_order && done);
  if (!done) FUZZ_CHECK(!opener.finish().ok());
  return 0;
}
