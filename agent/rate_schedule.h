// RateSchedule: the agent's bandwidth cap as a timetable of the agent's
// local time, `--rate-limit "08:00,512k 18:00,4M 23:00,off"`, or a single
// rate for the whole day (`--rate-limit 250000`, `--rate-limit 2M`).
// LocalTime is the injected, time-zone-aware source of "now" it is read
// against, so tests set the hour by hand.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"

namespace sealrelay::agent {

// The minute of the day on the agent's local clock (its TZ, daylight saving
// included), 0..1439. Implementations must be safe to call from any thread.
class LocalTime {
 public:
  virtual ~LocalTime() = default;
  virtual int minute_of_day() const = 0;
};

// The real one: localtime_r() of the system clock (TZ, /etc/localtime).
class SystemLocalTime final : public LocalTime {
 public:
  int minute_of_day() const override;
};

class RateSchedule {
 public:
  struct Period {
    int start_minute = 0;         // 0..1439, local time
    uint64_t bytes_per_second = 0;  // 0: no cap
  };

  // No cap at any time.
  RateSchedule() = default;

  // Parses either one rate for the whole day, or periods separated by
  // spaces, each "HH:MM,RATE", in increasing time order. A RATE is bytes
  // per second: digits with an optional suffix k (KiB/s), M (MiB/s) or G
  // (GiB/s), as curl and rsync read them; "off" or 0 means no cap. Each
  // period lasts until the next one starts; the last one lasts past
  // midnight until the first one. Error "bad_config" saying what is wrong
  // and what a valid schedule looks like.
  static Result<RateSchedule> parse(std::string_view text);

  // The cap in force at `minute_of_day` (0 = none).
  uint64_t rate_at(int minute_of_day) const;

  // Whether any period has a cap.
  bool limits() const;

  // "08:00 512 KiB/s, 18:00 4 MiB/s, 23:00 no cap", for the agent's log.
  std::string describe() const;

 private:
  explicit RateSchedule(std::vector<Period> periods) : periods_(std::move(periods)) {}
  std::vector<Period> periods_;  // sorted by start_minute; empty: no cap
};

}  // namespace sealrelay::agent
