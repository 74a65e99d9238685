// Known-answer tests: the published Noise vectors in tests/vectors/ (origin
// and licence in its README). The file is part of the repository, so a
// missing file is a failure, never a skip.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <sodium.h>

#include <fstream>
#include <set>

#include "crypto/noise.h"

namespace sealrelay::noise {
namespace {

// Set by tests/unit/crypto/CMakeLists.txt.
constexpr const char* kVectorsFile = SEALRELAY_NOISE_VECTORS;

Bytes hex(const std::string& s) {
  Bytes out(s.size() / 2);
  size_t len = 0;
  if (sodium_hex2bin(out.data(), out.size(), s.data(), s.size(), nullptr, &len, nullptr) != 0) std::abort();
  out.resize(len);
  return out;
}

Identity identity_of(const std::string& private_hex) {
  Identity id;
  Bytes priv = hex(private_hex);
  std::copy(priv.begin(), priv.end(), id.private_key.data());
  id.public_key = public_key_of(id.private_key);
  return id;
}

PublicKey key_of(const std::string& public_hex) {
  PublicKey k{};
  Bytes b = hex(public_hex);
  std::copy(b.begin(), b.end(), k.begin());
  return k;
}

struct Side {
  std::optional<Identity> s, e;
  Bytes prologue;
  std::unique_ptr<HandshakeState> hs;
  std::optional<HandshakeState::Split> split;
};

void setup(Side& side, const nlohmann::json& v, const char* prefix, Pattern pattern, bool initiator) {
  auto field = [&](const char* name) { return std::string(prefix) + name; };
  side.prologue = hex(v.at(field("prologue")));
  if (v.contains(field("static"))) side.s = identity_of(v.at(field("static")));
  side.e = identity_of(v.at(field("ephemeral")));
  HandshakeConfig c;
  c.pattern = pattern;
  c.initiator = initiator;
  c.prologue = side.prologue;
  c.static_key = side.s ? &*side.s : nullptr;
  c.ephemeral_for_test = &*side.e;
  if (v.contains(field("remote_static"))) c.remote_static = key_of(v.at(field("remote_static")));
  if (v.contains(field("psks"))) {
    ASSERT_EQ(v.at(field("psks")).size(), 1u);
    Bytes psk = hex(v.at(field("psks"))[0]);
    Secret<protocol::kKeyBytes> k;
    std::copy(psk.begin(), psk.end(), k.data());
    c.psk = std::move(k);
  }
  side.hs = std::make_unique<HandshakeState>(std::move(c));
}

TEST(NoiseVectors, EveryPublishedVectorForOurPrimitivesReproducesByteForByte) {
  ASSERT_GE(sodium_init(), 0);
  std::ifstream in(kVectorsFile);
  ASSERT_TRUE(in) << kVectorsFile << " is missing; it is part of the repository (git checkout -- tests/vectors)";
  nlohmann::json doc = nlohmann::json::parse(in);
  int ran = 0;
  std::set<Pattern> covered;
  for (const auto& v : doc.at("vectors")) {
    const std::string name = v.at("protocol_name");
    SCOPED_TRACE(name);
    auto pattern = pattern_of(name);
    ASSERT_TRUE(pattern) << "vector for a pattern the engine does not know";
    Side init, resp;
    setup(init, v, "init_", *pattern, true);
    setup(resp, v, "resp_", *pattern, false);

    const auto& messages = v.at("messages");
    for (size_t i = 0; i < messages.size(); ++i) {
      SCOPED_TRACE("message " + std::to_string(i));
      Side& sender = i % 2 == 0 ? init : resp;
      Side& receiver = i % 2 == 0 ? resp : init;
      Bytes payload = hex(messages[i].at("payload"));
      Bytes expected = hex(messages[i].at("ciphertext"));
      Bytes wire, got;
      if (!sender.hs->complete()) {
        auto w = sender.hs->write_message(payload);
        ASSERT_TRUE(w.ok()) << w.error().message;
        wire = *w;
        auto r = receiver.hs->read_message(wire);
        ASSERT_TRUE(r.ok()) << r.error().message;
        got = *r;
        if (sender.hs->complete()) {
          ASSERT_TRUE(receiver.hs->complete());
          EXPECT_EQ(init.hs->handshake_hash(), resp.hs->handshake_hash());
          Bytes h = hex(v.at("handshake_hash"));
          EXPECT_TRUE(std::equal(h.begin(), h.end(), init.hs->handshake_hash().begin()));
          init.split = init.hs->split();
          resp.split = resp.hs->split();
        }
      } else {
        // Transport: the initiator sends with the first cipher, the responder with the second.
        bool from_initiator = i % 2 == 0;
        CipherState& enc = from_initiator ? sender.split->initiator_to_responder : sender.split->responder_to_initiator;
        CipherState& dec =
            from_initiator ? receiver.split->initiator_to_responder : receiver.split->responder_to_initiator;
        ASSERT_TRUE(enc.encrypt_with_ad({}, payload, wire).ok());
        ASSERT_TRUE(dec.decrypt_with_ad({}, wire, got).ok());
      }
      EXPECT_EQ(wire, expected);
      EXPECT_EQ(got, payload);
    }
    ++ran;
    covered.insert(*pattern);
  }
  EXPECT_EQ(ran, static_cast<int>(doc.at("vectors").size()));
  EXPECT_EQ(covered, (std::set<Pattern>{Pattern::NN, Pattern::KK, Pattern::IK, Pattern::XX, Pattern::IKpsk2}))
      << "every pattern the engine implements has its published vector";
}

TEST(NoiseVectors, KnowsOnlyOurPrimitives) {
  EXPECT_EQ(pattern_of("Noise_IK_25519_ChaChaPoly_BLAKE2b"), Pattern::IK);
  EXPECT_FALSE(pattern_of("Noise_IK_25519_AESGCM_SHA256"));
  EXPECT_FALSE(pattern_of("Noise_IX_25519_ChaChaPoly_BLAKE2b"));
  EXPECT_FALSE(pattern_of(""));
}

}  // namespace
}  // namespace sealrelay::noise
