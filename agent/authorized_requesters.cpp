#include "agent/authorized_requesters.h"

#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <set>

#include "proto/errors.h"
#ifdef _WIN32
#include "crypto/key_file.h"
#endif

namespace sealrelay::agent {

namespace {

constexpr std::string_view kBlank = " \t";
constexpr std::string_view kPathsOption = "paths=";

Error bad_line(int line, std::string why) {
  return make_error(ErrorCode::bad_authorized_requesters, "line " + std::to_string(line) + ": " + why);
}

std::string_view trim(std::string_view s) {
  size_t b = s.find_first_not_of(kBlank);
  if (b == std::string_view::npos) return {};
  size_t e = s.find_last_not_of(kBlank);
  return s.substr(b, e - b + 1);
}

// Splits off the first blank-separated token of `s` (already trimmed).
std::string_view next_token(std::string_view& s) {
  size_t end = s.find_first_of(kBlank);
  std::string_view token = s.substr(0, end);
  s = end == std::string_view::npos ? std::string_view() : trim(s.substr(end));
  return token;
}

// The key in canonical base64 (ORIGINAL variant, padded), or nullopt.
std::optional<RequesterKey> decode_key(std::string_view text) {
  RequesterKey key{};
  size_t len = 0;
  const char* end = nullptr;
  if (text.size() != sodium_base64_ENCODED_LEN(kKeyBytes, sodium_base64_VARIANT_ORIGINAL) - 1)
    return std::nullopt;
  if (sodium_base642bin(key.data(), key.size(), text.data(), text.size(), nullptr, &len, &end,
                        sodium_base64_VARIANT_ORIGINAL) != 0 ||
      len != key.size() || end != text.data() + text.size())
    return std::nullopt;
  // Refuse non-canonical spellings (non-zero unused bits) by re-encoding.
  char again[sodium_base64_ENCODED_LEN(kKeyBytes, sodium_base64_VARIANT_ORIGINAL)];
  sodium_bin2base64(again, sizeof again, key.data(), key.size(), sodium_base64_VARIANT_ORIGINAL);
  if (text != std::string_view(again)) return std::nullopt;
  return key;
}

Result<PathScope> parse_scope(int line, std::string_view list) {
  std::vector<std::string> paths;
  for (;;) {
    size_t comma = list.find(',');
    std::string_view p = list.substr(0, comma);
    if (p.empty()) return bad_line(line, "paths= has an empty entry");
    auto parsed = parse_request_path(p);
    if (!parsed) return bad_line(line, "paths= entry '" + std::string(p) + "': " + parsed.error().message);
    paths.push_back(parsed->str());
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
  return PathScope::of(paths);
}

}  // namespace

namespace {

// One non-blank, non-comment line (trimmed): its entry, or why it is broken.
Result<AuthorizedRequester> parse_line(int line_no, std::string_view line) {
  AuthorizedRequester entry;
  entry.line = line_no;
  auto key = decode_key(next_token(line));
  if (!key) {
    return bad_line(line_no,
                    "expected a requester public key first: base64 of 32 bytes, 44 characters "
                    "(as `sealrelay whoami` prints it)");
  }
  entry.key = *key;
  if (line.substr(0, kPathsOption.size()) == kPathsOption) {
    std::string_view option = next_token(line);
    auto scope = parse_scope(line_no, option.substr(kPathsOption.size()));
    if (!scope) return scope.error();
    entry.scope = std::move(*scope);
  }
  for (std::string_view rest = line; !rest.empty();) {
    if (next_token(rest).substr(0, kPathsOption.size()) == kPathsOption)
      return bad_line(line_no, "paths= must come right after the key");
  }
  entry.comment = std::string(line);
  return entry;
}

}  // namespace

Result<AuthorizedRequesters> AuthorizedRequesters::parse(std::string_view text) {
  if (text.size() > kMaxAuthorizedRequestersBytes)
    return make_error(ErrorCode::bad_authorized_requesters, "the file is larger than 1 MiB");
  AuthorizedRequesters out;
  std::vector<AuthorizedRequester> valid;
  std::map<RequesterKey, int> first_line;  // Every key seen, valid line or not.
  std::set<RequesterKey> refused;          // Keys on a broken line.
  int line_no = 0;
  while (!text.empty()) {
    size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    line = trim(line);
    if (line.empty() || line.front() == '#') continue;
    // The key of a broken line, when it has one, is refused everywhere.
    std::string_view first = line.substr(0, line.find_first_of(kBlank));
    std::optional<RequesterKey> key = decode_key(first);
    Result<AuthorizedRequester> entry = line.find('\0') != std::string_view::npos
                                            ? Result<AuthorizedRequester>(bad_line(line_no, "contains a NUL byte"))
                                            : parse_line(line_no, line);
    if (entry && !first_line.emplace(entry->key, line_no).second) {
      entry = bad_line(line_no, "this key is already on line " + std::to_string(first_line[entry->key]) +
                                    "; both lines are ignored");
    } else if (!entry && key) {
      first_line.emplace(*key, line_no);
    }
    if (!entry) {
      out.broken_.push_back(entry.error());
      if (key) refused.insert(*key);
      continue;
    }
    valid.push_back(std::move(*entry));
  }
  for (auto& e : valid) {
    if (refused.contains(e.key)) continue;
    out.by_key_.emplace(e.key, out.entries_.size());
    out.entries_.push_back(std::move(e));
  }
  return out;
}

const AuthorizedRequester* AuthorizedRequesters::find(
    std::span<const uint8_t, kKeyBytes> key) const {
  RequesterKey k;
  std::copy(key.begin(), key.end(), k.begin());
  auto it = by_key_.find(k);
  return it == by_key_.end() ? nullptr : &entries_[it->second];
}

namespace {

Error file_error(const std::string& path, const std::string& why) {
  return make_error(ErrorCode::io_error, path + ": " + why);
}

// Reads the whole file open as `fd`, whose fstat is `st`.
Result<std::string> read_all(const std::string& path, int fd, const struct stat& st) {
  if (!S_ISREG(st.st_mode)) return file_error(path, "not a regular file");
#ifdef _WIN32  // msvcrt's stat calls every writable file writable by all: the ACL decides.
  if (auto why = key_file::others_may_change(fd))
    return make_error(ErrorCode::not_allowed,
                      path + ": " + *why + "; refusing to trust it (icacls \"" + path +
                          "\" /inheritance:r /grant:r *S-1-5-18:F *S-1-5-32-544:F, then grant the agent's "
                          "account read access, e.g. /grant \"NT AUTHORITY\\LocalService:R\")");
#else
  if (st.st_mode & S_IWOTH)
    return make_error(ErrorCode::not_allowed, path + ": writable by everyone; refusing to trust it "
                                                     "(chmod o-w)");
#endif
  if (static_cast<uint64_t>(st.st_size) > kMaxAuthorizedRequestersBytes)
    return make_error(ErrorCode::bad_authorized_requesters, path + ": larger than 1 MiB");
  std::string text;
  char buf[16384];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      return file_error(path, std::strerror(errno));
    }
    if (n == 0) return text;
    text.append(buf, static_cast<size_t>(n));
    if (text.size() > kMaxAuthorizedRequestersBytes)
      return make_error(ErrorCode::bad_authorized_requesters, path + ": larger than 1 MiB");
  }
}

}  // namespace

