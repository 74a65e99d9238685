#include "relay/records.h"

#include <openssl/rand.h>

#include <cstdlib>
#include <vector>

#include "proto/event_stream.h"

namespace sealrelay::relay {

std::string random_hex(size_t bytes) {
  std::vector<unsigned char> b(bytes);
  if (RAND_bytes(b.data(), static_cast<int>(b.size())) != 1) std::abort();
  static const char* digits = "0123456789abcdef";
  std::string out;
  for (unsigned char c : b) {
    out.push_back(digits[c >> 4]);
    out.push_back(digits[c & 15]);
  }
  return out;
}

std::string json_text(const nlohmann::json& j) {
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string error_event(const std::string& code, const std::string& message) {
  return event_stream::record(event_stream::Type::error, 0,
                              json_text({{"error", code}, {"message", message}}));
}

std::string end_event(uint64_t frames) {
  return event_stream::record(event_stream::Type::end, frames + 1, json_text({{"frames", frames}}));
}

}  // namespace sealrelay::relay
