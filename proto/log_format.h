// Log formats for the relay and the agent (--log-format, SEALRELAY_LOG_FORMAT):
// `text` (the default, for people) or `json`: one object per line, for log
// shippers (journald, Loki, Elasticsearch):
//
//   {"time":"2026-11-20T23:29:36.995Z","level":"info","component":"agent",
//    "message":"transfer t_1f.. op=get bytes=6 result=ok","op":"get","bytes":6,"result":"ok"}
//
// `time` is UTC with milliseconds; `level` one of trace, debug, info, warn,
// error, fatal; `message` the text line exactly. Each `key=value` in the
// message also becomes a field (a value runs to the next ` key=` or the end
// of the line; integers and decimals become numbers); a field never
// replaces time, level, component or message. Invalid UTF-8 is replaced,
// never dropped. Header-only: the relay and the agent (both link spdlog and
// nlohmann_json) include it; the CLI does not log.
#pragma once

#include <spdlog/details/log_msg.h>
#include <spdlog/formatter.h>
#include <spdlog/pattern_formatter.h>
#include <spdlog/spdlog.h>

#include <cctype>
#include <chrono>
#include <ctime>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sealrelay::logging {

enum class Format { text, json };

// "text" or "json"; nullopt otherwise.
inline std::optional<Format> parse_format(std::string_view name) {
  if (name == "text") return Format::text;
  if (name == "json") return Format::json;
  return std::nullopt;
}

// The key=value pairs of a log message, in order.
inline std::vector<std::pair<std::string, std::string>> message_fields(std::string_view m) {
  // Start of every "key=" that begins a word: [a-z_][a-z0-9_]*= after a space or at 0.
  struct Key {
    size_t start, eq;
  };
  std::vector<Key> keys;
  for (size_t i = 0; i < m.size(); ++i) {
    if (i > 0 && m[i - 1] != ' ') continue;
    size_t j = i;
    if (j >= m.size() || !(std::islower(static_cast<unsigned char>(m[j])) || m[j] == '_')) continue;
    while (j < m.size() && (std::islower(static_cast<unsigned char>(m[j])) ||
                            std::isdigit(static_cast<unsigned char>(m[j])) || m[j] == '_')) {
      ++j;
    }
    if (j < m.size() && m[j] == '=') keys.push_back({i, j});
  }
  std::vector<std::pair<std::string, std::string>> out;
  for (size_t k = 0; k < keys.size(); ++k) {
    size_t end = k + 1 < keys.size() ? keys[k + 1].start - 1 : m.size();
    out.emplace_back(std::string(m.substr(keys[k].start, keys[k].eq - keys[k].start)),
                     std::string(m.substr(keys[k].eq + 1, end - keys[k].eq - 1)));
  }
  return out;
}

// A field value as JSON: a number when it is one, else the string.
inline nlohmann::json field_value(const std::string& v) {
  if (!v.empty() && v.size() < 19) {
    size_t i = v[0] == '-' ? 1 : 0, digits = 0, dots = 0;
    for (; i < v.size(); ++i) {
      if (std::isdigit(static_cast<unsigned char>(v[i]))) {
        ++digits;
      } else if (v[i] == '.' && dots == 0) {
        ++dots;
      } else {
        break;
      }
    }
    if (i == v.size() && digits > 0 && v.back() != '.' && !(v.size() > 1 && v[0] == '0' && v[1] != '.')) {
      return dots ? nlohmann::json(std::stod(v)) : nlohmann::json(std::stoll(v));
    }
  }
  return v;
}

class JsonFormatter final : public spdlog::formatter {
 public:
  explicit JsonFormatter(std::string component) : component_(std::move(component)) {}

  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    using namespace std::chrono;
    auto ms = duration_cast<milliseconds>(msg.time.time_since_epoch()).count();
    std::time_t secs = static_cast<std::time_t>(ms / 1000);
    std::tm tm{};
    gmtime_r(&secs, &tm);
    char when[40];
    size_t n = std::strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S", &tm);
    std::snprintf(when + n, sizeof when - n, ".%03dZ", static_cast<int>(ms % 1000));
    std::string text(msg.payload.data(), msg.payload.size());
    nlohmann::ordered_json j;
    j["time"] = when;
    j["level"] = level_name(msg.level);
    j["component"] = component_;
    j["message"] = text;
    for (auto& [k, v] : message_fields(text)) {
      if (!j.contains(k)) j[k] = field_value(v);
    }
    std::string line = j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    line.push_back('\n');
    dest.append(line.data(), line.data() + line.size());
  }

  std::unique_ptr<spdlog::formatter> clone() const override { return std::make_unique<JsonFormatter>(component_); }

 private:
  static const char* level_name(spdlog::level::level_enum l) {
    switch (l) {
      case spdlog::level::trace: return "trace";
      case spdlog::level::debug: return "debug";
      case spdlog::level::info: return "info";
      case spdlog::level::warn: return "warn";
      case spdlog::level::err: return "error";
      case spdlog::level::critical: return "fatal";
      default: return "info";
    }
  }
  std::string component_;
};

// Applies `format` to every registered spdlog logger: JSON lines, or the
// human pattern `text_pattern`.
inline void apply(Format format, const std::string& component, const std::string& text_pattern) {
  if (format == Format::json) {
    spdlog::set_formatter(std::make_unique<JsonFormatter>(component));
  } else {
    spdlog::set_pattern(text_pattern);
  }
}

}  // namespace sealrelay::logging
