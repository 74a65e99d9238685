#include "proto/sse.h"

#include <cstdlib>
#include <cstring>

#include "proto/errors.h"

namespace sealrelay::sse {
namespace {

void check_no_newline(std::string_view s, bool allow_lf) {
  for (char c : s) {
    if (c == '\r' || c == '\0' || (!allow_lf && c == '\n')) std::abort();
  }
}

constexpr std::string_view kBom = "\xEF\xBB\xBF";

Error too_large(std::string_view what) {
  return make_error(ErrorCode::sse_too_large, std::string("SSE ") + std::string(what) +
                                                  " exceeds the parser's limit; the stream is not usable");
}

}  // namespace

size_t event_size(std::string_view name, std::string_view id, std::string_view data) {
  size_t n = 0;
  if (!name.empty()) n += 7 + name.size() + 1;  // "event: " name "\n"
  if (!id.empty()) n += 4 + id.size() + 1;      // "id: " id "\n"
  size_t lines = 1;
  for (char c : data) lines += c == '\n';
  n += lines * 7 + (data.size() - (lines - 1));  // "data: " line "\n" per line
  return n + 1;                                   // blank line
}

void append_event(std::string& out, std::string_view name, std::string_view id,
                  std::string_view data) {
  check_no_newline(name, false);
  check_no_newline(id, false);
  check_no_newline(data, true);
  out.reserve(out.size() + event_size(name, id, data));
  if (!name.empty()) {
    out.append("event: ").append(name).push_back('\n');
  }
  if (!id.empty()) {
    out.append("id: ").append(id).push_back('\n');
  }
  for (;;) {
    size_t nl = data.find('\n');
    out.append("data: ").append(data.substr(0, nl)).push_back('\n');
    if (nl == std::string_view::npos) break;
    data.remove_prefix(nl + 1);
  }
  out.push_back('\n');
}

std::string event(std::string_view name, std::string_view id, std::string_view data) {
  std::string out;
  append_event(out, name, id, data);
  return out;
}

void append_comment(std::string& out, std::string_view text) {
  check_no_newline(text, false);
  out.append(": ").append(text).append("\n\n");
}

Parser::Parser(Limits limits) : limits_(limits) {}

Result<void> Parser::feed(std::string_view bytes, const OnEvent& on_event) {
  if (failed_) return *failed_;
  while (!bytes.empty()) {
    if (skip_lf_) {
      skip_lf_ = false;
      if (bytes.front() == '\n') {
        bytes.remove_prefix(1);
        continue;
      }
    }
    if (at_start_) {
      // The BOM may arrive split; hold back a prefix of it until decided.
      std::string probe = partial_ + std::string(bytes.substr(0, kBom.size()));
      size_t common = 0;
      while (common < probe.size() && common < kBom.size() && probe[common] == kBom[common]) {
        ++common;
      }
      if (common == probe.size() && common < kBom.size()) {
        partial_ = probe;
        return {};
      }
      at_start_ = false;
      if (common == kBom.size()) {
        bytes.remove_prefix(kBom.size() - partial_.size());
        partial_.clear();
      }
    }
    const char* end = static_cast<const char*>(std::memchr(bytes.data(), '\n', bytes.size()));
    const char* cr = static_cast<const char*>(
        std::memchr(bytes.data(), '\r', end ? static_cast<size_t>(end - bytes.data()) : bytes.size()));
    if (cr) end = cr;
    if (!end) {
      if (partial_.size() + bytes.size() > limits_.max_line) {
        failed_ = too_large("line");
        return *failed_;
      }
      partial_.append(bytes);
      return {};
    }
    size_t len = static_cast<size_t>(end - bytes.data());
    if (partial_.size() + len > limits_.max_line) {
      failed_ = too_large("line");
      return *failed_;
    }
    Result<void> r = [&] {
      if (partial_.empty()) return line(bytes.substr(0, len), on_event);
      partial_.append(bytes.substr(0, len));
      auto res = line(partial_, on_event);
      partial_.clear();
      return res;
    }();
    if (!r) {
      failed_ = r.error();
      return r;
    }
    if (*end == '\r') skip_lf_ = true;
    bytes.remove_prefix(len + 1);
  }
  return {};
}

Result<void> Parser::line(std::string_view text, const OnEvent& on_event) {
  if (text.empty()) {
    dispatch(on_event);
    return {};
  }
  if (text.front() == ':') return {};
  size_t colon = text.find(':');
  std::string_view field = text.substr(0, colon);
  std::string_view value;
  if (colon != std::string_view::npos) {
    value = text.substr(colon + 1);
    if (!value.empty() && value.front() == ' ') value.remove_prefix(1);
  }
  if (field == "data") {
    size_t add = value.size() + (has_data_ ? 1 : 0);
    if (data_.size() + add > limits_.max_data) return too_large("event data");
    if (has_data_) data_.push_back('\n');
    data_.append(value);
    has_data_ = true;
  } else if (field == "event") {
    name_.assign(value);
  } else if (field == "id") {
    if (value.find('\0') == std::string_view::npos) last_id_.assign(value);
  } else if (field == "retry") {
    bool digits = !value.empty() && value.size() <= 18;
    for (char c : value) digits = digits && c >= '0' && c <= '9';
    if (digits) retry_ms_ = std::strtoull(std::string(value).c_str(), nullptr, 10);
  }
  return {};
}

void Parser::dispatch(const OnEvent& on_event) {
  if (!has_data_) {
    name_.clear();
    return;
  }
  Event ev;
  ev.name = name_.empty() ? "message" : std::move(name_);
  ev.id = last_id_;
  ev.data = std::move(data_);
  name_.clear();
  data_.clear();
  has_data_ = false;
  on_event(std::move(ev));
}

}  // namespace sealrelay::sse
