#include "agent/transfer_content.h"

#include "agent/file_read.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace sealrelay::agent {

Result<size_t> MemoryContent::read(uint64_t at, std::span<uint8_t> into) {
  const size_t n = std::min<uint64_t>(into.size(), data_.size() - at);
  std::memcpy(into.data(), data_.data() + at, n);
  return n;
}

Result<size_t> FileContent::read(uint64_t at, std::span<uint8_t> into) {
  const size_t want = std::min<uint64_t>(into.size(), *size() - at);
  size_t done = 0;
  while (done < want) {
    auto n = read_at(file_.fd.get(), at + done, std::span(into.data() + done, want - done));
    if (!n) return make_error("io_error", "reading the file failed");
    if (*n == 0) return make_error("changed", "the file shrank while it was being sent");
    done += *n;
  }
  return want;
}

#ifndef _WIN32
Result<void> TreeContent::start() {
  auto source = TreeSource::start(root_, options_, request_);
  if (!source) return source.error();
  source_ = std::move(*source);
  return {};
}

Result<size_t> TreeContent::read(uint64_t at, std::span<uint8_t> into) {
  if (at < produced_) return replay(at, into);
  if (end_) return size_t{0};
  auto n = source_->next(into);
  if (!n) return n.error();
  if (*n < into.size()) end_ = produced_ + *n;
  kept_.emplace_back(produced_, std::vector<uint8_t>(into.begin(), into.begin() + static_cast<ptrdiff_t>(*n)));
  kept_bytes_ += *n;
  produced_ += *n;
  while (kept_.size() > 2 && kept_bytes_ > kKeptBytes) {
    kept_bytes_ -= kept_.front().second.size();
    kept_.pop_front();
  }
  return *n;
}

Result<size_t> TreeContent::replay(uint64_t at, std::span<uint8_t> into) const {
  for (const auto& [start, bytes] : kept_) {
    if (start != at) continue;
    const size_t n = std::min(into.size(), bytes.size());
    std::copy_n(bytes.begin(), n, into.begin());
    return n;
  }
  return make_error("io_error", "the relay asked for part of the folder stream the agent no longer holds; "
                                "the requester resumes the folder");
}

#endif  // _WIN32

}  // namespace sealrelay::agent
