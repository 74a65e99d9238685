// Interop fixture for the browser page's JavaScript (web/js/): runs the C++
// side of several transfers and prints everything the JS needs to replay
// them, as one JSON document on stdout. web/test/interop.test.mjs runs it,
// rebuilds message 1 in JS from the same keys and ephemeral and checks it is
// byte-identical, finishes the handshake with the C++ message 2, and opens
// every frame the C++ FrameSealer made.
//
// Keys and content are deterministic (derived from labels); frame nonces are
// random, as in production, so frames differ from run to run.
//
// The other direction, JS to C++: `read-message1 B64` reads a message 1 made
// in JS as the agent and decodes its request; `decode-answer B64` decodes an
// answer payload made in JS. Each prints {"ok":true,...the fields} or
// {"ok":false,"code":...,"message":...}.
//
// Usage: web_interop_fixture > fixture.json
//        web_interop_fixture read-message1 BASE64 | decode-answer BASE64
#include <sodium.h>

#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "base/base64.h"
#include "crypto/frames.h"
#include "crypto/keys.h"
#include "crypto/payloads.h"
#include "crypto/session.h"
#include "crypto/sha256.h"

namespace sealrelay {
namespace {

using nlohmann::json;
using Bytes = std::vector<uint8_t>;

std::span<const uint8_t> bytes_of(std::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

std::string hex(std::span<const uint8_t> b) {
  std::string out(b.size() * 2 + 1, '\0');
  sodium_bin2hex(out.data(), out.size(), b.data(), b.size());
  out.pop_back();
  return out;
}

std::string b64(std::span<const uint8_t> b) { return base64::encode(b); }

// A key pair whose private key is BLAKE2b-256 of `label`.
Identity identity_from(std::string_view label) {
  Identity id;
  crypto_generichash(id.private_key.data(), id.private_key.size(), bytes_of(label).data(), label.size(), nullptr, 0);
  id.public_key = public_key_of(id.private_key);
  return id;
}

json identity_json(const Identity& id) {
  return {{"private", hex(id.private_key.span())}, {"public", hex(id.public_key)},
          {"public_b64", encode_public_key(id.public_key)}, {"fingerprint", fingerprint_of(id.public_key)}};
}

// n bytes of deterministic content (BLAKE2b in counter mode over `label`).
Bytes content(std::string_view label, size_t n) {
  Bytes out(n);
  for (size_t at = 0, block = 0; at < n; at += 64, ++block) {
    uint8_t digest[64];
    std::string input = std::string(label) + "/" + std::to_string(block);
    crypto_generichash(digest, sizeof digest, bytes_of(input).data(), input.size(), nullptr, 0);
    std::copy(digest, digest + std::min<size_t>(64, n - at), out.begin() + static_cast<ptrdiff_t>(at));
  }
  return out;
}

struct Session {
  json doc;
  TransferKeys keys;
};

// One handshake: the requester (fixed ephemeral) asks `request`, the agent
// answers `answer`. Fails loudly: this program is a test fixture.
Session handshake(const Identity& requester, const Identity& agent, std::string_view ephemeral_label,
                  const Request& request, const Answer& answer) {
  Identity ephemeral = identity_from(ephemeral_label);
  std::string request_payload = encode_request(request);
  auto init = InitiatorHandshake::start_for_test(requester, agent.public_key, bytes_of(request_payload), &ephemeral);
  if (!init.ok()) std::abort();
  auto resp = ResponderHandshake::read(agent, init->message1());
  if (!resp.ok() || resp->requester_key() != requester.public_key) std::abort();
  std::string answer_payload = encode_answer(answer);
  auto reply = resp->answer(bytes_of(answer_payload));
  if (!reply.ok()) std::abort();
  auto done = init->finish(reply->message2);
  if (!done.ok()) std::abort();

  Session s;
  s.doc = {{"ephemeral", identity_json(ephemeral)},
           {"request", {{"op", std::string(op_name(request.op))},
                        {"path", request.path},
                        {"offset", request.offset},
                        {"chunk_size", request.chunk_size},
                        {"ts", request.timestamp_ms},
                        {"offer_compression", request.offer_compression}}},
           {"request_payload", b64(bytes_of(request_payload))},
           {"message1", b64(init->message1())},
           {"answer_payload", b64(bytes_of(answer_payload))},
           {"message2", b64(reply->message2)},
           {"frame_key", hex(reply->keys.frame_key.span())},
           {"handshake_hash", hex(reply->keys.handshake_hash)},
           {"frames", json::array()}};
  s.keys = std::move(reply->keys);
  return s;
}

void add_frame(Session& s, const Bytes& frame) { s.doc["frames"].push_back(b64(frame)); }

// Seals `data` in chunks of `chunk_size` from `first_index`, after absorbing
// data[0, prefix). Ends with the trailer, or with an abort after
// `abort_after` chunks when that is set.
void seal(Session& s, const Bytes& data, size_t chunk_size, size_t prefix, uint64_t first_index,
          std::optional<size_t> abort_after = std::nullopt, bool compress = false) {
  FrameSealer sealer(s.keys, first_index);
  if (compress) sealer.compress_chunks();
  sealer.absorb_prefix(std::span<const uint8_t>(data).first(prefix));
  Bytes frame;
  size_t chunks = 0;
  for (size_t at = prefix; at < data.size(); at += chunk_size, ++chunks) {
    if (abort_after && chunks == *abort_after) break;
    sealer.seal_chunk(std::span<const uint8_t>(data).subspan(at, std::min(chunk_size, data.size() - at)), frame);
    add_frame(s, frame);
  }
  if (abort_after) {
    sealer.seal_abort("changed", "the file changed while it was sent: \"a.log\" grew", frame);
    s.doc["expect"] = {{"error", "aborted"}, {"agent_code", "changed"},
                       {"agent_message", "the file changed while it was sent: \"a.log\" grew"},
                       {"content_bytes", chunks * chunk_size}};
  } else {
    sealer.seal_trailer(frame);
    s.doc["expect"] = {{"error", nullptr}, {"content_bytes", data.size() - prefix}};
  }
  add_frame(s, frame);
  s.doc["prefix"] = b64(std::span<const uint8_t>(data).first(prefix));
  s.doc["content_sha256"] = hex(Sha256::of(data));
  s.doc["content"] = b64(std::span<const uint8_t>(data).subspan(prefix));
}

int run() {
  if (sodium_init() < 0) return 1;
  Identity requester = identity_from("sealrelay interop requester");
  Identity agent = identity_from("sealrelay interop agent");
  json out = {{"requester", identity_json(requester)}, {"agent", identity_json(agent)}, {"sessions", json::array()}};

  constexpr size_t kChunk = 16 * 1024;
  {  // A multi-chunk file with a short last chunk, then the trailer.
    Bytes data = content("file", 4 * kChunk + 1234);
    // A path that exercises JSON escaping: UTF-8, quotes, backslash, control characters.
    Request req{Op::kGet, "/share/d\xC3\xBCr \"q\" \\ \t\x01\x1f/\xE3\x83\x95\xE3\x82\xA1.bin", 0, kChunk,
                1763677025123};
    Answer ans{true, "", "", EntryType::kFile, "\xE3\x83\x95\xE3\x82\xA1.bin", data.size(), 1763670000, kChunk, 0, 0,
               true};
    Session s = handshake(requester, agent, "ephemeral 1", req, ans);
    seal(s, data, kChunk, 0, 0);
    s.doc["name"] = "file";
    out["sessions"].push_back(std::move(s.doc));
  }
  {  // A resumed download: the requester holds the first 2 chunks.
    Bytes data = content("resume", 5 * kChunk);
    Request req{Op::kGet, "/share/big.iso", 2 * kChunk + 100, kChunk, 1763677025124};
    Answer ans{true, "", "", EntryType::kFile, "big.iso", data.size(), 1763670001, kChunk, 2 * kChunk, 2, true};
    Session s = handshake(requester, agent, "ephemeral 2", req, ans);
    seal(s, data, kChunk, 2 * kChunk, 2);
    s.doc["name"] = "resume";
    out["sessions"].push_back(std::move(s.doc));
  }
  {  // The agent gives up after two chunks: an abort frame.
    Bytes data = content("abort", 4 * kChunk);
    Request req{Op::kGet, "/share/a.log", 0, kChunk, 1763677025125};
    Answer ans{true, "", "", EntryType::kFile, "a.log", data.size(), 1763670002, kChunk, 0, 0, true};
    Session s = handshake(requester, agent, "ephemeral 3", req, ans);
    seal(s, data, kChunk, 0, 0, 2);
    s.doc["name"] = "abort";
    out["sessions"].push_back(std::move(s.doc));
  }
  {  // A directory listing, streamed in frames like a file.
    std::vector<ListEntry> entries = {{"a.jpg", EntryType::kFile, 1048576, 1763670000},
                                      {"2026", EntryType::kDirectory, 0, 1763600000},
                                      {"caf\xC3\xA9 \"x\".txt", EntryType::kFile, 3, -5}};
    std::string doc = encode_listing(entries);
    Bytes data(doc.begin(), doc.end());
    Request req{Op::kList, "/share", 0, protocol::kMinChunkBytes, 1763677025126};
    Answer ans{true, "", "", EntryType::kDirectory, "share", data.size(), 1763600000, protocol::kMinChunkBytes, 0, 0,
               true};
    Session s = handshake(requester, agent, "ephemeral 4", req, ans);
    seal(s, data, protocol::kMinChunkBytes, 0, 0);
    s.doc["name"] = "list";
    s.doc["listing"] = json::array();
    for (const auto& e : entries) {
      s.doc["listing"].push_back(
          {{"name", e.name}, {"type", std::string(entry_type_name(e.type))}, {"size", e.size}, {"mtime", e.mtime}});
    }
    out["sessions"].push_back(std::move(s.doc));
  }
  {  // Compression offered and agreed: text chunks go compressed, a random one as it is.
    std::string rows;
    while (rows.size() < 3 * kChunk) rows += "2026-12-07,SKU-" + std::to_string(10000 + rows.size() % 977) + ",12.50\n";
    Bytes data(rows.begin(), rows.begin() + 3 * kChunk);
    Bytes noise = content("noise", kChunk);
    data.insert(data.end(), noise.begin(), noise.end());
    Request req{Op::kGet, "/share/sales.csv", 0, kChunk, 1763677025128, true};
    Answer ans{true, "", "", EntryType::kFile, "sales.csv", data.size(), 1763670003, kChunk, 0, 0, true, true};
    Session s = handshake(requester, agent, "ephemeral 6", req, ans);
    seal(s, data, kChunk, 0, 0, std::nullopt, true);
    s.doc["name"] = "compressed";
    out["sessions"].push_back(std::move(s.doc));
  }
  {  // A refusal: no frames follow.
    Request req{Op::kStat, "/elsewhere", 0, protocol::kDefaultChunkBytes, 1763677025127};
    Answer ans;
    ans.ok = false;
    ans.error = "not_allowed";
    ans.message = "outside the shares";
    Session s = handshake(requester, agent, "ephemeral 5", req, ans);
    s.doc["name"] = "refusal";
    out["sessions"].push_back(std::move(s.doc));
  }
  std::string text = out.dump(1);
  std::fwrite(text.data(), 1, text.size(), stdout);
  std::fputc('\n', stdout);
  return std::fflush(stdout) == 0 ? 0 : 1;
}

json error_json(const Error& e) { return {{"ok", false}, {"code", e.code}, {"message", e.message}}; }

int print(const json& doc) {
  std::string text = doc.dump();
  std::fwrite(text.data(), 1, text.size(), stdout);
  std::fputc('\n', stdout);
  return std::fflush(stdout) == 0 ? 0 : 1;
}

// The C++ agent's reading of a message 1 made in JS.
int read_message1(std::string_view b64_message) {
  if (sodium_init() < 0) return 1;
  Bytes message;
  if (!base64::decode_into(b64_message, message)) return 2;
  auto resp = ResponderHandshake::read(identity_from("sealrelay interop agent"), message);
  if (!resp.ok()) return print(error_json(resp.error()));
  auto r = decode_request(resp->request());
  if (!r.ok()) return print(error_json(r.error()));
  return print({{"ok", true},
                {"payload_bytes", resp->request().size()},
                {"op", std::string(op_name(r->op))},
                {"path", r->path},
                {"offset", r->offset},
                {"chunk_size", r->chunk_size},
                {"ts", r->timestamp_ms}});
}

// The C++ requester's reading of an answer payload made in JS.
int decode_answer_payload(std::string_view b64_payload) {
  Bytes payload;
  if (!base64::decode_into(b64_payload, payload)) return 2;
  auto a = decode_answer(payload);
  if (!a.ok()) return print(error_json(a.error()));
  if (!a->ok) return print({{"ok", true}, {"accepted", false}, {"error", a->error}, {"message", a->message}});
  return print({{"ok", true}, {"accepted", true}, {"type", std::string(entry_type_name(a->type))}, {"name", a->name},
                {"size", a->size}, {"mtime", a->mtime}, {"chunk_size", a->chunk_size}, {"offset", a->offset},
                {"first_index", a->first_index}, {"frames", a->frames}});
}

}  // namespace
}  // namespace sealrelay

int main(int argc, char** argv) {
  if (argc == 1) return sealrelay::run();
  std::string_view mode = argv[1];
  if (argc == 3 && mode == "read-message1") return sealrelay::read_message1(argv[2]);
  if (argc == 3 && mode == "decode-answer") return sealrelay::decode_answer_payload(argv[2]);
  std::fputs("usage: web_interop_fixture [read-message1 BASE64 | decode-answer BASE64]\n", stderr);
  return 2;
}
