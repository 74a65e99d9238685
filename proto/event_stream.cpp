#include "proto/event_stream.h"

#include <algorithm>
#include <cstdlib>

#include "proto/errors.h"

namespace sealrelay::event_stream {
namespace {

template <typename T>
void put_be(std::string& out, T v) {
  char b[sizeof(T)];
  for (size_t i = 0; i < sizeof(T); ++i) b[i] = static_cast<char>(v >> (8 * (sizeof(T) - 1 - i)));
  out.append(b, sizeof(T));
}

template <typename T>
T get_be(const uint8_t* p) {
  T v = 0;
  for (size_t i = 0; i < sizeof(T); ++i) v = static_cast<T>((v << 8) | p[i]);
  return v;
}

bool has_id(Type t) { return t == Type::answer || t == Type::frame || t == Type::end; }

}  // namespace

void append_record(std::string& out, Type type, uint64_t id, std::string_view data) {
  if (data.size() > UINT32_MAX) std::abort();
  out.reserve(out.size() + kHeaderBytes + data.size());
  out.push_back(static_cast<char>(type));
  put_be<uint64_t>(out, id);
  put_be<uint32_t>(out, static_cast<uint32_t>(data.size()));
  out.append(data);
}

std::string record(Type type, uint64_t id, std::string_view data) {
  std::string out;
  append_record(out, type, id, data);
  return out;
}

std::optional<RecordView> read_record(std::string_view whole) {
  if (whole.size() < kHeaderBytes) return std::nullopt;
  auto p = reinterpret_cast<const uint8_t*>(whole.data());
  if (p[0] > static_cast<uint8_t>(Type::gone)) return std::nullopt;
  uint32_t length = get_be<uint32_t>(p + 9);
  if (whole.size() - kHeaderBytes != length) return std::nullopt;
  return RecordView{static_cast<Type>(p[0]), get_be<uint64_t>(p + 1), whole.substr(kHeaderBytes)};
}

std::string_view name(Type type) {
  switch (type) {
    case Type::heartbeat: return "heartbeat";
    case Type::answer: return "answer";
    case Type::frame: return "frame";
    case Type::end: return "end";
    case Type::error: return "error";
    case Type::gone: return "gone";
  }
  std::abort();
}

std::optional<Type> type_of(std::string_view n) {
  for (Type t : {Type::heartbeat, Type::answer, Type::frame, Type::end, Type::error, Type::gone}) {
    if (name(t) == n) return t;
  }
  return std::nullopt;
}

Reader::Reader(size_t max_data) : max_data_(max_data) {}

void Reader::dispatch(const OnEvent& on_event) {
  in_data_ = false;
  if (type_ == Type::heartbeat) return;
  if (has_id(type_)) last_id_ = std::to_string(id_);
  sse::Event e{std::string(name(type_)), last_id_, std::move(data_), type_ == Type::frame};
  data_ = std::string();
  on_event(std::move(e));
}

Result<void> Reader::feed(std::string_view bytes, const OnEvent& on_event) {
  if (failed_) return *failed_;
  auto fail = [&](Error e) -> Result<void> {
    failed_ = e;
    return e;
  };
  while (!bytes.empty()) {
    if (!in_data_) {
      size_t take = std::min(kHeaderBytes - header_fill_, bytes.size());
      std::copy_n(bytes.data(), take, header_ + header_fill_);
      header_fill_ += take;
      bytes.remove_prefix(take);
      if (header_fill_ < kHeaderBytes) return {};
      header_fill_ = 0;
      if (header_[0] > static_cast<uint8_t>(Type::gone)) {
        return fail(make_error(ErrorCode::bad_record, "event record of unknown type " + std::to_string(header_[0])));
      }
      type_ = static_cast<Type>(header_[0]);
      id_ = get_be<uint64_t>(header_ + 1);
      length_ = get_be<uint32_t>(header_ + 9);
      if (length_ > max_data_) {
        return fail(make_error(ErrorCode::record_too_large, "event record of " + std::to_string(length_) +
                                                                " bytes exceeds the limit of " + std::to_string(max_data_)));
      }
      if (type_ == Type::heartbeat && length_ != 0) {
        return fail(make_error(ErrorCode::bad_record, "a heartbeat record carries data"));
      }
      in_data_ = true;
      data_.clear();
      data_.reserve(length_);  // length_ <= max_data_ checked above
    }
    size_t take = std::min(static_cast<size_t>(length_) - data_.size(), bytes.size());
    data_.append(bytes.substr(0, take));
    bytes.remove_prefix(take);
    if (data_.size() < length_) return {};
    dispatch(on_event);
  }
  return {};
}

}  // namespace sealrelay::event_stream
