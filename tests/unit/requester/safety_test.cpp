// What the requester refuses locally (issue 15): a known_agents file that is
// not one pin per agent, output paths that leave the output folder, a
// planted .part, and control bytes from the network on the terminal.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "requester/known_agents.h"
#include "requester/output_path.h"
#include "requester/part_file.h"
#include "requester/terminal.h"

namespace sealrelay::requester {
namespace {

namespace fs = std::filesystem;

class RequesterLocal : public testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/sealrelay-safety-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir = tmpl;
  }
  void TearDown() override { fs::remove_all(dir); }
  std::string read(const fs::path& p) {
    std::ifstream in(p);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }
  fs::path dir;
};

PublicKey key_of(uint8_t b) {
  PublicKey k{};
  k.fill(b);
  return k;
}

// One pin per agent; anything else names the file and line and says how to
// fix it — "later lines win" would let one appended line re-pin an agent.
TEST_F(RequesterLocal, KnownAgentsRefusesMalformedAndDuplicateLinesByLineNumber) {
  fs::path p = dir / "known_agents";
  const std::string a = encode_public_key(key_of(1)), b = encode_public_key(key_of(2));
  struct Case {
    std::string text;
    int line;
    std::string says;
  };
  for (const Case& c : std::vector<Case>{
           {"# c\nprod-agent " + a + " # fp\nprod-agent " + b + "\n", 3, "listed a second time"},
           {"prod-agent " + a + " " + b + "\n", 1, "not a # comment"},
           {"\n.. " + a + "\n", 2, "\"..\" is not an agent id"},
           {"-x " + a + "\n", 1, "is not an agent id"},
           {"prod-agent\n", 1, "not a base64 X25519 public key"},
           {"prod-agent " + encode_public_key(key_of(0)) + "\n", 1, "not a base64 X25519 public key"},
       }) {
    std::ofstream(p, std::ios::trunc) << c.text;
    auto k = KnownAgents::load(p);
    ASSERT_FALSE(k.ok()) << c.text;
    EXPECT_EQ(k.error().code, "config");
    const std::string& m = k.error().message;
    EXPECT_NE(m.find(p.string() + ":" + std::to_string(c.line) + ": "), std::string::npos) << m;
    EXPECT_NE(m.find(c.says), std::string::npos) << m;
    EXPECT_NE(m.find("Fix or delete line " + std::to_string(c.line)), std::string::npos) << m;
  }
  std::ofstream(p, std::ios::trunc) << "# only comments\n\n   \nprod-agent " << a << " # fp\n";
  auto ok = KnownAgents::load(p);
  ASSERT_TRUE(ok.ok()) << ok.error().message;
  EXPECT_EQ(ok->find("prod-agent"), key_of(1));
}

TEST_F(RequesterLocal, KnownAgentsWritesNoPinForAMalformedIdOrKey) {
  fs::path p = dir / "known_agents";
  auto k = KnownAgents::load(p);
  ASSERT_TRUE(k.ok());
  ASSERT_TRUE(k->pin("prod-agent", key_of(1)).ok());
  const std::string before = read(p);
  for (const std::string& id : {std::string("prod-agent ") + encode_public_key(key_of(2)), std::string(".."),
                                std::string("../../x"), std::string("/abs"), std::string("\x1b[2J"), std::string()}) {
    auto r = k->pin(id, key_of(2));
    EXPECT_FALSE(r.ok()) << id;
    EXPECT_EQ(r.error().message.find('\x1b'), std::string::npos);
  }
  EXPECT_FALSE(k->pin("other", key_of(0)).ok());
  EXPECT_EQ(read(p), before);
  EXPECT_EQ(KnownAgents::load(p)->all().size(), 1u);
  for (const auto& e : fs::directory_iterator(dir)) EXPECT_EQ(e.path(), p) << "a temporary file was left";
}

