#include "crypto/noise.h"

#include <cstring>
#include <limits>

namespace sealrelay::noise {
namespace {

constexpr size_t kHashLen = protocol::kHashBytes;
constexpr size_t kBlockLen = 128;  // BLAKE2b
constexpr size_t kDhLen = protocol::kKeyBytes;
constexpr size_t kTagLen = protocol::kNoiseTagBytes;
using ChainingKey = Secret<kHashLen>;

enum class Token { E, S, EE, ES, SE, SS, PSK };

struct PatternDef {
  bool initiator_pre_s = false;  // "-> s" before the handshake
  bool responder_pre_s = false;  // "<- s" before the handshake
  std::vector<std::vector<Token>> messages;
  bool psk = false;
};

const PatternDef& definition(Pattern p) {
  using enum Token;
  static const PatternDef nn{false, false, {{E}, {E, EE}}, false};
  static const PatternDef kk{true, true, {{E, ES, SS}, {E, EE, SE}}, false};
  static const PatternDef ik{false, true, {{E, ES, S, SS}, {E, EE, SE}}, false};
  static const PatternDef xx{false, false, {{E}, {E, EE, S, ES}, {S, SE}}, false};
  static const PatternDef ikpsk2{false, true, {{E, ES, S, SS}, {E, EE, SE, PSK}}, true};
  switch (p) {
    case Pattern::NN: return nn;
    case Pattern::KK: return kk;
    case Pattern::IK: return ik;
    case Pattern::XX: return xx;
    case Pattern::IKpsk2: return ikpsk2;
  }
  std::abort();
}

std::string_view name_of(Pattern p) {
  switch (p) {
    case Pattern::NN: return "NN";
    case Pattern::KK: return "KK";
    case Pattern::IK: return "IK";
    case Pattern::XX: return "XX";
    case Pattern::IKpsk2: return "IKpsk2";
  }
  std::abort();
}

Error handshake_error(std::string message) { return make_error("handshake_failed", std::move(message)); }

// HASH(a || b) with BLAKE2b-512.
Hash hash2(std::span<const uint8_t> a, std::span<const uint8_t> b) {
  crypto_generichash_state st;
  Hash out{};
  crypto_generichash_init(&st, nullptr, 0, kHashLen);
  crypto_generichash_update(&st, a.data(), a.size());
  crypto_generichash_update(&st, b.data(), b.size());
  crypto_generichash_final(&st, out.data(), out.size());
  sodium_memzero(&st, sizeof st);
  return out;
}

// HMAC-HASH(key, data_a || data_b) as RFC 2104 with BLAKE2b (spec §4.3).
void hmac(std::span<const uint8_t> key, std::span<const uint8_t> data_a, std::span<const uint8_t> data_b,
          uint8_t out[kHashLen]) {
  if (key.size() > kBlockLen) std::abort();  // Noise never uses longer keys.
  uint8_t pad[kBlockLen];
  uint8_t inner[kHashLen];
  crypto_generichash_state st;

  std::memset(pad, 0x36, sizeof pad);
  for (size_t i = 0; i < key.size(); ++i) pad[i] ^= key[i];
  crypto_generichash_init(&st, nullptr, 0, kHashLen);
  crypto_generichash_update(&st, pad, sizeof pad);
  crypto_generichash_update(&st, data_a.data(), data_a.size());
  crypto_generichash_update(&st, data_b.data(), data_b.size());
  crypto_generichash_final(&st, inner, sizeof inner);

  std::memset(pad, 0x5c, sizeof pad);
  for (size_t i = 0; i < key.size(); ++i) pad[i] ^= key[i];
  crypto_generichash_init(&st, nullptr, 0, kHashLen);
  crypto_generichash_update(&st, pad, sizeof pad);
  crypto_generichash_update(&st, inner, sizeof inner);
  crypto_generichash_final(&st, out, kHashLen);

  sodium_memzero(pad, sizeof pad);
  sodium_memzero(inner, sizeof inner);
  sodium_memzero(&st, sizeof st);
}

// HKDF(chaining_key, ikm, n) (spec §4.3) into out[0..n).
void hkdf(std::span<const uint8_t> chaining_key, std::span<const uint8_t> ikm, size_t n,
          Secret<kHashLen>* const out[]) {
  Secret<kHashLen> temp_key;
  hmac(chaining_key, ikm, {}, temp_key.data());
  uint8_t counter = 1;
  hmac(temp_key.span(), std::span<const uint8_t>(&counter, 1), {}, out[0]->data());
  for (size_t i = 1; i < n; ++i) {
    counter = static_cast<uint8_t>(i + 1);
    hmac(temp_key.span(), out[i - 1]->span(), std::span<const uint8_t>(&counter, 1), out[i]->data());
  }
}

CipherKey truncate_key(const Secret<kHashLen>& k) {
  CipherKey key;
  std::memcpy(key.data(), k.data(), key.size());
  return key;
}

void chacha_nonce(uint64_t n, uint8_t out[crypto_aead_chacha20poly1305_ietf_NPUBBYTES]) {
  std::memset(out, 0, 4);
  for (int i = 0; i < 8; ++i) out[4 + i] = static_cast<uint8_t>(n >> (8 * i));
}

}  // namespace

std::optional<Pattern> pattern_of(std::string_view protocol_name) {
  constexpr std::string_view prefix = "Noise_";
  constexpr std::string_view suffix = "_25519_ChaChaPoly_BLAKE2b";
  if (!protocol_name.starts_with(prefix) || !protocol_name.ends_with(suffix)) return std::nullopt;
  std::string_view name = protocol_name.substr(prefix.size(), protocol_name.size() - prefix.size() - suffix.size());
  for (Pattern p : {Pattern::NN, Pattern::KK, Pattern::IK, Pattern::XX, Pattern::IKpsk2}) {
    if (name == name_of(p)) return p;
  }
  return std::nullopt;
}

Result<void> CipherState::encrypt_with_ad(std::span<const uint8_t> ad, std::span<const uint8_t> plaintext,
                                          Bytes& out) {
  if (!has_key_) {
    out.insert(out.end(), plaintext.begin(), plaintext.end());
    return {};
  }
  if (nonce_ == std::numeric_limits<uint64_t>::max()) return make_error("nonce_exhausted", "cipher nonce exhausted");
  uint8_t nonce[crypto_aead_chacha20poly1305_ietf_NPUBBYTES];
  chacha_nonce(nonce_, nonce);
  size_t at = out.size();
  out.resize(at + plaintext.size() + kTagLen);
  unsigned long long clen = 0;
  crypto_aead_chacha20poly1305_ietf_encrypt(out.data() + at, &clen, plaintext.data(), plaintext.size(), ad.data(),
                                            ad.size(), nullptr, nonce, key_.data());
  ++nonce_;
  return {};
}

Result<void> CipherState::decrypt_with_ad(std::span<const uint8_t> ad, std::span<const uint8_t> ciphertext,
                                          Bytes& out) {
  out.clear();
  if (!has_key_) {
    out.assign(ciphertext.begin(), ciphertext.end());
    return {};
  }
  if (nonce_ == std::numeric_limits<uint64_t>::max()) return make_error("nonce_exhausted", "cipher nonce exhausted");
  if (ciphertext.size() < kTagLen) return make_error("decrypt_failed", "ciphertext shorter than its tag");
  uint8_t nonce[crypto_aead_chacha20poly1305_ietf_NPUBBYTES];
  chacha_nonce(nonce_, nonce);
  out.resize(ciphertext.size() - kTagLen);
  unsigned long long mlen = 0;
  if (crypto_aead_chacha20poly1305_ietf_decrypt(out.data(), &mlen, nullptr, ciphertext.data(), ciphertext.size(),
                                                ad.data(), ad.size(), nonce, key_.data()) != 0) {
    sodium_memzero(out.data(), out.size());
    out.clear();
    return make_error("decrypt_failed", "message failed authentication");
  }
  ++nonce_;
  return {};
}

struct HandshakeState::State {
  const PatternDef* def = nullptr;
  bool initiator = true;
  // SymmetricState (spec §5.2).
  CipherState cipher;
  ChainingKey ck;
  Hash h{};
  // HandshakeState (spec §5.3).
  std::optional<Identity> s;
  std::optional<Identity> e;
  const Identity* ephemeral_for_test = nullptr;
  std::optional<PublicKey> rs;
  std::optional<PublicKey> re;
  std::optional<Secret<protocol::kKeyBytes>> psk;
  size_t next_message = 0;
  bool poisoned = false;

