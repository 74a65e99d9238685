// PartFile: the Sink of a `get`. Content goes to NAME.part (mode 0600) and
// becomes NAME only after the trailer verified: nothing unverified ever
// carries the final name. A failed download leaves NAME.part for --resume,
// except after a whole-file hash mismatch, when the .part is deleted.
// A new .part is created with O_EXCL|O_NOFOLLOW (a file or symlink planted
// at its name is refused, never followed); a resumed one is opened with
// O_NOFOLLOW and must be a regular file owned by this user.
#pragma once

#include <filesystem>

#include "requester/transfer.h"

namespace sealrelay::requester {

class PartFile : public Sink {
 public:
  // Fails (exists) when `final_path` exists and !overwrite, and (part_exists)
  // when a .part exists and !resume, so nothing is lost by accident.
  static Result<std::unique_ptr<PartFile>> open(const std::filesystem::path& final_path, bool resume, bool overwrite);
  ~PartFile() override;

  Result<void> begin(const Answer& answer,
                     const std::function<void(std::span<const uint8_t>)>& absorb_prefix) override;
  Result<void> write(std::span<const uint8_t> chunk) override;
  Result<void> commit() override;
  void abandon(const Error& why) override;
  uint64_t resume_offset() const override { return resume_offset_; }

  const std::filesystem::path& final_path() const { return final_; }
  std::filesystem::path part_path() const;

 private:
  PartFile(std::filesystem::path final_path, bool overwrite, bool resuming, uint64_t resume_offset)
      : final_(std::move(final_path)), overwrite_(overwrite), resuming_(resuming), resume_offset_(resume_offset) {}
  std::filesystem::path final_;
  bool overwrite_;
  bool resuming_;  // a .part existed at open(): begin() continues it, else creates a new one
  uint64_t resume_offset_;
  int fd_ = -1;
  uint64_t written_to_ = 0;    // end of what write() handed to the kernel
  uint64_t writeback_to_ = 0;  // end of what writeback was started for
};

}  // namespace sealrelay::requester
