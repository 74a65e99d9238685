#include "crypto/keys.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>

namespace sealrelay {
namespace {

namespace fs = std::filesystem;

class KeysTest : public testing::Test {
 protected:
  void SetUp() override {
    ASSERT_GE(sodium_init(), 0);
    char tmpl[] = "/tmp/sealrelay-keys-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir = tmpl;
  }
  void TearDown() override { fs::remove_all(dir); }

  void write(const fs::path& p, const std::string& text, mode_t mode = 0600) {
    std::ofstream(p) << text;
    ASSERT_EQ(chmod(p.c_str(), mode), 0);
  }

  fs::path dir;
};

TEST_F(KeysTest, SavedIdentityLoadsBackWithMode0600) {
  Identity id = generate_identity();
  fs::path p = dir / "state" / "identity.key";
  ASSERT_TRUE(save_identity(p, id).ok());
  struct stat st {};
  ASSERT_EQ(stat(p.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  ASSERT_EQ(stat(p.parent_path().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  auto loaded = load_identity(p);
  ASSERT_TRUE(loaded.ok()) << loaded.error().message;
  EXPECT_EQ(loaded->public_key, id.public_key);
  EXPECT_EQ(sodium_memcmp(loaded->private_key.data(), id.private_key.data(), 32), 0);
  EXPECT_TRUE(fs::is_empty(p.parent_path()) == false);
  for (auto& e : fs::directory_iterator(p.parent_path())) EXPECT_EQ(e.path().filename(), "identity.key");
}

TEST_F(KeysTest, SaveRefusesToReplaceAnExistingIdentityUnlessAsked) {
  fs::path p = dir / "identity.key";
  Identity first = generate_identity(), second = generate_identity();
  ASSERT_TRUE(save_identity(p, first).ok());
  auto again = save_identity(p, second);
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().code, "key_exists");
  EXPECT_EQ(load_identity(p)->public_key, first.public_key);
  ASSERT_TRUE(save_identity(p, second, /*overwrite=*/true).ok());
  EXPECT_EQ(load_identity(p)->public_key, second.public_key);
}

TEST_F(KeysTest, MissingFileSaysHowToCreateOne) {
  auto r = load_identity(dir / "nope.key");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, "key_missing");
  EXPECT_NE(r.error().message.find("init"), std::string::npos);
}

class KeysTooOpen : public KeysTest, public testing::WithParamInterface<mode_t> {};

TEST_P(KeysTooOpen, AreRefusedWithTheChmodToRun) {
  fs::path p = dir / "identity.key";
  ASSERT_TRUE(save_identity(p, generate_identity()).ok());
  ASSERT_EQ(chmod(p.c_str(), GetParam()), 0);
  auto r = load_identity(p);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, "key_permissions");
  EXPECT_NE(r.error().message.find("chmod 600"), std::string::npos);
}

INSTANTIATE_TEST_SUITE_P(Modes, KeysTooOpen, testing::Values(0644, 0640, 0604, 0660, 0606, 0666, 0610));

TEST_F(KeysTest, SymlinksAndDirectoriesAreRefused) {
  fs::path p = dir / "identity.key";
  ASSERT_TRUE(save_identity(p, generate_identity()).ok());
  fs::create_symlink(p, dir / "link.key");
  EXPECT_FALSE(load_identity(dir / "link.key").ok());
  fs::create_directory(dir / "d.key");
  chmod((dir / "d.key").c_str(), 0700);
  EXPECT_FALSE(load_identity(dir / "d.key").ok());
}

class KeysMalformed : public KeysTest, public testing::WithParamInterface<std::string> {};

TEST_P(KeysMalformed, AreRefused) {
  fs::path p = dir / "identity.key";
  write(p, GetParam());
  auto r = load_identity(p);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, "key_malformed");
}

// A real key pair for building malformed variants around it.
// Runs while parameters are generated, before any SetUp(): initialise here.
std::string good_pub() {
  if (sodium_init() < 0) std::abort();
  static Identity id = generate_identity();
  return encode_public_key(id.public_key);
}

INSTANTIATE_TEST_SUITE_P(
    Contents, KeysMalformed,
    testing::Values(std::string(""), std::string("# only a comment\n"), std::string("public=abc\nprivate=abc\n"),
                    std::string("private=AAAA\n"),
                    // 43 chars of base64 is one short.
                    std::string("private=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n"),
                    // A valid private key with a public key that is not its own.
                    "public=" + good_pub() + "\nprivate=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n",
                    std::string("private=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n"),  // no public line
                    std::string("garbage line\n"), std::string(5000, 'a')));

TEST_F(KeysTest, PublicKeyTextRoundTripsAndRejectsWrongLengths) {
  Identity id = generate_identity();
  auto text = encode_public_key(id.public_key);
  EXPECT_EQ(text.size(), 44u);
  EXPECT_EQ(decode_public_key(text), id.public_key);
  EXPECT_FALSE(decode_public_key(text.substr(0, 43)));
  EXPECT_FALSE(decode_public_key(text + "A"));
  EXPECT_FALSE(decode_public_key(""));
  EXPECT_FALSE(decode_public_key(std::string(44, '!')));
}

}  // namespace
}  // namespace sealrelay
