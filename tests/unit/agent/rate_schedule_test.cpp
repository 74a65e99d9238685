// --rate-limit as a timetable of the agent's local time: parsing, and the
// limiter following the periods with an injected clock and local time.
#include "agent/rate_limit.h"
#include "agent/rate_schedule.h"

#include "test_support.h"

#include <gtest/gtest.h>

namespace sealrelay::agent {
namespace {

using namespace std::chrono_literals;
using testing::FakeClock;

class FakeLocalTime final : public LocalTime {
 public:
  int minute_of_day() const override { return minute_; }
  void set(int hour, int minute) { minute_ = hour * 60 + minute; }

 private:
  int minute_ = 0;
};

RateSchedule parsed(std::string_view text) {
  auto s = RateSchedule::parse(text);
  EXPECT_TRUE(s) << text << ": " << (s ? "" : s.error().message);
  return s ? *s : RateSchedule();
}

TEST(RateSchedule, ATimetableHoldsEachRateFromItsStartToTheNextAndWrapsPastMidnight) {
  RateSchedule s = parsed("08:00,512k 18:00,4M 23:00,off");
  EXPECT_EQ(s.rate_at(8 * 60), 512u * 1024);
  EXPECT_EQ(s.rate_at(17 * 60 + 59), 512u * 1024);
  EXPECT_EQ(s.rate_at(18 * 60), 4u << 20);
  EXPECT_EQ(s.rate_at(23 * 60), 0u);
  EXPECT_EQ(s.rate_at(3 * 60), 0u) << "before 08:00 the 23:00 period of the day before holds";
  EXPECT_TRUE(s.limits());
  EXPECT_EQ(s.describe(), "08:00 512 KiB/s, 18:00 4 MiB/s, 23:00 no cap");
}

TEST(RateSchedule, ASingleRateHoldsAllDayWithOrWithoutASuffix) {
  EXPECT_EQ(parsed("250000").rate_at(0), 250000u);
  EXPECT_EQ(parsed("2M").rate_at(12 * 60), 2u << 20);
  EXPECT_EQ(parsed("1G").rate_at(1), 1u << 30);
  EXPECT_FALSE(parsed("0").limits());
  EXPECT_FALSE(parsed("off").limits());
}

TEST(RateSchedule, MalformedSchedulesAreRefusedWithTheFix) {
  for (const char* bad : {"", "fast", "-5", "12x", "8:00,1M", "24:00,1M", "08:60,1M", "08:00,", "08:00,1M 07:00,2M",
                          "08:00,1M 08:00,2M", "08:00,1M 4M", "99999999999999999999", "18446744073709551615k"}) {
    auto s = RateSchedule::parse(bad);
    ASSERT_FALSE(s) << "\"" << bad << "\" was accepted";
    EXPECT_EQ(s.error().code, "bad_config");
    EXPECT_NE(s.error().message.find("08:00,512k 18:00,4M 23:00,off"), std::string::npos) << s.error().message;
  }
}

TEST(RateLimiterTimetable, ANewPeriodAppliesToTheNextFrameOfARunningTransfer) {
  FakeClock clock;
  FakeLocalTime local;
  local.set(17, 59);
  RateLimiter limiter(parsed("08:00,512k 18:00,4M 23:00,off"), 64 * 1024, clock, local);
  EXPECT_EQ(limiter.bytes_per_second(), 512u * 1024);
  // Empty the bucket (burst 128 KiB at 512 KiB/s), then a 512 KiB frame
  // waits a second.
  (void)limiter.reserve(128 * 1024);
  EXPECT_EQ(limiter.reserve(512 * 1024), 1s);
  clock.advance(1s);
  local.set(18, 0);
  EXPECT_EQ(limiter.bytes_per_second(), 4u << 20);
  // The bucket was empty at 18:00: the next 4 MiB wait a second at 4 MiB/s
  // (eight at the old rate).
  EXPECT_EQ(limiter.reserve(4u << 20), 1s);
  clock.advance(1s);
  local.set(23, 0);
  EXPECT_EQ(limiter.reserve(100u << 20), 0s) << "no cap after 23:00";
}

TEST(RateLimiterTimetable, AWaitAlreadyBegunFollowsTheNewPeriod) {
  FakeClock clock;
  FakeLocalTime local;
  local.set(22, 59);
  RateLimiter limiter(parsed("08:00,512k 18:00,4M 23:00,off 23:30,1k"), 1024, clock, local);
  (void)limiter.reserve(1u << 20);  // empty the 1 MiB burst
  EXPECT_EQ(limiter.reserve(8u << 20), 2s);
  clock.advance(500ms);
  EXPECT_EQ(limiter.wait_time(0), 1500ms);
  local.set(23, 0);
  EXPECT_EQ(limiter.wait_time(0), 0s) << "the debt is forgiven when the cap is lifted";
  local.set(23, 30);
  EXPECT_EQ(limiter.wait_time(0), 0s) << "a capped period after an uncapped one starts with a full bucket";
  EXPECT_EQ(limiter.reserve(1024), 0s);
  EXPECT_EQ(limiter.reserve(1024), 1s);
}

TEST(RateLimiterTimetable, ASlowerPeriodMakesTheDebtTakeLonger) {
  FakeClock clock;
  FakeLocalTime local;
  local.set(18, 0);
  RateLimiter limiter(parsed("08:00,512k 18:00,4M"), 64 * 1024, clock, local);
  (void)limiter.reserve(1u << 20);
  EXPECT_EQ(limiter.reserve(4u << 20), 1s);
  local.set(8, 0);  // the next morning, an instant later for the bucket
  EXPECT_EQ(limiter.wait_time(0), 8s) << "4 MiB of debt at 512 KiB/s";
}

}  // namespace
}  // namespace sealrelay::agent
