// base/base64.h: every base64 field (msg1, msg2, frames in SSE, keys).
// Properties: decoding is strict — whatever decodes is canonical, i.e.
// encoding the result gives back the input exactly; and any bytes encode to
// text that decodes back to them.
#include <string>
#include <vector>

#include "base/base64.h"
#include "tests/fuzz/fuzz_support.h"

using namespace sealrelay;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  std::vector<uint8_t> out{1, 2, 3};
  if (base64::decode_into(text, out)) {
    FUZZ_CHECK(out.size() <= base64::decoded_size_max(text.size()));
    FUZZ_CHECK(base64::encode(out) == text);
  } else {
    FUZZ_CHECK(out.empty());
  }
  std::string enc = base64::encode(std::span<const uint8_t>(data, size));
  FUZZ_CHECK(enc.size() == base64::encoded_size(size));
  std::vector<uint8_t> back;
  FUZZ_CHECK(base64::decode_into(enc, back));
  FUZZ_CHECK(back.size() == size && (size == 0 || std::equal(back.begin(), back.end(), data)));
  return 0;
}
