// The grammar of the ids that travel between relay, agent and requester
// (docs/api.md §Ids). One definition, checked where an id is made (relay
// `token add-agent`, an mTLS certificate's CN) and wherever one is received
// (the CLI and the page reading GET /v1/agents or a transfer id), because an
// id becomes a file name, a known_agents field and a word on a terminal.
#pragma once

#include <cstddef>
#include <string_view>

namespace sealrelay::ids {

constexpr size_t kMaxAgentIdBytes = 64;

// An agent id: 1..64 bytes of [A-Za-z0-9._-], the first one a letter or a
// digit. So never ".", "..", a leading dash (an option to a shell tool), a
// slash, a space, a control byte or anything a file system or terminal reads
// specially.
bool valid_agent_id(std::string_view id) noexcept;

// What a person reads when an agent id is refused.
constexpr std::string_view kAgentIdRule =
    "1-64 characters of A-Z a-z 0-9 . _ -, starting with a letter or digit";

// A transfer id as the relay makes it: "t_" + 32 lowercase hex.
constexpr size_t kTransferIdHexDigits = 32;
bool valid_transfer_id(std::string_view id) noexcept;

}  // namespace sealrelay::ids
