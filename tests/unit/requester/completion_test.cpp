// packaging/completion/sealrelay, the CLI's bash completion, run by a real
// bash against the real `sealrelay --help`: every subcommand and every flag
// the help lists is offered, nothing else, and sources complete only from
// pinned agent ids that follow the agent-id rule (a hostile known_agents line
// is never offered, let alone run).
#include <gtest/gtest.h>

#include <fstream>
#include <regex>
#include <set>
#include <sstream>

#include "tests/support/support.h"

namespace sealrelay::test {
namespace {

const std::string kCompletion = std::string(SEALRELAY_SOURCE_DIR) + "/packaging/completion/sealrelay";

std::string help(const std::vector<std::string>& args) {
  TempDir dir;
  std::vector<std::string> argv = {binary("requester/sealrelay")};
  argv.insert(argv.end(), args.begin(), args.end());
  argv.push_back("--help");
  return run_logged(argv, dir.path() + "/help.log").output;
}

// What the completion offers for the words typed so far (the last one is
// the word being completed), one per line.
std::set<std::string> complete(const std::vector<std::string>& words, const std::string& home = "/nonexistent") {
  TempDir dir;
  std::ostringstream script;
  script << "source '" << kCompletion << "'\nCOMP_WORDS=(";
  for (const auto& w : words) script << "'" << w << "' ";
  script << ")\nCOMP_CWORD=" << words.size() - 1 << "\n_sealrelay\nprintf '%s\\n' \"${COMPREPLY[@]}\"\n";
  std::ofstream(dir.path() + "/run.sh") << script.str();
  auto run = run_logged({"/bin/bash", dir.path() + "/run.sh"}, dir.path() + "/log", {"SEALRELAY_HOME=" + home});
  std::set<std::string> out;
  std::istringstream lines(run.output);
  for (std::string line; std::getline(lines, line);) {
    if (!line.empty() && line.find("compopt") == std::string::npos) out.insert(line);
  }
  return out;
}

std::set<std::string> long_flags(const std::string& help_text) {
  std::set<std::string> out;
  std::string options = help_text.substr(help_text.find("Options:"));
  options = options.substr(0, options.find("\n\n"));
  static const std::regex flag(R"((?:^|\n)\s+(?:-[a-zA-Z],)?(--[a-z][a-z-]*))");
  for (std::sregex_iterator it(options.begin(), options.end(), flag), end; it != end; ++it) out.insert((*it)[1]);
  return out;
}

std::set<std::string> subcommands() {
  std::string text = help({});
  std::string list = text.substr(text.find("Subcommands:"));
  list = list.substr(0, list.find("\n\n"));
  std::set<std::string> out;
  static const std::regex name(R"(\n  ([a-z][a-z-]*)\s)");
  for (std::sregex_iterator it(list.begin(), list.end(), name), end; it != end; ++it) out.insert((*it)[1]);
  return out;
}

TEST(Completion, EverySubcommandTheHelpListsIsOfferedAndNothingElse) {
  auto listed = subcommands();
  ASSERT_GE(listed.size(), 5u);
  EXPECT_EQ(complete({"sealrelay", ""}), listed);
  EXPECT_EQ(complete({"sealrelay", "--json", "k"}), (std::set<std::string>{"keygen", "known-agents"}));
}

TEST(Completion, TheGlobalFlagsAreTheHelpsFlags) {
  EXPECT_EQ(complete({"sealrelay", "--"}), long_flags(help({})));
}

TEST(Completion, EachSubcommandsFlagsAreItsHelpsFlags) {
  for (const auto& command : subcommands()) {
    EXPECT_EQ(complete({"sealrelay", "--url", "https://relay", command, "--"}), long_flags(help({command})))
        << command;
  }
}

TEST(Completion, SourcesCompleteFromPinnedIdsThatFollowTheIdRuleOnly) {
  TempDir home;
  {
    std::ofstream pins(home.path() + "/known_agents");
    pins << "# pinned\n"
         << "shop-1 AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA= # FP\n"
         << "shop-2 AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n"
         << "../evil AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n"
         << "$(touch${IFS}" << home.path() << "/ran) AAAA=\n"
         << "-rf AAAA=\n";
  }
  EXPECT_EQ(complete({"sealrelay", "get", "sh"}, home.path()), (std::set<std::string>{"shop-1:", "shop-2:"}));
  EXPECT_EQ(complete({"sealrelay", "ls", ""}, home.path()), (std::set<std::string>{"shop-1:", "shop-2:"}));
  EXPECT_EQ(complete({"sealrelay", "known-agents", "--remove", ""}, home.path()),
            (std::set<std::string>{"shop-1", "shop-2"}));
  EXPECT_TRUE(complete({"sealrelay", "get", "shop-1:/ex"}, home.path()).empty());  // the path is the agent's
  EXPECT_FALSE(std::ifstream(home.path() + "/ran").good()) << "a known_agents line was run by the completion";
}

}  // namespace
}  // namespace sealrelay::test
