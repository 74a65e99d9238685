#include "relay/tokens.h"

#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <spdlog/spdlog.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <utility>

#include "base/ids.h"
#include "proto/errors.h"

namespace sealrelay::relay {
namespace {

using nlohmann::json;

constexpr size_t kIdHex = 16;
constexpr size_t kSecretHex = 64;

std::string hex(const unsigned char* p, size_t n) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  out.reserve(n * 2);
  for (size_t i = 0; i < n; ++i) {
    out.push_back(digits[p[i] >> 4]);
    out.push_back(digits[p[i] & 15]);
  }
  return out;
}

bool is_hex(std::string_view s) {
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

std::string sha256_hex(std::string_view s) {
  unsigned char d[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(s.data()), s.size(), d);
  return hex(d, sizeof d);
}

Result<std::string> random_hex(size_t bytes) {
  std::vector<unsigned char> b(bytes);
  if (RAND_bytes(b.data(), static_cast<int>(b.size())) != 1) {
    return make_error(ErrorCode::internal, "no randomness from OpenSSL");
  }
  return hex(b.data(), b.size());
}

// An id as JSON text for a message: escapes keep control bytes off a terminal.
std::string quoted(const std::string& s) {
  return json(s).dump(-1, ' ', false, json::error_handler_t::replace);
}

std::string breaks_rule(const std::string& what, const std::string& id) {
  return what + " " + quoted(id) + " breaks the agent-id rule (" + std::string(ids::kAgentIdRule) + ")";
}

Error file_error(const std::string& what, const std::string& path) {
  return make_error("tokens_file", what + " " + path + ": " + std::strerror(errno));
}

Result<std::vector<TokenRecord>> parse(const std::string& text, const std::string& path) {
  auto j = json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object() || !j.contains("tokens") || !j["tokens"].is_array()) {
    return make_error("tokens_file", path + " is not a sealrelay tokens file");
  }
  std::vector<TokenRecord> out;
  for (auto& t : j["tokens"]) {
    TokenRecord r;
    if (!t.is_object() || !t.value("id", json()).is_string() ||
        !t.value("sha256", json()).is_string() || !t.value("kind", json()).is_string()) {
      return make_error("tokens_file", path + " has a malformed token entry");
    }
    r.id = t["id"];
    r.sha256_hex = t["sha256"];
    std::string kind = t["kind"];
    r.created = t.value("created", int64_t{0});
    if (kind == "agent") {
      r.kind = TokenKind::agent;
      auto agent = t.value("agent", json());
      if (!agent.is_string()) return make_error("tokens_file", path + ": token " + r.id + " has no agent id");
      r.agent = agent;
      if (!ids::valid_agent_id(r.agent)) r.defect = breaks_rule("agent id", r.agent);
    } else if (kind == "requester") {
      r.kind = TokenKind::requester;
      auto name = t.value("name", json(""));
      auto agents = t.value("agents", json::array());
      if (!name.is_string() || !agents.is_array()) {
        return make_error("tokens_file", path + ": token " + r.id + " has a malformed name or agents");
      }
      r.name = name;
      for (auto& a : agents) {
        if (!a.is_string()) return make_error("tokens_file", path + ": token " + r.id + " has malformed agents");
        r.agents.push_back(a);
        if (r.agents.back() != "*" && !ids::valid_agent_id(r.agents.back()) && r.defect.empty()) {
          r.defect = breaks_rule("scope entry", r.agents.back());
        }
      }
    } else {
      return make_error("tokens_file", path + ": unknown token kind " + kind);
    }
    if (r.id.size() != kIdHex || !is_hex(r.id) || r.sha256_hex.size() != 64) {
      return make_error("tokens_file", path + ": malformed token id or hash");
    }
    out.push_back(std::move(r));
  }
  return out;
}

std::string serialize(const std::vector<TokenRecord>& records) {
  json arr = json::array();
  for (auto& r : records) {
    json t = {{"id", r.id}, {"sha256", r.sha256_hex}, {"created", r.created}};
    if (r.kind == TokenKind::agent) {
      t["kind"] = "agent";
      t["agent"] = r.agent;
    } else {
      t["kind"] = "requester";
      t["name"] = r.name;
      t["agents"] = r.agents;
    }
    arr.push_back(t);
  }
  return json{{"version", 1}, {"tokens", arr}}.dump(2, ' ', false, json::error_handler_t::replace) +
         "\n";
}

Result<std::string> read_all(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return std::string();
    return file_error("cannot open", path);
  }
  std::string text;
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0) {
      ::close(fd);
      return file_error("cannot read", path);
    }
    if (n == 0) break;
    text.append(buf, static_cast<size_t>(n));
    if (text.size() > (64u << 20)) {
      ::close(fd);
      return make_error("tokens_file", path + " is too large");
    }
  }
  ::close(fd);
  return text;
}

