// Log formats for the relay and the agent (--log-format, SEALRELAY_LOG_FORMAT):
// `text` (the default, for people) or `json`: one object per line, for log
// shippers (journald, Loki, Elasticsearch):
//
//   {"time":"2026-11-20T23:29:36.995Z","level":"info","component":"agent",
//    "message":"transfer t_1f.. op=get bytes=6 result=ok","op":"get","bytes":6,"result":"ok"}
//
// `time` is UTC with milliseconds; `level` one of trace, debug, info, warn,
// error, fatal; `message` the text line exactly. A record logged with
// logging::log() carries fields: they are appended to the text as
// ` key=value` (logfmt: a string that is not plain is quoted, with control
// bytes, quotes and backslashes as escapes, so a peer's string can neither
// start a line nor pose as another field) and, in JSON, become keys taken
// from the data itself, never by reading the text back; a field never
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

// One field of a structured record: a name ([a-z_][a-z0-9_]*, chosen by
// the program) and a value (a string, or a number).
using Field = std::pair<std::string_view, nlohmann::ordered_json>;

// `s` as logfmt writes a value: as it is when it is non-empty and only
// letters, digits and . _ - / : @ + , (so `result=ok`, `path=/demo/a.txt`
// stay greppable); otherwise double-quoted with \\, \", \n, \r, \t and
// \xHH for the other bytes below 0x20 and 0x7f, \u00HH for the C1
// controls of UTF-8. Other bytes of 0x80 and above pass (UTF-8 names stay
// readable; the JSON writer replaces invalid ones).
inline std::string quote(std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  auto plain = [](unsigned char c) {
    return std::isalnum(c) || c == '.' || c == '_' || c == '-' || c == '/' || c == ':' || c == '@' || c == '+' ||
           c == ',';
  };
  bool bare = !s.empty();
  for (unsigned char c : s) bare = bare && plain(c);
  if (bare) return std::string(s);
  std::string out = "\"";
  for (size_t i = 0; i < s.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    // A C1 control in UTF-8 (U+0080..U+009F; U+009B is a terminal's CSI).
    if (c == 0xc2 && i + 1 < s.size() && (static_cast<unsigned char>(s[i + 1]) & 0xe0) == 0x80) {
      out += "\\u00";
      c = static_cast<unsigned char>(s[++i]);
      out += kHex[c >> 4];
      out += kHex[c & 0xf];
      continue;
    }
    switch (c) {
      case '\\': out += "\\\\"; break;
      case '"': out += "\\\""; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20 || c == 0x7f) {
          out += "\\x";
          out += kHex[c >> 4];
          out += kHex[c & 0xf];
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  out += '"';
  return out;
}

// The text of a record: `message`, then ` name=value` per field (strings
// through quote(), numbers as JSON writes them).
inline std::string record_text(std::string_view message, std::initializer_list<Field> fields) {
  std::string text(message);
  for (const auto& [name, value] : fields) {
    text += ' ';
    text += name;
    text += '=';
    text += value.is_string() ? quote(value.get_ref<const std::string&>()) : value.dump();
  }
  return text;
}

namespace detail {
// The fields of the record being logged on this thread, for JsonFormatter:
// spdlog hands a formatter only the text, and the fields must not be read
// back out of it. Set by log() around a synchronous spdlog call (the
// loggers here are synchronous, so the formatter runs on this thread).
inline thread_local const std::initializer_list<Field>* current_fields = nullptr;
}  // namespace detail

// Logs a record with fields (see the top of this file).
inline void log(spdlog::level::level_enum level, std::string_view message, std::initializer_list<Field> fields) {
  if (!spdlog::should_log(level)) return;
  std::string text = record_text(message, fields);
  detail::current_fields = &fields;
  spdlog::log(level, "{}", text);
  detail::current_fields = nullptr;
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
    if (const auto* fields = detail::current_fields) {
      for (const auto& [k, v] : *fields) {
        std::string key(k);
        if (!j.contains(key)) j[key] = v;
      }
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
