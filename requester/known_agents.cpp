#include "requester/known_agents.h"

#include <fcntl.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

namespace sealrelay::requester {
namespace fs = std::filesystem;

bool valid_agent_id(std::string_view id) {
  if (id.empty() || id.size() > 64) return false;
  for (char c : id) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-')) return false;
  }
  return true;
}

Result<KnownAgents> KnownAgents::load(const fs::path& path) {
  KnownAgents k;
  k.path_ = path;
  std::ifstream in(path);
  if (!in) {
    if (!fs::exists(path)) return k;
    return make_error("config", "cannot read " + path.string());
  }
  std::string line;
  for (int n = 1; std::getline(in, line); ++n) {
    std::string_view l = line;
    while (!l.empty() && (l.front() == ' ' || l.front() == '\t')) l.remove_prefix(1);
    if (l.empty() || l.front() == '#') continue;
    std::istringstream fields{std::string(l)};
    std::string id, key;
    fields >> id >> key;
    auto pub = decode_public_key(key);
    if (!valid_agent_id(id) || !pub) {
      return make_error("config", path.string() + ":" + std::to_string(n) +
                                      ": expected \"<agent-id> <base64 public key>\"; fix or remove that line");
    }
    k.pins_[id] = *pub;
  }
  return k;
}

std::optional<PublicKey> KnownAgents::find(const std::string& agent) const {
  auto it = pins_.find(agent);
  if (it == pins_.end()) return std::nullopt;
  return it->second;
}

Result<void> KnownAgents::pin(const std::string& agent, const PublicKey& key) {
  pins_[agent] = key;
  return save();
}

Result<void> KnownAgents::remove(const std::string& agent) {
  if (pins_.erase(agent) == 0) return make_error("not_found", "no pin for agent \"" + agent + "\"");
  return save();
}

Result<void> KnownAgents::save() const {
  std::error_code ec;
  fs::create_directories(path_.parent_path(), ec);
  std::string text = "# sealrelay known agents: <agent-id> <public key> # fingerprint\n";
  for (const auto& [id, key] : pins_) {
    text += id + " " + encode_public_key(key) + " # " + fingerprint_of(key) + "\n";
  }
  std::string tmp = path_.string() + ".tmp.XXXXXX";
  int fd = ::mkstemp(tmp.data());
  if (fd < 0) return make_error("config", "cannot write " + path_.string());
  bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) && ::fsync(fd) == 0;
  ok = ::close(fd) == 0 && ok;
  if (!ok || ::rename(tmp.c_str(), path_.c_str()) != 0) {
    ::unlink(tmp.c_str());
    return make_error("config", "cannot write " + path_.string());
  }
  return {};
}

}  // namespace sealrelay::requester