Result<void> write_atomically(const std::string& path, const std::string& text) {
  std::string tmp = path + ".tmp." + std::to_string(::getpid());
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return file_error("cannot create", tmp);
  ::fchmod(fd, 0600);
  size_t done = 0;
  while (done < text.size()) {
    ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0) {
      ::close(fd);
      ::unlink(tmp.c_str());
      return file_error("cannot write", tmp);
    }
    done += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0) {
    ::unlink(tmp.c_str());
    return file_error("cannot sync", tmp);
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    ::unlink(tmp.c_str());
    return file_error("cannot replace", path);
  }
  return {};
}

// Runs `change` on the records under an exclusive lock on "<path>.lock".
template <class F>
Result<void> modify(const std::string& path, F change) {
  std::error_code ec;
  auto dir = std::filesystem::path(path).parent_path();
  if (!dir.empty()) std::filesystem::create_directories(dir, ec);
  std::string lock_path = path + ".lock";
  int lock = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (lock < 0) return file_error("cannot open", lock_path);
  if (::flock(lock, LOCK_EX) != 0) {
    ::close(lock);
    return file_error("cannot lock", lock_path);
  }
  auto finish = [&](Result<void> r) {
    ::flock(lock, LOCK_UN);
    ::close(lock);
    return r;
  };
  auto text = read_all(path);
  if (!text) return finish(text.error());
  std::vector<TokenRecord> records;
  if (!text->empty()) {
    auto parsed = parse(*text, path);
    if (!parsed) return finish(parsed.error());
    records = std::move(*parsed);
  }
  Result<void> changed = change(records);
  if (!changed) return finish(changed);
  return finish(write_atomically(path, serialize(records)));
}

Result<std::pair<TokenRecord, std::string>> mint(TokenKind kind) {
  auto id = random_hex(kIdHex / 2);
  auto secret = random_hex(kSecretHex / 2);
  if (!id) return id.error();
  if (!secret) return secret.error();
  std::string token = "srt_" + *id + "_" + *secret;
  TokenRecord r;
  r.id = *id;
  r.kind = kind;
  r.sha256_hex = sha256_hex(token);
  r.created = std::chrono::duration_cast<std::chrono::seconds>(
                  std::chrono::system_clock::now().time_since_epoch())
                  .count();
  return std::make_pair(std::move(r), std::move(token));
}

}  // namespace

bool Principal::sees(std::string_view agent_id) const {
  if (kind != TokenKind::requester) return false;
  for (auto& a : agents) {
    if (a == "*" || a == agent_id) return true;
  }
  return false;
}

std::optional<std::string> token_id_of(std::string_view token) {
  if (token.size() != 4 + kIdHex + 1 + kSecretHex || !token.starts_with("srt_") ||
      token[4 + kIdHex] != '_') {
    return std::nullopt;
  }
  auto id = token.substr(4, kIdHex);
  if (!is_hex(id) || !is_hex(token.substr(4 + kIdHex + 1))) return std::nullopt;
  return std::string(id);
}

namespace token_file {

Result<std::vector<TokenRecord>> load(const std::string& path) {
  auto text = read_all(path);
  if (!text) return text.error();
  if (text->empty()) return std::vector<TokenRecord>{};
  return parse(*text, path);
}

Result<std::string> add_agent(const std::string& path, const std::string& agent_id) {
  if (!ids::valid_agent_id(agent_id)) {
    return make_error(ErrorCode::bad_request, breaks_rule("agent id", agent_id));
  }
  auto m = mint(TokenKind::agent);
  if (!m) return m.error();
  m->first.agent = agent_id;
  auto r = modify(path, [&](std::vector<TokenRecord>& recs) -> Result<void> {
    recs.push_back(m->first);
    return {};
  });
  if (!r) return r.error();
  return m->second;
}

Result<std::string> add_requester(const std::string& path, const std::string& name,
                                  const std::vector<std::string>& agents) {
  if (name.empty() || name.size() > 64) {
    return make_error(ErrorCode::bad_request, "name must be 1-64 chars");
  }
  if (agents.empty()) {
    return make_error(ErrorCode::bad_request, "--agents needs at least one agent or '*'");
  }
  for (auto& a : agents) {
    if (a != "*" && !ids::valid_agent_id(a)) {
      return make_error(ErrorCode::bad_request,
                        breaks_rule("--agents entry", a) + "; '*' means every agent");
    }
  }
  auto m = mint(TokenKind::requester);
  if (!m) return m.error();
  m->first.name = name;
  m->first.agents = agents;
  auto r = modify(path, [&](std::vector<TokenRecord>& recs) -> Result<void> {
    recs.push_back(m->first);
    return {};
  });
  if (!r) return r.error();
  return m->second;
}

Result<void> revoke(const std::string& path, const std::string& id) {
  return modify(path, [&](std::vector<TokenRecord>& recs) -> Result<void> {
    auto before = recs.size();
    std::erase_if(recs, [&](const TokenRecord& r) { return r.id == id; });
    if (recs.size() == before) return make_error(ErrorCode::not_found, "no token with id " + id);
    return {};
  });
}

}  // namespace token_file

