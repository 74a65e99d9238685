// The sealrelay session: one Noise_IK handshake per transfer (requester =
// initiator, agent = responder) and the keys the frames are sealed with
// (docs/protocol.md §Handshake, §Frames). No I/O.
#pragma once

#include <memory>
#include <span>

#include "crypto/keys.h"
#include "crypto/noise.h"

namespace sealrelay {

// What frames of one transfer are sealed and opened with: a key derived from
// the responder-to-initiator transport key, and the handshake hash h bound
// into every frame's associated data.
struct TransferKeys {
  Secret<protocol::kKeyBytes> frame_key;
  noise::Hash handshake_hash{};
};

// Requester side.
class InitiatorHandshake {
 public:
  // Message 1 to `agent`, carrying `request` (encrypted to the agent).
  static Result<InitiatorHandshake> start(const Identity& me, const PublicKey& agent,
                                          std::span<const uint8_t> request);

  // Same, with a fixed ephemeral key: for known-answer tests only.
  static Result<InitiatorHandshake> start_for_test(const Identity& me, const PublicKey& agent,
                                                   std::span<const uint8_t> request, const Identity* ephemeral);

  const noise::Bytes& message1() const { return message1_; }

  struct Answer {
    noise::Bytes payload;
    TransferKeys keys;
  };
  // Reads message 2. Fails, without detail, on anything that is not the
  // pinned agent answering this very message 1.
  Result<Answer> finish(std::span<const uint8_t> message2);

 private:
  explicit InitiatorHandshake(noise::HandshakeState hs) : hs_(std::move(hs)) {}
  noise::HandshakeState hs_;
  noise::Bytes message1_;
};

// Agent side.
class ResponderHandshake {
 public:
  // Reads message 1. Fails on a message not addressed to `me` or tampered
  // with; the caller then checks requester_key() against its authorized list.
  static Result<ResponderHandshake> read(const Identity& me, std::span<const uint8_t> message1);

  const PublicKey& requester_key() const { return requester_; }
  const noise::Bytes& request() const { return request_; }

  struct Reply {
    noise::Bytes message2;
    TransferKeys keys;
  };
  // Message 2 carrying `answer`; completes the handshake.
  Result<Reply> answer(std::span<const uint8_t> answer);

 private:
  explicit ResponderHandshake(noise::HandshakeState hs) : hs_(std::move(hs)) {}
  noise::HandshakeState hs_;
  PublicKey requester_{};
  noise::Bytes request_;
};

}  // namespace sealrelay
