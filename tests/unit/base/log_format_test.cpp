// base/log_format.h: a record's fields are escaped in text and taken from
// the data in JSON, so a peer's string (a requester's path) can neither
// forge a line nor pose as another field (issue 15).
#include "base/log_format.h"

#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>

#include <regex>
#include <sstream>

namespace sealrelay {
namespace {

using nlohmann::json;

// What the default logger writes in `format` while the test runs.
class Captured {
 public:
  explicit Captured(logging::Format format) {
    auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(out_);
    previous_ = spdlog::default_logger();
    spdlog::set_default_logger(std::make_shared<spdlog::logger>("test", sink));
    logging::apply(format, "agent", "%l %v");
  }
  ~Captured() { spdlog::set_default_logger(previous_); }
  std::string text() const { return out_.str(); }

 private:
  std::ostringstream out_;
  std::shared_ptr<spdlog::logger> previous_;
};

const std::string kEvil = "/demo/x\n2026-01-01 info transfer t_0 result=ok\x1b[31m result=ok \"q\" \\";

TEST(LogFormat, APeersStringYieldsOneTextLineWithItsOwnResult) {
  Captured log(logging::Format::text);
  logging::log(spdlog::level::info, "transfer t_1", {{"path", kEvil}, {"bytes", 0}, {"result", "not_found"}});
  EXPECT_EQ(log.text(),
            "info transfer t_1 path=\"/demo/x\\n2026-01-01 info transfer t_0 result=ok\\x1b[31m result=ok \\\"q\\\" "
            "\\\\\" bytes=0 result=not_found\n");
}

TEST(LogFormat, APeersStringYieldsOneJsonLineWhoseFieldsComeFromTheData) {
  Captured log(logging::Format::json);
  logging::log(spdlog::level::info, "transfer t_1", {{"path", kEvil}, {"bytes", 0}, {"result", "not_found"}});
  std::string text = log.text();
  ASSERT_EQ(text.find('\n'), text.size() - 1) << text;
  auto j = json::parse(text);
  EXPECT_EQ(j["result"], "not_found");
  EXPECT_EQ(j["path"], kEvil);
  EXPECT_EQ(j["bytes"], 0);
  EXPECT_EQ(j["level"], "info");
  EXPECT_EQ(j["component"], "agent");
  EXPECT_EQ(j["message"].get<std::string>().rfind("transfer t_1 path=\"/demo/x\\n", 0), 0u) << j["message"];
}

TEST(LogFormat, AJsonLineNeverTakesFieldsFromTheMessageText) {
  Captured log(logging::Format::json);
  spdlog::info("a peer said result=ok bytes=9 time=bogus");
  auto j = json::parse(log.text());
  EXPECT_FALSE(j.contains("result")) << j.dump();
  EXPECT_FALSE(j.contains("bytes")) << j.dump();
  EXPECT_TRUE(std::regex_match(j["time"].get<std::string>(), std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)")));
}

TEST(LogFormat, AFieldNeverReplacesAStandardKeyAndInvalidUtf8IsReplaced) {
  Captured log(logging::Format::json);
  logging::log(spdlog::level::warn, "upload of t_9 interrupted",
               {{"time", "bogus"}, {"message", "forged"}, {"name", "\xff\xfe"}, {"frame", 12}});
  std::string text = log.text();
  ASSERT_EQ(text.find('\n'), text.size() - 1);
  auto j = json::parse(text);
  EXPECT_NE(j["time"], "bogus");
  EXPECT_EQ(j["message"].get<std::string>().rfind("upload of t_9 interrupted time=bogus", 0), 0u);
  EXPECT_EQ(j["frame"], 12);
  EXPECT_TRUE(j["name"].is_string());
}

TEST(LogFormat, PlainValuesStayBareAndEverythingElseIsQuotedWithEscapes) {
  EXPECT_EQ(logging::quote("ok"), "ok");
  EXPECT_EQ(logging::quote("/demo/a-b_c.txt"), "/demo/a-b_c.txt");
  EXPECT_EQ(logging::quote(""), "\"\"");
  EXPECT_EQ(logging::quote("a b"), "\"a b\"");
  EXPECT_EQ(logging::quote("a=b"), "\"a=b\"");
  EXPECT_EQ(logging::quote("\r\t\x7f"), "\"\\r\\t\\x7f\"");
  EXPECT_EQ(logging::quote("\xc2\x9b" "31m"), "\"\\u009b31m\"") << "a C1 CSI in UTF-8";
  EXPECT_EQ(logging::quote("caf\xc3\xa9"), "\"caf\xc3\xa9\"") << "UTF-8 stays readable";
}

}  // namespace
}  // namespace sealrelay
