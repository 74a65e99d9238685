#include "crypto/session.h"

#include <gtest/gtest.h>

namespace sealrelay {
namespace {

std::span<const uint8_t> bytes(std::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

class SessionTest : public testing::Test {
 protected:
  void SetUp() override { ASSERT_GE(sodium_init(), 0); }
  Identity requester = generate_identity();
  Identity agent = generate_identity();
};

TEST_F(SessionTest, BothSidesAgreeOnKeysAndPayloadsAndTheAgentLearnsTheRequesterKey) {
  auto init = InitiatorHandshake::start(requester, agent.public_key, bytes("request"));
  ASSERT_TRUE(init.ok());
  auto resp = ResponderHandshake::read(agent, init->message1());
  ASSERT_TRUE(resp.ok());
  EXPECT_EQ(resp->requester_key(), requester.public_key);
  EXPECT_EQ(std::string(resp->request().begin(), resp->request().end()), "request");
  auto reply = resp->answer(bytes("answer"));
  ASSERT_TRUE(reply.ok());
  auto done = init->finish(reply->message2);
  ASSERT_TRUE(done.ok());
  EXPECT_EQ(std::string(done->payload.begin(), done->payload.end()), "answer");
  EXPECT_EQ(done->keys.handshake_hash, reply->keys.handshake_hash);
  EXPECT_EQ(sodium_memcmp(done->keys.frame_key.data(), reply->keys.frame_key.data(), 32), 0);
}

TEST_F(SessionTest, TheRequestIsNotVisibleInMessageOne) {
  std::string marker = "/secret/path/marker-7f3a";
  auto init = InitiatorHandshake::start(requester, agent.public_key, bytes(marker));
  ASSERT_TRUE(init.ok());
  std::string wire(init->message1().begin(), init->message1().end());
  EXPECT_EQ(wire.find(marker), std::string::npos);
  std::string pub(requester.public_key.begin(), requester.public_key.end());
  EXPECT_EQ(wire.find(pub), std::string::npos) << "the requester's static key must travel encrypted";
}

TEST_F(SessionTest, MessageOneForAnotherAgentKeyIsRefused) {
  Identity other = generate_identity();
  auto init = InitiatorHandshake::start(requester, other.public_key, bytes("r"));
  ASSERT_TRUE(init.ok());
  EXPECT_FALSE(ResponderHandshake::read(agent, init->message1()).ok());
}

TEST_F(SessionTest, AnswerFromAnotherKeyIsRefused) {
  // The relay swaps the agent: it answers message 1 with its own key.
  Identity impostor = generate_identity();
  auto init = InitiatorHandshake::start(requester, agent.public_key, bytes("r"));
  ASSERT_TRUE(init.ok());
  auto init_to_impostor = InitiatorHandshake::start(requester, impostor.public_key, bytes("r"));
  auto resp = ResponderHandshake::read(impostor, init_to_impostor->message1());
  ASSERT_TRUE(resp.ok());
  auto reply = resp->answer(bytes("a"));
  ASSERT_TRUE(reply.ok());
  auto done = init->finish(reply->message2);
  ASSERT_FALSE(done.ok());
  EXPECT_EQ(done.error().code, "handshake_failed");
}

TEST_F(SessionTest, AnswerToAnotherMessageOneIsRefused) {
  auto first = InitiatorHandshake::start(requester, agent.public_key, bytes("one"));
  auto second = InitiatorHandshake::start(requester, agent.public_key, bytes("two"));
  auto resp = ResponderHandshake::read(agent, second->message1());
  auto reply = resp->answer(bytes("a"));
  EXPECT_FALSE(first->finish(reply->message2).ok());
}

TEST_F(SessionTest, EveryFlippedBitInEitherMessageIsRefused) {
  auto init = InitiatorHandshake::start(requester, agent.public_key, bytes("request"));
  const noise::Bytes msg1 = init->message1();
  for (size_t i = 0; i < msg1.size(); ++i) {
    noise::Bytes bad = msg1;
    bad[i] ^= 0x01;
    EXPECT_FALSE(ResponderHandshake::read(agent, bad).ok()) << "message 1 byte " << i;
  }
  auto resp = ResponderHandshake::read(agent, msg1);
  auto reply = resp->answer(bytes("answer"));
  for (size_t i = 0; i < reply->message2.size(); ++i) {
    auto fresh = InitiatorHandshake::start(requester, agent.public_key, bytes("request"));
    auto r = ResponderHandshake::read(agent, fresh->message1());
    auto m2 = r->answer(bytes("answer"))->message2;
    m2[i] ^= 0x80;
    EXPECT_FALSE(fresh->finish(m2).ok()) << "message 2 byte " << i;
  }
}

TEST_F(SessionTest, TruncatedAndEmptyMessagesAreRefused) {
  auto init = InitiatorHandshake::start(requester, agent.public_key, bytes("request"));
  const noise::Bytes& msg1 = init->message1();
  for (size_t n : {size_t{0}, size_t{1}, size_t{31}, size_t{32}, size_t{80}, msg1.size() - 1}) {
    EXPECT_FALSE(ResponderHandshake::read(agent, std::span(msg1).first(n)).ok()) << n;
  }
  EXPECT_FALSE(init->finish({}).ok());
}

TEST_F(SessionTest, AFailedAnswerCannotBeRetriedOnTheSameHandshake) {
  auto init = InitiatorHandshake::start(requester, agent.public_key, bytes("r"));
  auto resp = ResponderHandshake::read(agent, init->message1());
  auto reply = resp->answer(bytes("a"));
  noise::Bytes bad = reply->message2;
  bad.back() ^= 1;
  EXPECT_FALSE(init->finish(bad).ok());
  EXPECT_FALSE(init->finish(reply->message2).ok()) << "a poisoned handshake must stay failed";
}

TEST_F(SessionTest, EachHandshakeGivesFreshKeys) {
  auto run = [&] {
    auto init = InitiatorHandshake::start(requester, agent.public_key, bytes("r"));
    auto resp = ResponderHandshake::read(agent, init->message1());
    return std::move(resp->answer(bytes("a"))->keys);
  };
  TransferKeys a = run(), b = run();
  EXPECT_NE(a.handshake_hash, b.handshake_hash);
  EXPECT_NE(sodium_memcmp(a.frame_key.data(), b.frame_key.data(), 32), 0);
}

}  // namespace
}  // namespace sealrelay