  void mix_hash(std::span<const uint8_t> data) { h = hash2(h, data); }

  void mix_key(std::span<const uint8_t> ikm) {
    Secret<kHashLen> new_ck, temp_k;
    Secret<kHashLen>* outs[] = {&new_ck, &temp_k};
    hkdf(ck.span(), ikm, 2, outs);
    ck = std::move(new_ck);
    cipher = CipherState(truncate_key(temp_k));
  }

  void mix_key_and_hash(std::span<const uint8_t> ikm) {
    Secret<kHashLen> new_ck, temp_h, temp_k;
    Secret<kHashLen>* outs[] = {&new_ck, &temp_h, &temp_k};
    hkdf(ck.span(), ikm, 3, outs);
    ck = std::move(new_ck);
    mix_hash(temp_h.span());
    cipher = CipherState(truncate_key(temp_k));
  }

  Result<void> encrypt_and_hash(std::span<const uint8_t> plaintext, Bytes& out) {
    size_t at = out.size();
    if (auto r = cipher.encrypt_with_ad(h, plaintext, out); !r) return r;
    mix_hash(std::span<const uint8_t>(out).subspan(at));
    return {};
  }

  Result<void> decrypt_and_hash(std::span<const uint8_t> ciphertext, Bytes& out) {
    if (auto r = cipher.decrypt_with_ad(h, ciphertext, out); !r) return r;
    mix_hash(ciphertext);
    return {};
  }

