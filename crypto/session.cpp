#include "crypto/session.h"

namespace sealrelay {
namespace {

std::span<const uint8_t> prologue() {
  return {reinterpret_cast<const uint8_t*>(protocol::kPrologue.data()), protocol::kPrologue.size()};
}

// frame_key = BLAKE2b-256(key = k_responder_to_initiator, "sealrelay/1 frame key")
TransferKeys transfer_keys(noise::HandshakeState& hs) {
  TransferKeys keys;
  keys.handshake_hash = hs.handshake_hash();
  noise::HandshakeState::Split split = hs.split();
  const auto& k = split.responder_to_initiator.key();
  crypto_generichash(keys.frame_key.data(), keys.frame_key.size(),
                     reinterpret_cast<const uint8_t*>(protocol::kFrameKeyLabel.data()), protocol::kFrameKeyLabel.size(),
                     k.data(), k.size());
  return keys;
}

Error refused() {
  return make_error("handshake_failed",
                    "the handshake did not verify: the answer is not from the pinned agent key, or was altered");
}

}  // namespace

Result<InitiatorHandshake> InitiatorHandshake::start_for_test(const Identity& me, const PublicKey& agent,
                                                              std::span<const uint8_t> request,
                                                              const Identity* ephemeral) {
  noise::HandshakeConfig config;
  config.pattern = noise::Pattern::IK;
  config.initiator = true;
  config.prologue = prologue();
  config.static_key = &me;
  config.remote_static = agent;
  config.ephemeral_for_test = ephemeral;
  noise::HandshakeState hs(std::move(config));
  auto msg = hs.write_message(request);
  if (!msg) return msg.error();
  InitiatorHandshake out = InitiatorHandshake(std::move(hs));
  out.message1_ = std::move(*msg);
  return out;
}

Result<InitiatorHandshake> InitiatorHandshake::start(const Identity& me, const PublicKey& agent,
                                                     std::span<const uint8_t> request) {
  return start_for_test(me, agent, request, nullptr);
}

Result<InitiatorHandshake::Answer> InitiatorHandshake::finish(std::span<const uint8_t> message2) {
  auto payload = hs_.read_message(message2);
  if (!payload || !hs_.complete()) return refused();
  return Answer{std::move(*payload), transfer_keys(hs_)};
}

Result<ResponderHandshake> ResponderHandshake::read(const Identity& me, std::span<const uint8_t> message1) {
  noise::HandshakeConfig config;
  config.pattern = noise::Pattern::IK;
  config.initiator = false;
  config.prologue = prologue();
  config.static_key = &me;
  noise::HandshakeState hs(std::move(config));
  auto payload = hs.read_message(message1);
  if (!payload) {
    return make_error("handshake_failed", "message 1 did not verify: not addressed to this agent's key, or altered");
  }
  ResponderHandshake out(std::move(hs));
  out.requester_ = *out.hs_.remote_static();
  out.request_ = std::move(*payload);
  return out;
}

Result<ResponderHandshake::Reply> ResponderHandshake::answer(std::span<const uint8_t> answer) {
  auto msg = hs_.write_message(answer);
  if (!msg) return msg.error();
  return Reply{std::move(*msg), transfer_keys(hs_)};
}

}  // namespace sealrelay
