// One request to one agent through the relay, from the requester's side:
// handshake, transfer creation, the SSE stream with reconnects, frame
// opening, and delivery of verified content to a Sink (docs/api.md,
// docs/protocol.md).
#pragma once

#include <filesystem>

#include <atomic>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <span>
#include <string>

#include "base/result.h"
#include "crypto/keys.h"
#include "crypto/payloads.h"
#include "proto/relay_client.h"

namespace sealrelay::requester {

// "AGENT:/path" → {agent, "/path"}.
struct Target {
  std::string agent;
  std::string path;
};
Result<Target> parse_target(std::string_view text);

// Unix-millisecond timestamps for message 1 that never repeat, even for
// handshakes started in the same millisecond: within the process, and, with
// a `shared_file` (the CLI's is in its home, next to the identity key),
// across every process using that file (the agent refuses a timestamp it
// has seen from the same key as a replay; `xargs -P` runs CLIs at once).
// The file is locked with flock while read and advanced; if it cannot be
// used, timestamps are unique within the process only.
class TimestampSource {
 public:
  explicit TimestampSource(std::filesystem::path shared_file = {}) : shared_file_(std::move(shared_file)) {}
  int64_t next();

 private:
  const std::filesystem::path shared_file_;
  std::mutex mu_;
  int64_t last_ = 0;  // Guarded by mu_
};

// Where verified content goes. Calls come in this order: begin, write*,
// then commit (after the trailer verified) or abandon.
class Sink {
 public:
  virtual ~Sink() = default;
  // The agent accepted; content starts at answer.offset. A resuming sink
  // feeds the bytes it already holds before that offset to `absorb_prefix`
  // (they count towards the whole-file hash).
  virtual Result<void> begin(const Answer& answer,
                             const std::function<void(std::span<const uint8_t>)>& absorb_prefix) = 0;
  virtual Result<void> write(std::span<const uint8_t> chunk) = 0;
  virtual Result<void> commit() = 0;
  virtual void abandon(const Error& why) = 0;
  // Bytes before which the sink already holds content (resume), 0 otherwise.
  virtual uint64_t resume_offset() const { return 0; }
};

struct RequestOptions {
  Op op = Op::kGet;
  std::string path;
  uint32_t chunk_size = protocol::kDefaultChunkBytes;
  // Offer zstd-compressed frames (the agent decides, docs/protocol.md §3.1);
  // `sealrelay get --compress off` does not.
  bool offer_compression = true;
  // How long the stream may stay broken before the transfer is given up.
  std::chrono::seconds reconnect_for{120};
  // How long the transfer may go without an event (the relay's heartbeats do
  // not count) before it is given up as `stalled`: the agent stopped sending
  // — it restarted and its session keys are gone, or it lost its uplink.
  // The verified .part stays for --resume.
  std::chrono::seconds stall_timeout{300};
  // tree only (docs/protocol.md §4.5): what of the folder, with contents
  // or not, and where to start again. The stream's size is not announced
  // (the answer's `size` is the files' content bytes): the trailer alone
  // bounds and verifies it.
  Request::Select select = {};
  bool contents = true;
  std::optional<Request::Resume> resume = {};
};

struct Progress {
  uint64_t bytes = 0;   // content bytes held, including a resumed prefix (tree: stream bytes)
  uint64_t total = 0;   // from the answer
};

struct Outcome {
  Answer answer;
  std::string transfer_id;
  uint64_t bytes_received = 0;  // this session, excluding a resumed prefix
};

// Runs the request. `sink` receives content for get/list (may be null for
// stat). `cancel`, when set from another thread (a signal handler), stops it
// within ~100 ms, also while the stream is quiet, and cancels the transfer
// at the relay. Errors carry the codes of docs/protocol.md §3/§4 and
// docs/api.md, plus history_gone, transfer_lost and stalled (resume with a
// new request).
Result<Outcome> run_request(const RelayConfig& relay, const Identity& me, const std::string& agent,
                            const PublicKey& agent_key, const RequestOptions& options, TimestampSource& clock,
                            Sink* sink, const std::function<void(const Progress&)>& on_progress,
                            const std::atomic<bool>* cancel = nullptr);

// A sink that keeps content in memory up to a limit (listings).
class MemorySink : public Sink {
 public:
  explicit MemorySink(size_t max_bytes) : max_(max_bytes) {}
  Result<void> begin(const Answer& answer, const std::function<void(std::span<const uint8_t>)>&) override;
  Result<void> write(std::span<const uint8_t> chunk) override;
  Result<void> commit() override { return {}; }
  void abandon(const Error&) override { data_.clear(); }
  const std::vector<uint8_t>& data() const { return data_; }

 private:
  size_t max_;
  std::vector<uint8_t> data_;
};

}  // namespace sealrelay::requester
