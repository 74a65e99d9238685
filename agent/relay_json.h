// Typed reads of the JSON the relay sends the agent (control events, the
// replies to its calls). The relay is not trusted with the agent's
// availability either: a field of the wrong type is an Error naming it,
// never an exception (nlohmann's value() and get() throw on a wrong type,
// and an exception out of a transfer thread ends the agent).
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <type_traits>

#include "base/result.h"
#include "proto/errors.h"

namespace sealrelay::agent {

// The code of every error below.
inline constexpr ErrorCode kBadRelayReply = ErrorCode::bad_relay_reply;

// Field `name` of `object` (from the relay's `what`, e.g. "upload status")
// as a T: std::string, bool or uint64_t (a non-negative integer). Missing:
// `fallback`, or an error without one. Not an object, or the wrong type:
// an error saying which.
template <class T>
Result<T> relay_field(const nlohmann::json& object, const char* what, const char* name,
                      std::optional<T> fallback = std::nullopt) {
  static_assert(std::is_same_v<T, std::string> || std::is_same_v<T, bool> || std::is_same_v<T, uint64_t>);
  auto bad = [&](const std::string& why) {
    return make_error(kBadRelayReply, "the relay's " + std::string(what) + " " + why);
  };
  if (!object.is_object()) return bad("is not a JSON object");
  auto it = object.find(name);
  if (it == object.end()) {
    if (fallback) return *fallback;
    return bad(std::string("has no ") + name);
  }
  if constexpr (std::is_same_v<T, std::string>) {
    if (!it->is_string()) return bad(std::string("has a ") + name + " that is not a string");
  } else if constexpr (std::is_same_v<T, bool>) {
    if (!it->is_boolean()) return bad(std::string("has a ") + name + " that is not true or false");
  } else {
    if (!it->is_number_unsigned()) return bad(std::string("has a ") + name + " that is not a non-negative integer");
  }
  return it->template get<T>();
}

}  // namespace sealrelay::agent
