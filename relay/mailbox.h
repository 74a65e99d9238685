// In-process fan-out: bounded mailboxes fed by a store, drained by the
// thread that serves one stream.
//
// A stream (agent control stream, requester event stream) subscribes to one
// store key. Whatever appends to that key — the in-memory store directly;
// the Redis store for what this node writes, and its reader thread for what
// other nodes write — publishes the entry to every mailbox subscribed to
// the key. A mailbox never blocks its producer: when it
// holds more than its byte budget it drops everything and marks itself
// `lagged`, and its consumer re-reads from the store (which holds the data
// anyway). So a slow stream costs the producer nothing.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace sealrelay::relay {

// A position in a store stream: "<ms>-<seq>", ordered like Redis stream ids.
// Transfer streams use ms = SSE id (answer 0-1, frame n (n+1)-0, end
// (count+1)-0, error (next+1)-1); agent inboxes use time-based ids.
struct StreamId {
  uint64_t ms = 0;
  uint64_t seq = 0;

  std::string str() const { return std::to_string(ms) + "-" + std::to_string(seq); }
  // Parses "ms-seq" or "ms" (seq 0). nullopt on anything else.
  static std::optional<StreamId> parse(std::string_view s);
  auto operator<=>(const StreamId&) const = default;
};

// One stream entry. `payload` is shared, never copied, between the store and
// every mailbox that received it.
struct Entry {
  StreamId id;
  std::string kind;  // transfer stream: answer|frame|end|error; inbox: transfer|cancel
  std::string ref;   // inbox: the transfer id the entry is about; else empty
  std::shared_ptr<const std::string> payload;  // transfer: event-stream record; inbox: JSON data
  size_t frame_bytes = 0;                      // frame entries: size of the opaque frame
};

class Mailbox {
 public:
  explicit Mailbox(size_t max_bytes) : max_bytes_(max_bytes) {}

  // Producer side; never blocks beyond the mailbox's own mutex. An entry at
  // or below the newest one pushed is dropped: the Redis store may publish
  // an entry twice (its own append, then the reader), ids only grow.
  void push(const Entry& e);
  // Wakes the consumer without data (state changed; re-check the store).
  void poke();
  // Ends the subscription: wait() returns `closed` from now on.
  void close();

  struct Batch {
    std::vector<Entry> entries;
    bool lagged = false;  // entries were dropped: re-read the store from your cursor
    bool poked = false;
    bool closed = false;
  };
  // Waits up to `timeout` for something, then takes all of it.
  Batch wait(std::chrono::milliseconds timeout);

 private:
  const size_t max_bytes_;  // immutable
  std::mutex mu_;
  std::condition_variable cv_;
  // Guarded by mu_:
  std::deque<Entry> entries_;
  size_t bytes_ = 0;
  bool lagged_ = false;
  bool poked_ = false;
  bool closed_ = false;
  StreamId newest_;  // the highest id pushed
};

// Key -> subscribed mailboxes. Thread-safe.
class Hub {
 public:
  // Registers `box` for `key`. Returns true when it is the key's first
  // subscriber (the Redis reader starts watching the key then).
  bool subscribe(const std::string& key, const std::shared_ptr<Mailbox>& box);
  // Returns true when `key` has no subscriber left.
  bool unsubscribe(const std::string& key, const std::shared_ptr<Mailbox>& box);
  void publish(const std::string& key, const Entry& e);
  void poke(const std::string& key);
  // Closes every mailbox (server shutdown).
  void close_all();
  std::vector<std::string> keys() const;
  size_t subscribers() const;

 private:
  mutable std::mutex mu_;
  std::map<std::string, std::set<std::shared_ptr<Mailbox>>> subs_;  // guarded by mu_
};

}  // namespace sealrelay::relay
