#include "crypto/keys.h"

#include <fmt/format.h>

#include "base/fingerprint.h"
#include "crypto/key_file.h"

namespace sealrelay {
namespace {

namespace fs = std::filesystem;

constexpr std::string_view kHeader =
    "# sealrelay identity key (X25519). Secret: keep this file mode 0600 and never share it.\n";
constexpr size_t kMaxKeyFileBytes = 4096;
constexpr size_t kBase64KeyChars = 44;

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

  Secret<kBase64KeyChars + 1> priv_text;
  sodium_bin2base64(reinterpret_cast<char*>(priv_text.data()), priv_text.size(), identity.private_key.data(),
                    protocol::kKeyBytes, sodium_base64_VARIANT_ORIGINAL);
  std::string_view priv(reinterpret_cast<const char*>(priv_text.data()), kBase64KeyChars);
  std::string pub = "public=" + encode_public_key(identity.public_key) + "\n";
  const std::string_view parts[] = {kHeader, pub, "private=", priv, "\n"};
  return key_file::write(path, parts);
}

Result<Identity> load_identity(const fs::path& path) {
  Secret<kMaxKeyFileBytes> buf;
  auto len = key_file::read(path, buf.span());
  if (!len) return len.error();
  std::string_view text(reinterpret_cast<const char*>(buf.data()), *len);
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
