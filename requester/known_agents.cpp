#include "requester/known_agents.h"

#include <algorithm>
#include <fstream>
#include <sstream>

#include "base/ids.h"
#include "proto/errors.h"
#include "requester/durable.h"
#include "requester/terminal.h"

namespace sealrelay::requester {
namespace fs = std::filesystem;

namespace {

constexpr std::string_view kLineFormat = "<agent-id> <base64 public key> [# comment]";

bool all_zero(const PublicKey& key) {
  return std::all_of(key.begin(), key.end(), [](uint8_t b) { return b == 0; });
}

}  // namespace

Result<KnownAgents> KnownAgents::load(const fs::path& path) {
  KnownAgents k;
  k.path_ = path;
  std::ifstream in(path);
  if (!in) {
    if (!fs::exists(path)) return k;
    return make_error(ErrorCode::config, "cannot read " + path.string());
  }
  std::string line;
  for (int n = 1; std::getline(in, line); ++n) {
    auto refuse = [&](const std::string& what) {
      return make_error(ErrorCode::config, path.string() + ":" + std::to_string(n) + ": " + what + "; this file holds one line "
                                               "per agent, \"" + std::string(kLineFormat) + "\". Fix or delete line " +
                                               std::to_string(n) + ", then pin the agent again with `sealrelay trust AGENT "
                                               "FINGERPRINT` (its fingerprint from the agent's administrator)");
    };
    std::istringstream fields(line);
    std::string id, key, rest;
    if (!(fields >> id) || id.front() == '#') continue;  // blank or a comment
    fields >> key >> rest;
    if (!ids::valid_agent_id(id)) {
      return refuse("\"" + escaped(id) + "\" is not an agent id (" + std::string(ids::kAgentIdRule) + ")");
    }
    auto pub = decode_public_key(key);
    if (!pub || all_zero(*pub)) return refuse("the key of agent \"" + id + "\" is not a base64 X25519 public key");
    if (!rest.empty() && rest.front() != '#') return refuse("text after the key that is not a # comment");
    if (!k.pins_.emplace(id, *pub).second) {
      return refuse("agent \"" + id + "\" is listed a second time (which pin counts is not for line order to decide)");
    }
  }
  return k;
}

std::optional<PublicKey> KnownAgents::find(const std::string& agent) const {
  auto it = pins_.find(agent);
  if (it == pins_.end()) return std::nullopt;
  return it->second;
}

Result<void> KnownAgents::pin(const std::string& agent, const PublicKey& key) {
  if (!ids::valid_agent_id(agent)) {
    return make_error(ErrorCode::usage, "\"" + escaped(agent) + "\" is not an agent id (" + std::string(ids::kAgentIdRule) +
                                            "); nothing was pinned");
  }
  if (all_zero(key)) return make_error(ErrorCode::bad_response, "the key of agent \"" + agent + "\" is all zeros; not pinned");
  auto previous = pins_;
  pins_[agent] = key;
  auto saved = save();
  if (!saved) pins_ = std::move(previous);
  return saved;
}

Result<void> KnownAgents::remove(const std::string& agent) {
  if (pins_.erase(agent) == 0) return make_error(ErrorCode::not_found, "no pin for agent \"" + escaped(agent) + "\"");
  return save();
}

Result<void> KnownAgents::save() const {
  std::error_code ec;
  fs::create_directories(path_.parent_path(), ec);
  std::string text = "# sealrelay known agents: <agent-id> <public key> # fingerprint\n";
  for (const auto& [id, key] : pins_) {
    text += id + " " + encode_public_key(key) + " # " + fingerprint_of(key) + "\n";
  }
  return write_file_atomically(path_, text);
}

}  // namespace sealrelay::requester