  Result<void> dh(const Identity& local, const PublicKey& remote) {
    Secret<kDhLen> shared;
    // libsodium refuses an all-zero result (a low-order remote point).
    if (crypto_scalarmult(shared.data(), local.private_key.data(), remote.data()) != 0) {
      return handshake_error("invalid Diffie-Hellman result (low-order public key)");
    }
    mix_key(shared.span());
    return {};
  }

  // The DH for es/se/ee/ss from this side's point of view.
  Result<void> token_dh(Token t) {
    auto need = [](bool have, const char* what) -> Result<void> {
      if (!have) return handshake_error(std::string("missing key for ") + what);
      return {};
    };
    switch (t) {
      case Token::EE:
        if (auto r = need(e && re, "ee"); !r) return r;
        return dh(*e, *re);
      case Token::SS:
        if (auto r = need(s && rs, "ss"); !r) return r;
        return dh(*s, *rs);
      case Token::ES:
        if (initiator) {
          if (auto r = need(e && rs, "es"); !r) return r;
          return dh(*e, *rs);
        }
        if (auto r = need(s && re, "es"); !r) return r;
        return dh(*s, *re);
      case Token::SE:
        if (initiator) {
          if (auto r = need(s && re, "se"); !r) return r;
          return dh(*s, *re);
        }
        if (auto r = need(e && rs, "se"); !r) return r;
        return dh(*e, *rs);
      default:
        std::abort();
    }
  }

  bool my_turn() const { return (next_message % 2 == 0) == initiator; }
};

HandshakeState::HandshakeState(HandshakeConfig config) : st_(std::make_unique<State>()) {
  State& st = *st_;
  st.def = &definition(config.pattern);
  st.initiator = config.initiator;
  if (config.static_key) st.s = Identity{config.static_key->private_key.clone(), config.static_key->public_key};
  st.rs = config.remote_static;
  st.psk = std::move(config.psk);
  st.ephemeral_for_test = config.ephemeral_for_test;

  std::string name = "Noise_" + std::string(name_of(config.pattern)) + "_25519_ChaChaPoly_BLAKE2b";
  if (name.size() <= kHashLen) {
    std::memcpy(st.h.data(), name.data(), name.size());
  } else {
    st.h = hash2(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(name.data()), name.size()), {});
  }
  std::memcpy(st.ck.data(), st.h.data(), kHashLen);
  st.mix_hash(config.prologue);

  // Pre-messages: the initiator's first, then the responder's (spec §7.1).
  auto pre = [&](bool mine) {
    if (mine) {
      if (!st.s) std::abort();  // Misuse: the pattern needs our static key.
      st.mix_hash(st.s->public_key);
    } else {
      if (!st.rs) std::abort();  // Misuse: the pattern needs the remote static key.
      st.mix_hash(*st.rs);
    }
  };
  if (st.def->initiator_pre_s) pre(st.initiator);
  if (st.def->responder_pre_s) pre(!st.initiator);
}

