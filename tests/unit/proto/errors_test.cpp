#include "proto/errors.h"

#include <gtest/gtest.h>

#include <map>
#include <set>
#include <string>

namespace sealrelay::errors {
namespace {

TEST(Errors, EveryCodeHasOneUniqueNameInTheGrammar) {
  std::set<std::string_view> names;
  for (const Info& i : table()) {
    EXPECT_TRUE(well_formed(i.name)) << i.name;
    EXPECT_TRUE(names.insert(i.name).second) << "duplicate " << i.name;
    EXPECT_FALSE(i.meaning.empty()) << i.name;
    EXPECT_NE(i.via, 0) << i.name << " is seen nowhere";
  }
}

TEST(Errors, TheRelaysStatusesAreTheDocumentedOnes) {
  // docs/api.md §Errors; the contract test checks the document itself.
  const std::map<std::string_view, int> documented = {
      {"bad_request", 400},   {"unauthorized", 401},     {"forbidden", 403},   {"not_found", 404},
      {"unknown_agent", 404}, {"unknown_transfer", 404}, {"conflict", 409},    {"agent_offline", 409},
      {"length_required", 411}, {"too_large", 413},      {"rate_limited", 429}, {"overloaded", 503},
      {"store_unavailable", 503}};
  std::map<std::string_view, int> statuses;
  for (const Info& i : table()) {
    if (auto s = http_status(i.code)) statuses[i.name] = *s;
    EXPECT_EQ(http_status(i.code).has_value(), (i.via & kStatus) != 0) << i.name;
  }
  EXPECT_EQ(statuses, documented);
}

TEST(Errors, EndToEndCodesNeverTravelAsAStatus) {
  for (ErrorCode c : {ErrorCode::tampered, ErrorCode::trailer_mismatch, ErrorCode::changed, ErrorCode::replayed,
                      ErrorCode::network, ErrorCode::expired, ErrorCode::cancelled}) {
    EXPECT_EQ(http_status(c), std::nullopt) << name(c);
  }
}

TEST(Errors, ParseRoundTripsEveryName) {
  for (const Info& i : table()) {
    auto c = parse(i.name);
    ASSERT_TRUE(c.has_value()) << i.name;
    EXPECT_EQ(*c, i.code);
    EXPECT_EQ(name(*c), i.name);
    EXPECT_TRUE(is(make_error(i.code, "m"), i.code));
  }
}

TEST(Errors, UnknownCodesAreNotParsedButStayShowable) {
  const std::string_view texts[] = {"", "Bad_Request", "bad_request ", "no_such_code", "bad\nrequest",
                                    std::string_view("not_found\0x", 11)};
  for (std::string_view text : texts) {
    EXPECT_EQ(parse(text), std::nullopt) << shown(text);
  }
  EXPECT_FALSE(is(Error{"no_such_code", ""}, ErrorCode::not_found));
  EXPECT_EQ(shown("no_such_code"), "no_such_code");
  EXPECT_EQ(shown("a\x1b[2Jb\"\\"), "\"a\\x1b[2Jb\\x22\\x5c\"");
  EXPECT_EQ(shown(std::string(65, 'a')), "\"" + std::string(65, 'a') + "\"");
}

TEST(Errors, TheGrammarIsThatOfTheRelay) {
  EXPECT_TRUE(well_formed("a"));
  EXPECT_TRUE(well_formed(std::string(64, 'z')));
  EXPECT_TRUE(well_formed("code_2"));
  EXPECT_FALSE(well_formed(""));
  EXPECT_FALSE(well_formed(std::string(65, 'z')));
  EXPECT_FALSE(well_formed("A"));
  EXPECT_FALSE(well_formed("a-b"));
  EXPECT_FALSE(well_formed("a b"));
}

}  // namespace
}  // namespace sealrelay::errors
