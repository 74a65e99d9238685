#include "proto/upload.h"

#include <algorithm>
#include <cstdlib>

#include "proto/errors.h"

namespace sealrelay::upload {
namespace {

void put_u32(std::string& out, uint32_t v) {
  char b[4] = {static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8),
               static_cast<char>(v)};
  out.append(b, 4);
}

}  // namespace

void append_record(std::string& out, std::string_view frame) {
  if (frame.empty() || frame.size() > UINT32_MAX) std::abort();
  out.reserve(out.size() + kHeaderBytes + frame.size());
  put_u32(out, static_cast<uint32_t>(frame.size()));
  out.append(frame);
}

void append_record(std::string& out, std::span<const uint8_t> frame) {
  append_record(out, std::string_view(reinterpret_cast<const char*>(frame.data()), frame.size()));
}

void append_end(std::string& out) { put_u32(out, 0); }

Reader::Reader(size_t max_frame_bytes) : max_frame_(max_frame_bytes) {}

Result<void> Reader::feed(std::string_view bytes, const OnFrame& on_frame) {
  if (failed_) return *failed_;
  auto fail = [&](Error e) -> Result<void> {
    failed_ = e;
    return e;
  };
  while (!bytes.empty()) {
    if (ended_) {
      return fail(make_error(ErrorCode::trailing_data, "bytes follow the end record of the upload"));
    }
    if (!in_payload_) {
      size_t take = std::min(kHeaderBytes - header_fill_, bytes.size());
      std::copy_n(bytes.data(), take, header_ + header_fill_);
      header_fill_ += take;
      bytes.remove_prefix(take);
      if (header_fill_ < kHeaderBytes) return {};
      header_fill_ = 0;
      length_ = (uint32_t{header_[0]} << 24) | (uint32_t{header_[1]} << 16) |
                (uint32_t{header_[2]} << 8) | uint32_t{header_[3]};
      if (length_ == 0) {
        ended_ = true;
        continue;
      }
      if (length_ > max_frame_) {
        return fail(make_error(ErrorCode::frame_too_large, "frame of " + std::to_string(length_) +
                                                               " bytes exceeds the limit of " +
                                                               std::to_string(max_frame_)));
      }
      in_payload_ = true;
    }
    // Whole record in this slice and nothing buffered: hand out a view.
    if (payload_.empty() && bytes.size() >= length_) {
      std::string_view frame = bytes.substr(0, length_);
      bytes.remove_prefix(length_);
      in_payload_ = false;
      ++frames_;
      if (!on_frame(frame)) return fail(make_error(ErrorCode::upload_aborted, "upload stopped by receiver"));
      continue;
    }
    if (payload_.empty()) payload_.reserve(length_);  // length_ <= max_frame_ checked above
    size_t take = std::min(static_cast<size_t>(length_) - payload_.size(), bytes.size());
    payload_.append(bytes.substr(0, take));
    bytes.remove_prefix(take);
    if (payload_.size() < length_) return {};
    in_payload_ = false;
    ++frames_;
    bool keep = on_frame(payload_);
    payload_.clear();
    if (!keep) return fail(make_error(ErrorCode::upload_aborted, "upload stopped by receiver"));
  }
  return {};
}

}  // namespace sealrelay::upload
