#include "relay/tokens.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>

#include "base/ids.h"
#include "tests/support/support.h"

namespace sealrelay::relay {
namespace {

using namespace std::chrono_literals;

TEST(Tokens, AnAgentTokenVerifiesAsItsAgentAndTheFileKeepsOnlyItsHash) {
  test::TempDir dir;
  std::string path = dir.path() + "/sub/tokens.json";
  auto t = token_file::add_agent(path, "shop-1");
  ASSERT_TRUE(t.ok()) << t.error().message;
  EXPECT_TRUE(t->starts_with("srt_"));
  EXPECT_EQ(t->size(), 4u + 16 + 1 + 64);
  std::string text = test::read_file(path);
  EXPECT_EQ(text.find(t->substr(21)), std::string::npos) << "the secret is not stored";
  struct stat st{};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  TokenVerifier v(path);
  ASSERT_TRUE(v.load().ok());
  auto p = v.verify(*t);
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->kind, TokenKind::agent);
  EXPECT_EQ(p->agent, "shop-1");
  EXPECT_EQ(p->token_id, *token_id_of(*t));
}

TEST(Tokens, ARequesterTokenCarriesItsScope) {
  test::TempDir dir;
  std::string path = dir.path() + "/tokens.json";
  auto some = token_file::add_requester(path, "ops", {"a", "b"});
  auto all = token_file::add_requester(path, "admin", {"*"});
  ASSERT_TRUE(some.ok() && all.ok());
  TokenVerifier v(path);
  ASSERT_TRUE(v.load().ok());
  auto p = v.verify(*some);
  ASSERT_TRUE(p.ok());
  EXPECT_TRUE(p->sees("a"));
  EXPECT_FALSE(p->sees("c"));
  EXPECT_TRUE(v.verify(*all)->sees("anything"));
  EXPECT_FALSE(token_file::add_requester(path, "x", {}).ok());
  EXPECT_FALSE(token_file::add_requester(path, "x", {"bad id!"}).ok());
  EXPECT_FALSE(token_file::add_agent(path, "../etc").ok());
}

// base/ids.h is the one agent-id grammar: `token add-agent`, a requester's
// scope and the tokens file all go by it.
TEST(Tokens, AnAgentIdOutsideTheGrammarIsRefusedWhereverItIsMade) {
  test::TempDir dir;
  std::string path = dir.path() + "/tokens.json";
  for (const std::string& bad : std::vector<std::string>{"..", ".", "-x", "a b", std::string(65, 'a'), "", "a/b", std::string("a\0b", 3)}) {
    SCOPED_TRACE(bad);
    auto a = token_file::add_agent(path, bad);
    ASSERT_FALSE(a.ok());
    EXPECT_NE(a.error().message.find(ids::kAgentIdRule), std::string::npos) << a.error().message;
    auto r = token_file::add_requester(path, "ops", {"shop-1", bad});
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.error().message.find(ids::kAgentIdRule), std::string::npos) << r.error().message;
  }
  EXPECT_TRUE(token_file::add_agent(path, std::string(64, 'a')).ok());
  EXPECT_TRUE(token_file::add_agent(path, "9.shop_1-x").ok());