Result<AuthorizedRequestersFile::Reload> AuthorizedRequestersFile::reload_if_changed() {
  std::lock_guard lock(mu_);
  // Reports each failure once: the same error on the same version again
  // (or a file that is still missing) is "unchanged".
  auto fail = [&](Error e, std::optional<FileSnapshot> version) -> Result<Reload> {
    bool again = last_error_ && failed_ == version && last_error_->message == e.message;
    // Fail closed: the list in force is never older than the file.
    current_ = std::make_shared<const AuthorizedRequesters>();
    loaded_.reset();
    failed_ = version;
    last_error_ = e;
    if (again) return Reload::unchanged;
    return e;
  };
  struct stat st;
  if (::stat(path_.c_str(), &st) != 0) return fail(file_error(path_, std::strerror(errno)), {});
  FileSnapshot seen = snapshot_from_stat(st);
  if (loaded_ == seen) return Reload::unchanged;
  if (last_error_ && failed_ == seen) return Reload::unchanged;

  UniqueFd fd(::open(path_.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK));
  if (!fd) return fail(file_error(path_, std::strerror(errno)), {});
  if (::fstat(fd.get(), &st) != 0) return fail(file_error(path_, std::strerror(errno)), {});
  FileSnapshot version = snapshot_from_stat(st);  // What is actually read.
  auto text = read_all(path_, fd.get(), st);
  if (!text) return fail(text.error(), version);
  auto parsed = AuthorizedRequesters::parse(*text);
  if (!parsed) {
    Error e = parsed.error();
    e.message = path_ + ": " + e.message;
    return fail(e, version);
  }
  current_ = std::make_shared<const AuthorizedRequesters>(std::move(*parsed));
  loaded_ = version;
  failed_.reset();
  last_error_.reset();
  return Reload::reloaded;
}

std::shared_ptr<const AuthorizedRequesters> AuthorizedRequestersFile::current() const {
  std::lock_guard lock(mu_);
  return current_;
}

std::optional<Error> AuthorizedRequestersFile::last_error() const {
  std::lock_guard lock(mu_);
  return last_error_;
}

}  // namespace sealrelay::agent
