// The requester against a relay that lies about what the CLI turns into
// names, pins and URLs (issue 15): agent ids in the directory, and the
// transfers it leaves behind after a failure. The real relay, agent and
// CLI, with tests/security/lying_relay.h in the middle.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <httplib.h>
#include <regex>

#include "crypto/keys.h"
#include "tests/security/lying_relay.h"
#include "tests/support/deployment.h"

namespace sealrelay::test {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

class RequesterAgainstALyingRelay : public testing::Test {
 protected:
  void SetUp() override {
    auto s = Deployment::start_one_relay(Deployment::Store::kMemory);
    ASSERT_TRUE(s.ok()) << s.error().message;
    sys = std::move(*s);
    ASSERT_TRUE(sys->start_agent_online("prod-agent").ok());
    std::ofstream(sys->share("prod-agent") + "/notes.txt") << "the real notes\n";
    write_random_file(sys->share("prod-agent") + "/ledger.bin", 4 * protocol::kDefaultChunkBytes + 1000, 81);
    // The pin every lie below must leave alone.
    auto pinned = sys->cli({"stat", "prod-agent:/demo/notes.txt"});
    ASSERT_EQ(pinned.exit_code, 0) << pinned.output;
    liar = std::make_unique<LyingRelay>(sys->port());
  }

  // Every file under `root`, relative, sorted.
  static std::vector<std::string> tree(const std::string& root) {
    std::vector<std::string> out;
    for (const auto& e : fs::recursive_directory_iterator(root)) out.push_back(fs::relative(e.path(), root).string());
    std::sort(out.begin(), out.end());
    return out;
  }