HandshakeState::HandshakeState(HandshakeState&&) noexcept = default;
HandshakeState& HandshakeState::operator=(HandshakeState&&) noexcept = default;
HandshakeState::~HandshakeState() = default;

bool HandshakeState::complete() const { return !st_->poisoned && st_->next_message == st_->def->messages.size(); }
const Hash& HandshakeState::handshake_hash() const { return st_->h; }
const std::optional<PublicKey>& HandshakeState::remote_static() const { return st_->rs; }

Result<Bytes> HandshakeState::write_message(std::span<const uint8_t> payload) {
  State& st = *st_;
  if (st.poisoned || st.next_message >= st.def->messages.size() || !st.my_turn()) {
    return handshake_error("handshake message written out of turn");
  }
  auto fail = [&](Error e) -> Result<Bytes> {
    st.poisoned = true;
    return e;
  };
  Bytes out;
  for (Token t : st.def->messages[st.next_message]) {
    switch (t) {
      case Token::E: {
        if (st.ephemeral_for_test) {
          st.e = Identity{st.ephemeral_for_test->private_key.clone(), st.ephemeral_for_test->public_key};
        } else {
          st.e = generate_identity();
        }
        out.insert(out.end(), st.e->public_key.begin(), st.e->public_key.end());
        st.mix_hash(st.e->public_key);
        if (st.def->psk) st.mix_key(st.e->public_key);
        break;
      }
      case Token::S:
        if (!st.s) std::abort();
        if (auto r = st.encrypt_and_hash(st.s->public_key, out); !r) return fail(r.error());
        break;
      case Token::PSK:
        if (!st.psk) std::abort();
        st.mix_key_and_hash(st.psk->span());
        break;
      default:
        if (auto r = st.token_dh(t); !r) return fail(r.error());
    }
  }
  if (auto r = st.encrypt_and_hash(payload, out); !r) return fail(r.error());
  if (out.size() > protocol::kMaxNoiseMessageBytes) return fail(handshake_error("handshake message too long"));
  ++st.next_message;
  return out;
}

Result<Bytes> HandshakeState::read_message(std::span<const uint8_t> message) {
  State& st = *st_;
  if (st.poisoned || st.next_message >= st.def->messages.size() || st.my_turn()) {
    return handshake_error("handshake message read out of turn");
  }
  st.poisoned = true;  // Cleared only when the whole message has been accepted.
  if (message.size() > protocol::kMaxNoiseMessageBytes) return handshake_error("handshake message too long");
  for (Token t : st.def->messages[st.next_message]) {
    switch (t) {
      case Token::E: {
        if (message.size() < kDhLen) return handshake_error("handshake message too short");
        PublicKey re{};
        std::memcpy(re.data(), message.data(), kDhLen);
        message = message.subspan(kDhLen);
        st.re = re;
        st.mix_hash(re);
        if (st.def->psk) st.mix_key(re);
        break;
      }
      case Token::S: {
        size_t len = kDhLen + (st.cipher.has_key() ? kTagLen : 0);
        if (message.size() < len) return handshake_error("handshake message too short");
        Bytes rs;
        if (auto r = st.decrypt_and_hash(message.first(len), rs); !r) {
          return handshake_error("handshake message failed authentication");
        }
        message = message.subspan(len);
        PublicKey key{};
        std::memcpy(key.data(), rs.data(), kDhLen);
        st.rs = key;
        break;
      }
      case Token::PSK:
        if (!st.psk) std::abort();
        st.mix_key_and_hash(st.psk->span());
        break;
      default:
        if (auto r = st.token_dh(t); !r) return r.error();
    }
  }
  Bytes payload;
  if (auto r = st.decrypt_and_hash(message, payload); !r) {
    return handshake_error("handshake message failed authentication");
  }
  ++st.next_message;
  st.poisoned = false;
  return payload;
}

HandshakeState::Split HandshakeState::split() {
  State& st = *st_;
  if (!complete()) std::abort();  // Misuse: split before the handshake finished.
  Secret<kHashLen> k1, k2;
  Secret<kHashLen>* outs[] = {&k1, &k2};
  hkdf(st.ck.span(), {}, 2, outs);
  return Split{CipherState(truncate_key(k1)), CipherState(truncate_key(k2))};
}

}  // namespace sealrelay::noise
