#include "relay/transfers.h"

#include "base/base64.h"
#include "base/ids.h"
#include "proto/errors.h"
#include "proto/event_stream.h"
#include "relay/records.h"

namespace sealrelay::relay {

namespace {

constexpr size_t kMaxHandshakeBytes = 65535;  // a Noise message (docs/protocol.md)

// A handshake message as base64: the error when it is not canonical base64 of
// 1..65535 bytes.
std::optional<Error> bad_handshake(const std::string& name, const std::string& b64) {
  std::vector<uint8_t> bytes;
  if (!base64::decode_into(b64, bytes) || bytes.empty()) {
    return make_error(ErrorCode::bad_request,
                      name + " must be canonical standard base64 of 1..65535 bytes");
  }
  if (bytes.size() > kMaxHandshakeBytes) {
    return make_error(ErrorCode::too_large, name + " exceeds 65535 bytes");
  }
  return std::nullopt;
}

bool valid_code(const std::string& code) {
  if (code.empty() || code.size() > 64) return false;
  for (char c : code) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) return false;
  }
  return true;
}

}  // namespace

Result<TransferInfo> Transfers::create(const Principal& who, const std::string& agent,
                                       const std::string& msg1_b64) {
  auto unknown =
      make_error(ErrorCode::unknown_agent, "no agent \"" + agent + "\" is visible to this token");
  if (!ids::valid_agent_id(agent) || !who.sees(agent)) return unknown;
  if (auto bad = bad_handshake("msg1", msg1_b64)) return *bad;
  auto a = store_.get_agent(agent);
  if (!a)
    return errors::is(a.error(), ErrorCode::unknown_agent) ? unknown
                                                           : Result<TransferInfo>(a.error());
  if (!a->online) return make_error(ErrorCode::agent_offline, "agent \"" + agent + "\" is offline");
  std::string tid = "t_" + random_hex(16);
  int64_t now = store_.now_ms() / 1000;
  // answer_in_upload: this relay takes the answer as the first record of
  // the frame upload (docs/api.md), which saves the agent a request.
  std::string inbox = json_text(
      {{"transfer_id", tid}, {"msg1", msg1_b64}, {"created", now}, {"answer_in_upload", true}});
  return store_.create_transfer(tid, agent, who.token_id, inbox);
}

Result<TransferInfo> Transfers::owned(const std::string& tid, const Principal& who) {
  auto unknown = make_error(ErrorCode::unknown_transfer, "no transfer " + tid);
  if (!ids::valid_transfer_id(tid)) return unknown;
  auto t = store_.get_transfer(tid);
  if (!t) return t.error();
  bool mine = who.kind == TokenKind::agent ? t->agent == who.agent
                                           : t->requester == who.token_id && who.sees(t->agent);
  if (!mine) return unknown;
  return expire_if_overdue(*t);
}

Result<std::vector<TransferInfo>> Transfers::list(const Principal& who) {
  auto all = store_.list_transfers(who.token_id);
  if (!all) return all.error();
  std::vector<TransferInfo> out;
  for (auto& t : *all) {
    if (who.sees(t.agent)) out.push_back(expire_if_overdue(t));
  }
  return out;
}

Result<TransferInfo> Transfers::answer(const TransferInfo& t, const std::string& msg2_b64) {
  if (auto bad = bad_handshake("msg2", msg2_b64)) return *bad;
  return store_.answer(t.id, event_stream::record(event_stream::Type::answer, 0, msg2_b64));
}

Result<TransferInfo> Transfers::refuse(const TransferInfo& t, const std::optional<std::string>& code,
                                       const std::optional<std::string>& message) {
  if (!code || !valid_code(*code) || !message || message->size() > 1024) {
    return make_error(
        ErrorCode::bad_request,
        "need {\"msg2\": base64} or {\"error\": [a-z0-9_]{1,64}, \"message\": <=1024 chars}");
  }
  auto r = store_.finish(t.id, State::failed, *code, *message, error_event(*code, *message),
                         State::requested);
  if (!r) return r;
  if (r->state != State::failed || r->error_code != *code) {
    return make_error(ErrorCode::conflict, "transfer " + t.id + " is " + to_string(r->state));
  }
  return r;
}

Result<TransferInfo> Transfers::cancel(const TransferInfo& t) {
  return store_.finish(t.id, State::cancelled, "cancelled", "cancelled by the requester",
                       error_event("cancelled", "cancelled by the requester"), std::nullopt);
}

Result<TransferInfo> Transfers::release(const TransferInfo& t) {
  if (t.state != State::complete) return cancel(t);
  return store_.finish(t.id, State::complete, "", "", ": released\n\n", State::complete);
}

TransferInfo Transfers::expire_if_overdue(TransferInfo t) {
  int64_t now = store_.now_ms() / 1000;
  if (t.state != State::requested || t.created + answer_timeout_.count() > now) return t;
  auto r = store_.finish(t.id, State::expired, "expired", "the agent did not answer in time",
                         error_event("expired", "the agent did not answer in time"),
                         State::requested);
  return r ? *r : t;
}

}  // namespace sealrelay::relay
