// Noise Protocol Framework, revision 34 (2018-07-11), with DH 25519, cipher
// ChaChaPoly and hash BLAKE2b, on libsodium primitives. "spec §N" below is a
// section of https://noiseprotocol.org/noise.html, revision 34.
// Generic over the handshake patterns sealrelay needs (IK) and the ones the
// published vectors cover (NN, KK, XX, IKpsk2), so the vectors test the
// engine rather than one path through it. No I/O.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "crypto/keys.h"
#include "crypto/protocol.h"
#include "crypto/secret.h"

namespace sealrelay::noise {

using Bytes = std::vector<uint8_t>;
using Hash = std::array<uint8_t, protocol::kHashBytes>;
using CipherKey = Secret<protocol::kKeyBytes>;

enum class Pattern { NN, KK, IK, XX, IKpsk2 };

// Pattern of a full protocol name such as "Noise_IK_25519_ChaChaPoly_BLAKE2b";
// nullopt for other patterns or primitives.
std::optional<Pattern> pattern_of(std::string_view protocol_name);

// A CipherState (spec §5.1): a key and a 64-bit counter nonce.
class CipherState {
 public:
  CipherState() = default;
  explicit CipherState(CipherKey key) : key_(std::move(key)), has_key_(true) {}

  bool has_key() const { return has_key_; }
  const CipherKey& key() const { return key_; }

  // Appends ciphertext+tag (or the plaintext, before a key is set) to `out`.
  [[nodiscard]] Result<void> encrypt_with_ad(std::span<const uint8_t> ad, std::span<const uint8_t> plaintext,
                                             Bytes& out);
  // Replaces `out` with the plaintext; on failure `out` is empty and the
  // nonce is not consumed.
  [[nodiscard]] Result<void> decrypt_with_ad(std::span<const uint8_t> ad, std::span<const uint8_t> ciphertext,
                                             Bytes& out);

 private:
  CipherKey key_;
  bool has_key_ = false;
  uint64_t nonce_ = 0;
};

struct HandshakeConfig {
  Pattern pattern = Pattern::IK;
  bool initiator = true;
  std::span<const uint8_t> prologue;
  const Identity* static_key = nullptr;        // s
  std::optional<PublicKey> remote_static;      // rs, when known in advance
  std::optional<Secret<protocol::kKeyBytes>> psk;
  // Test vectors fix the ephemeral key; production leaves this empty and a
  // fresh one is generated. Name says it: never set it outside tests.
  const Identity* ephemeral_for_test = nullptr;
};

// A HandshakeState (spec §5.3). Messages alternate starting with the
// initiator; after the last one, split() gives the transport ciphers.
class HandshakeState {
 public:
  explicit HandshakeState(HandshakeConfig config);
  HandshakeState(HandshakeState&&) noexcept;
  HandshakeState& operator=(HandshakeState&&) noexcept;
  ~HandshakeState();

  // Writes the next handshake message carrying `payload`. Fails when it is
  // not this side's turn, the handshake is over, or a DH result is invalid.
  [[nodiscard]] Result<Bytes> write_message(std::span<const uint8_t> payload);
  // Reads the next handshake message and returns its payload. Any failure
  // poisons the state: every later call fails too.
  [[nodiscard]] Result<Bytes> read_message(std::span<const uint8_t> message);

  bool complete() const;
  // The handshake hash h; stable once complete().
  const Hash& handshake_hash() const;
  // The remote static key, once the handshake has carried or preset it.
  const std::optional<PublicKey>& remote_static() const;

  struct Split {
    CipherState initiator_to_responder;
    CipherState responder_to_initiator;
  };
  // Valid once complete(); the state must not be used afterwards.
  Split split();

 private:
  struct State;
  std::unique_ptr<State> st_;
};

}  // namespace sealrelay::noise