  // An entry written by hand (or by an older relay): that token alone is
  // refused, the others work, `token revoke` removes it.
  auto good = token_file::add_agent(path, "shop-1");
  auto dots = token_file::add_agent(path, "will-be-dots");
  auto scoped = token_file::add_requester(path, "ops", {"shop-1", "will-be-dash"});
  ASSERT_TRUE(good.ok() && dots.ok() && scoped.ok());
  std::string text = test::read_file(path);
  for (auto [from, to] : {std::pair{"\"will-be-dots\"", "\"..\""}, std::pair{"\"will-be-dash\"", "\"-x\""}}) {
    auto at = text.find(from);
    ASSERT_NE(at, std::string::npos);
    text.replace(at, std::string(from).size(), to);
  }
  std::ofstream(path) << text;
  auto recs = token_file::load(path);
  ASSERT_TRUE(recs.ok()) << recs.error().message;
  size_t defects = 0;
  for (auto& r : *recs) defects += !r.defect.empty();
  EXPECT_EQ(defects, 2u);
  TokenVerifier v(path);
  ASSERT_TRUE(v.load().ok()) << "one bad entry does not stop the relay";
  EXPECT_TRUE(v.verify(*good).ok());
  EXPECT_FALSE(v.verify(*dots).ok());
  EXPECT_FALSE(v.verify(*scoped).ok());
  EXPECT_TRUE(token_file::revoke(path, *token_id_of(*dots)).ok());
  EXPECT_TRUE(token_file::revoke(path, *token_id_of(*scoped)).ok());
  EXPECT_EQ(token_file::load(path)->size(), recs->size() - 2);
}

// The server ends what a revoked token opened: the verifier tells it which.
TEST(Tokens, TheVerifierHandsOverEveryRevokedTokenIdOnce) {
  test::TempDir dir;
  std::string path = dir.path() + "/tokens.json";
  auto a = token_file::add_agent(path, "shop-1");
  auto b = token_file::add_agent(path, "shop-2");
  TokenVerifier v(path, 0ms);
  ASSERT_TRUE(v.load().ok());
  EXPECT_TRUE(v.take_revoked().empty());
  ASSERT_TRUE(token_file::revoke(path, *token_id_of(*a)).ok());
  std::vector<std::string> revoked;
  ASSERT_TRUE(test::wait_until([&] { revoked = v.take_revoked(); return !revoked.empty(); }, 5s));
  EXPECT_EQ(revoked, std::vector<std::string>{*token_id_of(*a)});
  EXPECT_FALSE(v.holds(*token_id_of(*a)));
  EXPECT_TRUE(v.holds(*token_id_of(*b)));
  EXPECT_TRUE(v.take_revoked().empty());
}

TEST(Tokens, MalformedUnknownAndTamperedTokensAreRefused) {
  test::TempDir dir;
  std::string path = dir.path() + "/tokens.json";
  auto t = token_file::add_agent(path, "shop-1");
  TokenVerifier v(path);
  ASSERT_TRUE(v.load().ok());
  std::string tampered = *t;
  tampered.back() = tampered.back() == 'a' ? 'b' : 'a';
  for (std::string bad : {std::string(""), std::string("srt_"), t->substr(0, t->size() - 1),
                          *t + "0", tampered, "srt_0123456789abcdef_" + std::string(64, '0'),
                          "SRT" + t->substr(3)}) {
    auto r = v.verify(bad);
    EXPECT_FALSE(r.ok()) << bad;
    if (!r.ok()) {
      EXPECT_EQ(r.error().code, "unauthorized");
    }
  }
}

TEST(Tokens, RevocationIsSeenByARunningVerifier) {
  test::TempDir dir;
  std::string path = dir.path() + "/tokens.json";
  auto t = token_file::add_agent(path, "shop-1");
  TokenVerifier v(path, 0ms);
  ASSERT_TRUE(v.load().ok());
  ASSERT_TRUE(v.verify(*t).ok());
  ASSERT_TRUE(token_file::revoke(path, *token_id_of(*t)).ok());
  EXPECT_TRUE(test::wait_until([&] { return !v.verify(*t).ok(); }, 5s));
  EXPECT_EQ(token_file::revoke(path, "0000000000000000").error().code, "not_found");
}

TEST(Tokens, AnAbsentFileIsEmptyAndABrokenOneIsAnError) {
  test::TempDir dir;
  TokenVerifier absent(dir.path() + "/none.json");
  EXPECT_TRUE(absent.load().ok());
  EXPECT_EQ(absent.size(), 0u);
  std::string path = dir.path() + "/broken.json";
  std::ofstream(path) << "{not json";
  TokenVerifier broken(path);
  EXPECT_FALSE(broken.load().ok());
}

}  // namespace
}  // namespace sealrelay::relay