TEST_F(RequesterLocal, OutputPathsStayUnderTheOutputFolder) {
  fs::path out = dir / "out";
  fs::create_directories(out);
  auto ok = path_under(out, fs::path("prod-agent") / "notes.txt", true);
  ASSERT_TRUE(ok.ok()) << ok.error().message;
  EXPECT_EQ(*ok, out / "prod-agent" / "notes.txt");
  EXPECT_TRUE(fs::is_directory(out / "prod-agent"));
  EXPECT_TRUE(path_under(out, "notes.txt", false).ok());
  EXPECT_TRUE(path_under(dir / "out/", "notes.txt", false).ok());

  for (const fs::path& bad : {fs::path(".."), fs::path("../notes.txt"), fs::path("../../x/notes.txt"),
                              fs::path("a/../../notes.txt"), fs::path("/abs/notes.txt"), fs::path("/"),
                              fs::path("."), fs::path("")}) {
    auto r = path_under(out, bad, true);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.error().code, "unsafe_path") << bad;
  }
  EXPECT_FALSE(fs::exists(dir / "x"));
  EXPECT_FALSE(fs::exists(dir / "a"));

  // A symlinked folder under -o that leads elsewhere is refused, and nothing
  // is created through it.
  fs::create_directories(dir / "elsewhere");
  fs::create_symlink(dir / "elsewhere", out / "linked");
  auto through = path_under(out, fs::path("linked") / "notes.txt", true);
  ASSERT_FALSE(through.ok());
  EXPECT_NE(through.error().message.find("symbolic link"), std::string::npos) << through.error().message;
  auto deeper = path_under(out, fs::path("linked") / "sub" / "notes.txt", true);
  ASSERT_FALSE(deeper.ok());
  EXPECT_FALSE(fs::exists(dir / "elsewhere" / "sub"));
  // One that stays inside is fine; so is an -o that is itself a link.
  fs::create_directories(out / "real");
  fs::create_symlink(out / "real", out / "inside");
  EXPECT_TRUE(path_under(out, fs::path("inside") / "notes.txt", true).ok());
  fs::create_symlink(out, dir / "out-link");
  EXPECT_TRUE(path_under(dir / "out-link", fs::path("prod-agent") / "notes.txt", true).ok());
}

Answer new_file(uint64_t size) {
  Answer a;
  a.ok = true;
  a.size = size;
  a.chunk_size = protocol::kMinChunkBytes;
  a.frames = true;
  return a;
}

// A symlink planted at NAME.part between the checks and the first byte is
// refused, not followed: the file it points to is untouched.
TEST_F(RequesterLocal, APlantedPartSymlinkIsRefusedNotFollowed) {
  fs::path victim = dir / "victim";
  std::ofstream(victim) << "keep me";
  auto sink = PartFile::open(dir / "x", false, false);
  ASSERT_TRUE(sink.ok());
  fs::create_symlink(victim, dir / "x.part");
  auto begun = (*sink)->begin(new_file(3), [](auto) {});
  ASSERT_FALSE(begun.ok());
  EXPECT_EQ(begun.error().code, "part_exists");
  EXPECT_EQ(read(victim), "keep me");

  // --resume does not follow it either.
  auto resumed = PartFile::open(dir / "x", true, false);
  EXPECT_FALSE(resumed.ok());
  EXPECT_EQ(read(victim), "keep me");
}

TEST_F(RequesterLocal, AResumedPartIsContinuedOnlyIfItIsStillARegularFile) {
  fs::path victim = dir / "victim";
  std::ofstream(victim) << "keep me";
  std::ofstream(dir / "x.part") << "ab";
  auto swapped = PartFile::open(dir / "x", true, false);
  ASSERT_TRUE(swapped.ok());
  fs::remove(dir / "x.part");
  fs::create_symlink(victim, dir / "x.part");  // swapped for a link after the checks
  Answer a = new_file(3);
  a.offset = 2;
  EXPECT_FALSE((*swapped)->begin(a, [](auto) {}).ok());
  EXPECT_EQ(read(victim), "keep me");
  fs::remove(dir / "x.part");

  std::ofstream(dir / "x.part") << "ab";
  auto held = PartFile::open(dir / "x", true, false);
  ASSERT_TRUE(held.ok());
  EXPECT_EQ((*held)->resume_offset(), 2u);
  std::string prefix;
  ASSERT_TRUE((*held)->begin(a, [&](std::span<const uint8_t> b) { prefix.append(b.begin(), b.end()); }).ok());
  EXPECT_EQ(prefix, "ab");
}

TEST(Terminal, UntrustedTextIsEscapedAndTheCliOwnLinesStay) {
  EXPECT_EQ(escaped("prod-agent"), "prod-agent");
  EXPECT_EQ(escaped("\x1b[2J"), "\\x1b[2J");
  EXPECT_EQ(escaped("a\nb\tc\\"), "a\\nb\\tc\\\\");
  EXPECT_EQ(escaped("\xc2\x9b" "31m"), "\\u{9b}31m");  // CSI as a C1 control
  EXPECT_EQ(escaped("\xff"), "\\xff");
  EXPECT_EQ(escaped("année — ✓"), "année — ✓");
  EXPECT_EQ(printable_lines("@@@ KEY @@@\n  pinned: A\n\x1b[2J"), "@@@ KEY @@@\n  pinned: A\n\\x1b[2J");
}

}  // namespace
}  // namespace sealrelay::requester