  std::unique_ptr<Deployment> sys;
  std::unique_ptr<LyingRelay> liar;
};

// Ids a relay can put in its directory that are not agent ids: one that
// would add a second pin line for prod-agent with the relay's key, ones that
// lead out of -o, one that clears the terminal, prod-agent twice with another
// key, and an entry whose key is a number. The CLI refuses each when it receives the list, says so with the id
// escaped, does the rest, and exits 5: nothing outside -o, the pin as it
// was, no escape byte on the terminal.
TEST_F(RequesterAgainstALyingRelay, DirectoryIdsOutsideTheGrammarAreRefusedAndNeverUsed) {
  Identity impostor = generate_identity();
  const std::string key = encode_public_key(impostor.public_key);
  liar->rewrite_agents = [&](json& dir) {
    for (std::string id : {"prod-agent " + key, std::string(".."), std::string("../../x"), std::string("/abs"),
                           std::string("\x1b[2J"), std::string("prod-agent")}) {
      dir["agents"].push_back(json{{"id", id}, {"public_key", key}, {"online", true}, {"last_seen", 0}});
    }
    dir["agents"].push_back(json{{"id", "typed"}, {"public_key", 7}});  // a field a reader could trip over
  };
  const std::string known = sys->cli_home() + "/known_agents";
  const std::string pins_before = read_file(known);
  const std::string work = sys->dir() + "/work";
  fs::create_directories(work + "/out");

  auto r = sys->cli({"--url", liar->url(), "get", "--all-agents", "/demo/notes.txt", "-o", work + "/out"});
  EXPECT_EQ(r.exit_code, 5) << r.output;
  EXPECT_EQ(read_file(work + "/out/prod-agent/notes.txt"), "the real notes\n") << r.output;
  EXPECT_EQ(tree(work), (std::vector<std::string>{"out", "out/prod-agent", "out/prod-agent/notes.txt"}))
      << "something was written outside -o (or under a refused id)";
  EXPECT_FALSE(fs::exists("/abs/notes.txt"));
  EXPECT_FALSE(fs::exists(sys->dir() + "/x"));
  EXPECT_EQ(read_file(known), pins_before) << "the directory changed known_agents";
  EXPECT_EQ(r.output.find('\x1b'), std::string::npos) << "a raw escape byte reached the terminal";
  for (const std::string& shown : {"\"prod-agent " + key + "\"", std::string("\"..\""), std::string("\"../../x\""),
                                   std::string("\"/abs\""), std::string("\"\\x1b[2J\""),
                                   std::string("agent \"prod-agent\" a second time"),
                                   std::string("agent \"typed\" with a field of the wrong type")}) {
    EXPECT_NE(r.output.find(shown), std::string::npos) << "expected " << shown << " in:\n" << r.output;
  }
  EXPECT_NE(r.output.find("breaks the id rule"), std::string::npos) << r.output;
  size_t said = 0;
  for (size_t at = 0; (at = r.output.find("agent id \"..\"", at)) != std::string::npos; ++at) ++said;
  EXPECT_EQ(said, 1u) << "each refusal is said once per run:\n" << r.output;

  // `agents` refuses the same entries, lists the real one, exits 5.
  auto agents = sys->cli({"--url", liar->url(), "agents"});
  EXPECT_EQ(agents.exit_code, 5) << agents.output;
  EXPECT_NE(agents.output.find("prod-agent "), std::string::npos) << agents.output;
  EXPECT_NE(agents.output.find("\"\\x1b[2J\""), std::string::npos) << agents.output;
  EXPECT_EQ(agents.output.find('\x1b'), std::string::npos) << agents.output;

  // The pin still decides where message 1 goes: straight to the relay, the
  // real agent answers.
  EXPECT_EQ(read_file(known), pins_before);
  auto again = sys->cli({"get", "prod-agent:/demo/notes.txt", "-o", work + "/again.txt"});
  EXPECT_EQ(again.exit_code, 0) << again.output;
}

// --expect-fingerprint holds for a pinned agent too: a fingerprint other
// than the pin's is refused before anything is requested (exit 5).
TEST_F(RequesterAgainstALyingRelay, AnExpectedFingerprintIsCheckedAgainstThePin) {
  const std::string other = fingerprint_of(generate_identity().public_key);
  auto r = sys->cli({"--url", liar->url(), "get", "--expect-fingerprint", other, "prod-agent:/demo/notes.txt", "-o",
                     sys->dir() + "/notes.txt"});
  EXPECT_EQ(r.exit_code, 5) << r.output;
  EXPECT_NE(r.output.find("not the " + other + " you expected"), std::string::npos) << r.output;
  EXPECT_EQ(liar->transfer_posts(), 0);
  EXPECT_FALSE(fs::exists(sys->dir() + "/notes.txt"));
  std::smatch pin;
  const std::string known = read_file(sys->cli_home() + "/known_agents");
  ASSERT_TRUE(std::regex_search(known, pin, std::regex("prod-agent \\S+ # (\\S+)")));
  auto same = sys->cli({"--url", liar->url(), "get", "--expect-fingerprint", pin[1].str(),
                        "prod-agent:/demo/notes.txt", "-o", sys->dir() + "/notes.txt"});
  EXPECT_EQ(same.exit_code, 0) << same.output;
}

// After an integrity failure the CLI cancels the transfer at the relay
// (DELETE /v1/transfers/{tid}): the relay drops its frames and frees the
// agent's slot now, not at its timeouts.
TEST_F(RequesterAgainstALyingRelay, ATamperedTransferIsCancelledAtTheRelay) {
  liar->rewrite_events = [](const std::string&, sse::Event e, const LyingRelay::Emit& emit) {
    if (e.name == "frame" && e.id == "3") {
      char& c = e.data[e.data.size() / 2];
      c = c == 'A' ? 'B' : 'A';
    }
    emit(e);
  };
  fs::create_directories(sys->dir() + "/out");
  auto r = sys->cli({"--url", liar->url(), "get", "prod-agent:/demo/ledger.bin", "-o", sys->dir() + "/out/l.bin"});
  EXPECT_EQ(r.exit_code, 5) << r.output;
  auto created = liar->created();
  ASSERT_EQ(created.size(), 1u);
  httplib::Client relay("127.0.0.1", sys->port());
  httplib::Headers auth = {{"Authorization", "Bearer " + created[0].token}};
  std::string state;
  EXPECT_TRUE(wait_until(
      [&] {
        auto res = relay.Get("/v1/transfers/" + created[0].transfer_id, auth);
        if (!res || res->status != 200) return false;
        state = json::parse(res->body).value("state", "");
        return state == "cancelled";
      },
      20s))
      << "the transfer is " << state << ", not cancelled";
}

}  // namespace
}  // namespace sealrelay::test
