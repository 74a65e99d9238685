#include "base/ids.h"

namespace sealrelay::ids {
namespace {

constexpr bool alnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

}  // namespace

bool valid_agent_id(std::string_view id) noexcept {
  if (id.empty() || id.size() > kMaxAgentIdBytes || !alnum(id.front())) return false;
  for (char c : id) {
    if (!(alnum(c) || c == '.' || c == '_' || c == '-')) return false;
  }
  return true;
}

bool valid_transfer_id(std::string_view id) noexcept {
  if (id.size() != 2 + kTransferIdHexDigits || id.substr(0, 2) != "t_") return false;
  for (char c : id.substr(2)) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

}  // namespace sealrelay::ids
