#include "tests/e2e/tamper.h"

#include <hiredis.h>

#include <vector>

#include "crypto/protocol.h"
#include "proto/event_stream.h"
#include "tests/support/support.h"

namespace sealrelay::test {

Result<void> tamper_last_frame(const std::string& socket, const std::string& key) {
  std::unique_ptr<redisContext, decltype(&redisFree)> c(redisConnectUnix(socket.c_str()), redisFree);
  if (!c || c->err) return make_error("redis", "cannot connect to " + socket);
  auto command = [&](const std::vector<std::string>& args) { return redis_call(c.get(), args); };
  auto range = command({"XRANGE", key, "-", "+"});
  if (!range || range->type != REDIS_REPLY_ARRAY) return make_error("redis", "XRANGE failed");
  // Each entry: [id, [field, value, ...]].
  std::vector<std::vector<std::string>> entries;
  int last_frame = -1;
  for (size_t i = 0; i < range->elements; ++i) {
    redisReply* e = range->element[i];
    std::vector<std::string> add{"XADD", key, std::string(e->element[0]->str, e->element[0]->len)};
    redisReply* fields = e->element[1];
    for (size_t f = 0; f < fields->elements; ++f) add.emplace_back(fields->element[f]->str, fields->element[f]->len);
    for (size_t f = 3; f + 1 < add.size(); f += 2) {
      if (add[f] == "k" && add[f + 1] == "frame") last_frame = static_cast<int>(entries.size());
    }
    entries.push_back(std::move(add));
  }
  if (last_frame < 0) return make_error("redis", "no frame queued in " + key);
  for (size_t f = 3; f + 1 < entries[last_frame].size(); f += 2) {
    std::string& v = entries[last_frame][f + 1];
    if (entries[last_frame][f] != "p") continue;
    // The payload is the frame's event-stream record: its header, then the
    // frame. Change one ciphertext byte; the record stays well formed.
    constexpr size_t kSkip = event_stream::kHeaderBytes + protocol::kFrameHeaderBytes;
    if (v.size() <= kSkip) return make_error("redis", "frame payload too short");
    size_t at = kSkip + (v.size() - kSkip) / 2;
    v[at] = static_cast<char>(v[at] ^ 0x01);
  }
  // One transaction, so the relay cannot add an entry in between.
  command({"MULTI"});
  command({"DEL", key});
  for (const auto& add : entries) {
    auto r = command(add);
    if (!r || r->type == REDIS_REPLY_ERROR) return make_error("redis", "XADD " + add[2] + " was refused");
  }
  command({"EXPIRE", key, "3600"});
  auto done = command({"EXEC"});
  if (!done || done->type != REDIS_REPLY_ARRAY) return make_error("redis", "the rewrite transaction failed");
  for (size_t i = 0; i < done->elements; ++i) {
    if (done->element[i]->type == REDIS_REPLY_ERROR) {
      return make_error("redis", "rewrite failed: " + std::string(done->element[i]->str, done->element[i]->len));
    }
  }
  return {};
}

}  // namespace sealrelay::test
