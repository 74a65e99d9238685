#include "crypto/keys.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fmt/format.h>

#include "base/fingerprint.h"

namespace sealrelay {
namespace {

namespace fs = std::filesystem;

constexpr std::string_view kHeader =
    "# sealrelay identity key (X25519). Secret: keep this file mode 0600 and never share it.\n";
constexpr size_t kMaxKeyFileBytes = 4096;
constexpr size_t kBase64KeyChars = 44;

Error file_error(const fs::path& path, std::string_view what) {
  return make_error("key_file", fmt::format("{}: {}: {}", path.string(), what, std::strerror(errno)));
}

bool write_all(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

// Decodes exactly kKeyBytes of base64 with libsodium's constant-time codec:
// this runs over the private key.
bool decode_key(std::string_view text, uint8_t* out) {
  size_t len = 0;
  if (text.size() != kBase64KeyChars) return false;
  if (sodium_base642bin(out, protocol::kKeyBytes, text.data(), text.size(), nullptr, &len, nullptr,
                        sodium_base64_VARIANT_ORIGINAL) != 0) {
    return false;
  }
  return len == protocol::kKeyBytes;
}

std::string encode_key(const uint8_t* key) {
  char buf[kBase64KeyChars + 1];
  sodium_bin2base64(buf, sizeof buf, key, protocol::kKeyBytes, sodium_base64_VARIANT_ORIGINAL);
  return std::string(buf, kBase64KeyChars);
}

}  // namespace

Identity generate_identity() {
  Identity id;
  randombytes_buf(id.private_key.data(), id.private_key.size());
  id.public_key = public_key_of(id.private_key);
  return id;
}

PublicKey public_key_of(const PrivateKey& private_key) {
  PublicKey pub{};
  // Cannot fail for scalarmult_base (the base point is not low order).
  if (crypto_scalarmult_base(pub.data(), private_key.data()) != 0) std::abort();
  return pub;
}

std::string encode_public_key(const PublicKey& key) { return encode_key(key.data()); }

std::optional<PublicKey> decode_public_key(std::string_view text) {
  PublicKey key{};
  if (!decode_key(text, key.data())) return std::nullopt;
  return key;
}

std::string fingerprint_of(const PublicKey& key) { return fingerprint::of(key); }

Result<void> save_identity(const fs::path& path, const Identity& identity, bool overwrite) {
  std::error_code ec;
  fs::path dir = path.has_parent_path() ? path.parent_path() : fs::path(".");
  if (!fs::exists(dir, ec)) {
    fs::create_directories(dir, ec);
    if (ec) return make_error("key_file", fmt::format("cannot create {}: {}", dir.string(), ec.message()));
    fs::permissions(dir, fs::perms::owner_all, ec);
  }
  if (!overwrite && fs::exists(fs::symlink_status(path, ec))) {
    return make_error("key_exists", fmt::format("{} already exists; refusing to replace an identity key "
                                                "(move it away first if you really mean to)",
                                                path.string()));
  }

  std::string tmpl = (dir / (path.filename().string() + ".tmp.XXXXXX")).string();
  int fd = ::mkstemp(tmpl.data());  // mode 0600
  if (fd < 0) return file_error(tmpl, "cannot create temporary key file");

  Secret<kBase64KeyChars + 1> priv_text;
  sodium_bin2base64(reinterpret_cast<char*>(priv_text.data()), priv_text.size(), identity.private_key.data(),
                    protocol::kKeyBytes, sodium_base64_VARIANT_ORIGINAL);
  std::string_view priv(reinterpret_cast<const char*>(priv_text.data()), kBase64KeyChars);
  bool ok = ::fchmod(fd, 0600) == 0 && write_all(fd, kHeader) &&
            write_all(fd, "public=" + encode_public_key(identity.public_key) + "\n") &&
            write_all(fd, "private=") && write_all(fd, priv) && write_all(fd, "\n") && ::fsync(fd) == 0;
  ok = (::close(fd) == 0) && ok;
  if (!ok || ::rename(tmpl.c_str(), path.c_str()) != 0) {
    Error e = file_error(path, "cannot write key file");
    ::unlink(tmpl.c_str());
    return e;
  }
  int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
  return {};
}

Result<Identity> load_identity(const fs::path& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) {
    if (errno == ENOENT) {
      return make_error("key_missing", fmt::format("{} does not exist; create it with the init/keygen command",
                                                   path.string()));
    }
    return file_error(path, "cannot open key file");
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    Error e = file_error(path, "cannot stat key file");
    ::close(fd);
    return e;
  }
  auto refuse = [&](std::string code, std::string message) -> Result<Identity> {
    ::close(fd);
    return make_error(std::move(code), std::move(message));
  };
  if (!S_ISREG(st.st_mode)) return refuse("key_file", fmt::format("{} is not a regular file", path.string()));
  if ((st.st_mode & 077) != 0) {
    return refuse("key_permissions",
                  fmt::format("{} is accessible by group or others (mode {:o}); a secret key must be private: "
                              "run `chmod 600 {}`",
                              path.string(), st.st_mode & 0777, path.string()));
  }
  if (st.st_uid != ::geteuid()) {
    return refuse("key_permissions", fmt::format("{} is owned by uid {}, not by this user (uid {}); run `chown "
                                                 "$(id -u) {}`",
                                                 path.string(), st.st_uid, ::geteuid(), path.string()));
  }
  if (st.st_size > static_cast<off_t>(kMaxKeyFileBytes)) {
    return refuse("key_malformed", fmt::format("{} is too large to be a key file", path.string()));
  }

  Secret<kMaxKeyFileBytes> buf;
  size_t len = 0;
  while (len < buf.size()) {
    ssize_t n = ::read(fd, buf.data() + len, buf.size() - len);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      Error e = file_error(path, "cannot read key file");
      ::close(fd);
      return e;
    }
    if (n == 0) break;
    len += static_cast<size_t>(n);
  }
  ::close(fd);

  std::string_view text(reinterpret_cast<const char*>(buf.data()), len);
  std::optional<std::string_view> pub_text, priv_text;
  while (!text.empty()) {
    size_t eol = text.find('\n');
    std::string_view line = text.substr(0, eol);
    text.remove_prefix(eol == std::string_view::npos ? text.size() : eol + 1);
    if (line.empty() || line.front() == '#') continue;
    if (line.starts_with("public=") && !pub_text) {
      pub_text = line.substr(7);
    } else if (line.starts_with("private=") && !priv_text) {
      priv_text = line.substr(8);
    } else {
      return make_error("key_malformed", fmt::format("{}: unexpected line; the file must hold one public= and "
                                                     "one private= line",
                                                     path.string()));
    }
  }
  Identity id;
  if (!priv_text || !decode_key(*priv_text, id.private_key.data())) {
    return make_error("key_malformed", fmt::format("{}: missing or malformed private= line", path.string()));
  }
  id.public_key = public_key_of(id.private_key);
  auto stated = pub_text ? decode_public_key(*pub_text) : std::nullopt;
  if (!stated || *stated != id.public_key) {
    return make_error("key_malformed", fmt::format("{}: the public= line is missing or does not belong to the "
                                                   "private key",
                                                   path.string()));
  }
  return id;
}

}  // namespace sealrelay
