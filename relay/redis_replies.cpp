#include "relay/redis_replies.h"

#include <charconv>

#include "proto/errors.h"
#include "relay/redis_cluster.h"

namespace sealrelay::relay::redis {

uint64_t to_u64(std::string_view s) {
  uint64_t v = 0;
  std::from_chars(s.data(), s.data() + s.size(), v);
  return v;
}

std::optional<State> parse_state(std::string_view s) {
  for (int i = 0; i < kStateCount; ++i) {
    if (s == to_string(static_cast<State>(i))) return static_cast<State>(i);
  }
  return std::nullopt;
}

TransferInfo parse_meta(const std::string& tid, const redisReply* r) {
  TransferInfo t;
  t.id = tid;
  std::string answer;
  for (size_t i = 0; r && r->type == REDIS_REPLY_ARRAY && i + 1 < r->elements; i += 2) {
    std::string_view k(r->element[i]->str, r->element[i]->len);
    std::string v(r->element[i + 1]->str, r->element[i + 1]->len);
    if (k == "agent") t.agent = v;
    else if (k == "requester") t.requester = v;
    else if (k == "state") t.state = parse_state(v).value_or(State::failed);
    else if (k == "created") t.created = static_cast<int64_t>(to_u64(v));
    else if (k == "updated") t.updated = static_cast<int64_t>(to_u64(v));
    else if (k == "frames") t.frames = to_u64(v);
    else if (k == "delivered") t.delivered = to_u64(v);
    else if (k == "bytes") t.bytes = to_u64(v);
    else if (k == "trimmed") t.trimmed = to_u64(v);
    else if (k == "ecode") t.error_code = v;
    else if (k == "emsg") t.error_message = v;
    else if (k == "upsess") t.upload_session = v;
  }
  return t;
}

std::string meta_field(const redisReply* r, std::string_view name) {
  for (size_t i = 0; r && r->type == REDIS_REPLY_ARRAY && i + 1 < r->elements; i += 2) {
    if (std::string_view(r->element[i]->str, r->element[i]->len) == name) {
      return std::string(r->element[i + 1]->str, r->element[i + 1]->len);
    }
  }
  return "";
}

std::optional<Entry> parse_entry(const redisReply* e) {
  if (!e || e->type != REDIS_REPLY_ARRAY || e->elements != 2) return std::nullopt;
  auto id = StreamId::parse(std::string_view(e->element[0]->str, e->element[0]->len));
  if (!id) return std::nullopt;
  Entry out;
  out.id = *id;
  const redisReply* f = e->element[1];
  for (size_t i = 0; f && f->type == REDIS_REPLY_ARRAY && i + 1 < f->elements; i += 2) {
    std::string_view k(f->element[i]->str, f->element[i]->len);
    const redisReply* v = f->element[i + 1];
    if (k == "k") out.kind.assign(v->str, v->len);
    else if (k == "r") out.ref.assign(v->str, v->len);
    else if (k == "p") out.payload = std::make_shared<const std::string>(v->str, v->len);
    else if (k == "b") out.frame_bytes = to_u64(std::string_view(v->str, v->len));
  }
  if (!out.payload) out.payload = std::make_shared<const std::string>();
  return out;
}

std::optional<Error> unavailable(const redisReply* r) {
  if (!reply_is_error(r)) return std::nullopt;
  if (auto moved = redirection_error(r)) return moved;
  return make_error(ErrorCode::store_unavailable, "redis: " + reply_str(r));
}

Result<Reply> read_transaction(RedisConn& c, size_t commands) {
  std::optional<Error> refused;
  for (size_t i = 0; i < commands + 1; ++i) {
    auto r = c.next_reply();
    if (!r) return r.error();
    if (!refused) refused = unavailable(r->get());
  }
  auto exec = c.next_reply();
  if (!exec) return exec;
  if (refused) return *refused;
  if (auto e = unavailable(exec->get())) return *e;
  return exec;
}

Error script_error(const redisReply* r, const std::string& tid) {
  std::string code = r->elements > 1 ? reply_str(r->element[1]) : "store_error";
  std::string detail = r->elements > 2 ? reply_str(r->element[2]) : "";
  switch (errors::parse(code).value_or(ErrorCode::store_error)) {
    case ErrorCode::unknown_transfer:
      return make_error(code, "no transfer " + tid + " (it may have expired)");
    case ErrorCode::conflict:
      return make_error(code, detail == "frame" ? "the first frame is not the next one"
                                                : "transfer " + tid + " is " + detail);
    case ErrorCode::cancelled:
      return make_error(code, "the transfer was cancelled");
    case ErrorCode::too_large:
      return make_error(code, "the transfer exceeds its byte limit");
    default:
      break;
  }
  return make_error(code, detail);
}

Result<const redisReply*> appended_script_reply(const redisReply* x, size_t frames, size_t trailing) {
  if (x->type != REDIS_REPLY_ARRAY || x->elements != frames + 1 + trailing) {
    return make_error(ErrorCode::store_error, "redis: unexpected EXEC reply");
  }
  for (size_t i = 0; i < x->elements; ++i) {
    if (reply_is_error(x->element[i])) return make_error(ErrorCode::store_error, "redis: " + reply_str(x->element[i]));
  }
  const redisReply* rep = x->element[frames];
  if (rep->type != REDIS_REPLY_ARRAY || rep->elements < 2) {
    return make_error(ErrorCode::store_error, "redis: unexpected script reply");
  }
  return rep;
}

}  // namespace sealrelay::relay::redis
