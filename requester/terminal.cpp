#include "requester/terminal.h"

#include <cstdint>
#include <cstdio>

namespace sealrelay::requester {
namespace {

std::string hex_byte(unsigned char c) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "\\x%02x", c);
  return buf;
}

// Length of the valid UTF-8 sequence at the start of `s` (1-4), or 0.
size_t utf8_length(std::string_view s) {
  auto b = [&](size_t i) { return static_cast<unsigned char>(s[i]); };
  auto cont = [&](size_t i) { return i < s.size() && (b(i) & 0xC0) == 0x80; };
  unsigned char c = b(0);
  if (c < 0x80) return 1;
  if (c >= 0xC2 && c <= 0xDF) return cont(1) ? 2 : 0;
  if (c >= 0xE0 && c <= 0xEF) {
    if (!cont(1) || !cont(2)) return 0;
    if (c == 0xE0 && b(1) < 0xA0) return 0;   // overlong
    if (c == 0xED && b(1) >= 0xA0) return 0;  // surrogates
    return 3;
  }
  if (c >= 0xF0 && c <= 0xF4) {
    if (!cont(1) || !cont(2) || !cont(3)) return 0;
    if (c == 0xF0 && b(1) < 0x90) return 0;
    if (c == 0xF4 && b(1) >= 0x90) return 0;
    return 4;
  }
  return 0;
}

std::string escape(std::string_view s, bool keep_newlines) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c == '\n' && keep_newlines) {
      out.push_back('\n');
      ++i;
    } else if (c == '\n' || c == '\t' || c == '\\' || c == '\r') {
      out += c == '\n' ? "\\n" : c == '\t' ? "\\t" : c == '\r' ? "\\r" : (keep_newlines ? "\\" : "\\\\");
      ++i;
    } else if (c < 0x20 || c == 0x7f) {
      out += hex_byte(c);
      ++i;
    } else if (size_t n = utf8_length(s.substr(i)); n == 0) {
      out += hex_byte(c);
      ++i;
    } else if (n == 2 && c == 0xC2 && static_cast<unsigned char>(s[i + 1]) < 0xA0) {
      // U+0080..U+009F: the C1 controls (CSI is U+009B).
      char buf[12];
      std::snprintf(buf, sizeof buf, "\\u{%02x}", static_cast<unsigned char>(s[i + 1]));
      out += buf;
      i += 2;
    } else {
      out.append(s.substr(i, n));
      i += n;
    }
  }
  return out;
}

}  // namespace

std::string escaped(std::string_view untrusted) { return escape(untrusted, false); }

std::string printable_lines(std::string_view message) { return escape(message, true); }

}  // namespace sealrelay::requester