TokenVerifier::TokenVerifier(std::string path, std::chrono::milliseconds recheck)
    : path_(std::move(path)), recheck_(recheck),
      records_(std::make_shared<const std::unordered_map<std::string, TokenRecord>>()) {}

Result<void> TokenVerifier::load() {
  struct stat st{};
  FileId id;
  if (::stat(path_.c_str(), &st) == 0) {
    id = {st.st_dev, st.st_ino, st.st_size,
          int64_t{st.st_mtim.tv_sec} * 1'000'000'000 + st.st_mtim.tv_nsec};
  }
  auto recs = token_file::load(path_);
  if (!recs) return recs.error();
  auto by_id = std::make_shared<std::unordered_map<std::string, TokenRecord>>();
  for (auto& r : *recs) {
    if (!r.defect.empty()) {
      spdlog::warn("{}: token {} is refused: {}. Remove it with `sealrelay-relay token revoke {}` "
                   "and create a new one with a valid id",
                   path_, r.id, r.defect, r.id);
      continue;
    }
    (*by_id)[r.id] = std::move(r);
  }
  std::lock_guard lk(mu_);
  for (auto& [id, old] : *records_) {
    auto now = by_id->find(id);
    bool same = now != by_id->end() && now->second.sha256_hex == old.sha256_hex &&
                now->second.kind == old.kind && now->second.agent == old.agent &&
                now->second.agents == old.agents;
    if (!same) revoked_.push_back(id);
  }
  records_ = std::move(by_id);
  file_id_ = id;
  next_check_ = std::chrono::steady_clock::now() + recheck_;
  return {};
}

void TokenVerifier::maybe_reload(bool force) {
  FileId id;
  {
    std::lock_guard lk(mu_);
    auto now = std::chrono::steady_clock::now();
    if (now < next_check_ && !force) return;
    next_check_ = now + recheck_;
  }
  struct stat st{};
  if (::stat(path_.c_str(), &st) == 0) {
    id = {st.st_dev, st.st_ino, st.st_size,
          int64_t{st.st_mtim.tv_sec} * 1'000'000'000 + st.st_mtim.tv_nsec};
  }
  {
    std::lock_guard lk(mu_);
    if (id == file_id_) return;
  }
  // A file being replaced may fail to parse for a moment; keep the old set.
  (void)load();
}

size_t TokenVerifier::size() {
  maybe_reload(false);
  std::lock_guard lk(mu_);
  return records_->size();
}

bool TokenVerifier::holds(std::string_view id) {
  std::lock_guard lk(mu_);
  return records_->contains(std::string(id));
}

std::vector<std::string> TokenVerifier::take_revoked() {
  maybe_reload(false);
  std::lock_guard lk(mu_);
  return std::exchange(revoked_, {});
}

Result<Principal> TokenVerifier::verify(std::string_view token) {
  auto bad = make_error(ErrorCode::unauthorized, "unknown, revoked or malformed token");
  auto id = token_id_of(token);
  if (!id) return bad;
  maybe_reload(false);
  std::shared_ptr<const std::unordered_map<std::string, TokenRecord>> recs;
  {
    std::lock_guard lk(mu_);
    recs = records_;
  }
  std::string digest = sha256_hex(token);
  auto it = recs->find(*id);
  if (it == recs->end()) {
    // Maybe added a moment ago: look at the file now (one stat when unchanged).
    maybe_reload(true);
    std::lock_guard lk(mu_);
    recs = records_;
    it = recs->find(*id);
    if (it == recs->end()) return bad;
  }
  const TokenRecord& r = it->second;
  if (r.sha256_hex.size() != digest.size() ||
      CRYPTO_memcmp(r.sha256_hex.data(), digest.data(), digest.size()) != 0) {
    return bad;
  }
  Principal p;
  p.kind = r.kind;
  p.token_id = r.id;
  p.agent = r.agent;
  p.name = r.name;
  p.agents = r.agents;
  return p;
}

}  // namespace sealrelay::relay
