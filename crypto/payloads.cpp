#include "crypto/payloads.h"

#include <nlohmann/json.hpp>

#include "crypto/tree_stream.h"

#include <algorithm>
#include <limits>
#include <optional>

namespace sealrelay {
namespace {

using nlohmann::json;

using protocol::kMaxCodeBytes;
using protocol::kMaxMessageBytes;
using protocol::kMaxNameBytes;

std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

Error bad(std::string what) { return make_error("bad_request", "malformed payload: " + std::move(what)); }

Result<json> parse_object(std::span<const uint8_t> bytes) {
  // nlohmann takes a NUL byte for the end of the input and would ignore what
  // follows it; JSON has no raw NUL, and JSON.parse in the page refuses it.
  if (std::find(bytes.begin(), bytes.end(), uint8_t{0}) != bytes.end()) return bad("not a JSON object");
  json j = json::parse(bytes.begin(), bytes.end(), nullptr, false);
  if (j.is_discarded() || !j.is_object()) return bad("not a JSON object");
  auto v = j.find("v");
  if (v == j.end() || !v->is_number_unsigned()) return bad("missing version");
  if (v->get<uint64_t>() != protocol::kVersion) {
    return make_error("unsupported_version", "payload version " + v->dump() + " is not supported (this build "
                                             "speaks version 1); upgrade the older side");
  }
  return j;
}

std::optional<std::string> get_string(const json& j, const char* key, size_t max_bytes, bool required = true) {
  auto it = j.find(key);
  if (it == j.end()) return required ? std::nullopt : std::optional<std::string>("");
  if (!it->is_string()) return std::nullopt;
  std::string s = it->get<std::string>();
  if (s.size() > max_bytes || s.find('\0') != std::string::npos) return std::nullopt;
  return s;
}

template <class T>
std::optional<T> get_number(const json& j, const char* key, T min, T max, std::optional<T> missing = std::nullopt) {
  auto it = j.find(key);
  if (it == j.end()) return missing;
  if (std::is_signed_v<T> ? !it->is_number_integer() : !it->is_number_unsigned()) return std::nullopt;
  if constexpr (std::is_signed_v<T>) {
    // nlohmann keeps values above INT64_MAX as unsigned; get<int64_t>() would wrap them.
    if (it->is_number_unsigned() && it->get<uint64_t>() > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      return std::nullopt;
    }
    int64_t v = it->get<int64_t>();
    if (v < min || v > max) return std::nullopt;
    return static_cast<T>(v);
  } else {
    uint64_t v = it->get<uint64_t>();
    if (v < min || v > max) return std::nullopt;
    return static_cast<T>(v);
  }
}

std::optional<EntryType> get_type(const json& j) {
  auto t = get_string(j, "type", 16);
  if (t == "file") return EntryType::kFile;
  if (t == "dir") return EntryType::kDirectory;
  return std::nullopt;
}

// docs/protocol.md §4.4. Spaces rather than zeros: they are JSON
// whitespace, so a receiver from before padding reads a padded payload as
// it is; the page's JSON.parse refuses a NUL.
std::string padded(std::string text) {
  const size_t bucket = protocol::kPayloadBucketBytes;
  text.resize((text.size() + bucket - 1) / bucket * bucket, ' ');
  return text;
}

// A message 1 or 2 payload: the JSON object, then any number of spaces
// (none from a sender before padding) and nothing else.
Result<json> parse_padded(std::span<const uint8_t> payload) {
  auto j = parse_object(payload);
  if (!j) return j;
  size_t end = payload.size();
  while (end > 0 && payload[end - 1] == ' ') --end;
  if (end == 0 || payload[end - 1] != '}') return bad("only spaces may follow the JSON object (padding)");
  return j;
}

constexpr int64_t kMaxTime = std::numeric_limits<int64_t>::max();
constexpr int64_t kMinTime = std::numeric_limits<int64_t>::min();
constexpr uint64_t kMaxU64 = std::numeric_limits<uint64_t>::max();

}  // namespace

std::string_view op_name(Op op) {
  switch (op) {
    case Op::kGet: return "get";
    case Op::kList: return "list";
    case Op::kStat: return "stat";
    case Op::kTree: return "tree";
  }
  std::abort();
}

std::string_view entry_type_name(EntryType type) { return type == EntryType::kFile ? "file" : "dir"; }

std::string encode_request(const Request& r) {
  json j{{"v", protocol::kVersion},
         {"op", op_name(r.op)},
         {"path", r.path},
         {"offset", r.offset},
         {"chunk_size", r.chunk_size},
         {"ts", r.timestamp_ms}};
  if (r.offer_compression) j["compress"] = json::array({protocol::kCompressionZstd});
  if (r.op == Op::kTree) {
    json select = json::object();
    if (!r.select.include.empty()) select["include"] = r.select.include;
    if (!r.select.exclude.empty()) select["exclude"] = r.select.exclude;
    if (r.select.newer_than) select["newer_than"] = *r.select.newer_than;
    if (r.select.max_depth) select["max_depth"] = *r.select.max_depth;
    if (!select.empty()) j["select"] = std::move(select);
    if (!r.contents) j["contents"] = false;
    if (r.resume) j["resume"] = json{{"path", r.resume->path}, {"offset", r.resume->offset}};
  }
  return padded(dump(j));
}

namespace {

// "compress": a list of at most 8 names of at most 16 bytes; names this
// build does not know are skipped (a newer requester may offer more).
std::optional<bool> get_compression_offer(const json& j) {
  auto it = j.find("compress");
  if (it == j.end()) return false;
  if (!it->is_array() || it->size() > 8) return std::nullopt;
  bool zstd = false;
  for (const auto& name : *it) {
    if (!name.is_string() || name.get_ref<const std::string&>().size() > 16) return std::nullopt;
    zstd = zstd || name.get_ref<const std::string&>() == protocol::kCompressionZstd;
  }
  return zstd;
}

// A list of select patterns (docs/protocol.md §4.5): at most
// tree::kMaxSelectPatterns strings without control characters; `budget` is
// what is left of tree::kMaxSelectBytes for all patterns together.
Result<void> get_patterns(const json& select, const char* key, std::vector<std::string>& out, size_t& budget) {
  auto it = select.find(key);
  if (it == select.end()) return {};
  if (!it->is_array() || it->size() > tree::kMaxSelectPatterns) {
    return bad(std::string("select.") + key + " must be a list of at most 64 patterns");
  }
  for (const auto& p : *it) {
    if (!p.is_string()) return bad(std::string("select.") + key + " must hold strings");
    const auto& text = p.get_ref<const std::string&>();
    if (text.size() > budget) return bad("the select patterns are longer than 8192 bytes together");
    budget -= text.size();
    if (std::any_of(text.begin(), text.end(), [](char c) { return static_cast<uint8_t>(c) < 0x20 || c == 0x7f; })) {
      return bad("a select pattern holds a control character");
    }
    out.push_back(text);
  }
  return {};
}

Result<Request::Select> get_select(const json& j) {
  Request::Select out;
  auto it = j.find("select");
  if (it == j.end()) return out;
  if (!it->is_object()) return bad("select must be an object");
  size_t budget = tree::kMaxSelectBytes;
  if (auto ok = get_patterns(*it, "include", out.include, budget); !ok) return ok.error();
  if (auto ok = get_patterns(*it, "exclude", out.exclude, budget); !ok) return ok.error();
  if (it->contains("newer_than")) {
    auto newer = get_number<int64_t>(*it, "newer_than", kMinTime, kMaxTime);
    if (!newer) return bad("select.newer_than must be an integer (unix seconds)");
    out.newer_than = *newer;
  }
  if (it->contains("max_depth")) {
    auto depth = get_number<uint32_t>(*it, "max_depth", 1, tree::kMaxDepth);
    if (!depth) return bad("select.max_depth must be between 1 and 128");
    out.max_depth = *depth;
  }
  return out;
}

Result<std::optional<Request::Resume>> get_resume(const json& j) {
  auto it = j.find("resume");
  if (it == j.end()) return std::optional<Request::Resume>();
  if (!it->is_object()) return bad("resume must be an object");
  auto path = get_string(*it, "path", tree::kMaxPathBytes);
  auto offset = get_number<uint64_t>(*it, "offset", 0, kMaxU64, uint64_t{0});
  if (!path || !tree::check_path(*path)) return bad("resume.path must be a relative path of the folder stream");
  if (!offset) return bad("resume.offset must be an unsigned integer");
  return std::optional<Request::Resume>(Request::Resume{std::move(*path), *offset});
}

// The tree-only fields of a request (docs/protocol.md §4.1, §4.5).
Result<void> get_tree_fields(const json& j, Request& r) {
  auto select = get_select(j);
  if (!select) return select.error();
  r.select = std::move(*select);
  auto contents = j.find("contents");
  if (contents != j.end() && !contents->is_boolean()) return bad("contents must be a boolean");
  r.contents = contents == j.end() || contents->get<bool>();
  auto resume = get_resume(j);
  if (!resume) return resume.error();
  r.resume = std::move(*resume);
  return {};
}

}  // namespace

Result<Request> decode_request(std::span<const uint8_t> payload) {
  auto j = parse_padded(payload);
  if (!j) return j.error();
  Request r;
  auto op = get_string(*j, "op", 8);
  if (op == "get") r.op = Op::kGet;
  else if (op == "list") r.op = Op::kList;
  else if (op == "stat") r.op = Op::kStat;
  else if (op == "tree") r.op = Op::kTree;
  else return bad("op must be get, list, stat or tree");
  auto path = get_string(*j, "path", protocol::kMaxPathBytes);
  if (!path || path->empty()) return bad("path must be a non-empty string of at most 4096 bytes without NUL");
  r.path = std::move(*path);
  auto offset = get_number<uint64_t>(*j, "offset", 0, kMaxU64, uint64_t{0});
  auto chunk = get_number<uint32_t>(*j, "chunk_size", protocol::kMinChunkBytes, protocol::kMaxChunkBytes,
                                    uint32_t{protocol::kDefaultChunkBytes});
  auto ts = get_number<int64_t>(*j, "ts", 1, kMaxTime);
  if (!offset) return bad("offset must be an unsigned integer");
  if (!chunk) return bad("chunk_size must be between 4 KiB and 1 MiB");
  if (!ts) return bad("ts must be a positive integer (unix milliseconds)");
  auto compress = get_compression_offer(*j);
  if (!compress) return bad("compress must be a list of at most 8 short names");
  r.offer_compression = *compress;
  if (r.op == Op::kTree) {
    if (auto ok = get_tree_fields(*j, r); !ok) return ok.error();
  }
  r.offset = *offset;
  r.chunk_size = *chunk;
  r.timestamp_ms = *ts;
  return r;
}

std::string encode_answer(const Answer& a) {
  if (!a.ok) {
    return padded(dump(json{{"v", protocol::kVersion}, {"ok", false}, {"error", a.error}, {"message", a.message}}));
  }
  json j{{"v", protocol::kVersion},
         {"ok", true},
         {"type", entry_type_name(a.type)},
         {"name", a.name},
         {"size", a.size},
         {"mtime", a.mtime},
         {"chunk_size", a.chunk_size},
         {"offset", a.offset},
         {"first_index", a.first_index},
         {"frames", a.frames}};
  if (a.compression) j["compress"] = protocol::kCompressionZstd;
  if (a.files > 0) j["files"] = a.files;
  return padded(dump(j));
}

Result<Answer> decode_answer(std::span<const uint8_t> payload) {
  auto j = parse_padded(payload);
  if (!j) return j.error();
  Answer a;
  auto ok = j->find("ok");
  if (ok == j->end() || !ok->is_boolean()) return bad("ok must be a boolean");
  a.ok = ok->get<bool>();
  if (!a.ok) {
    auto error = get_string(*j, "error", kMaxCodeBytes);
    auto message = get_string(*j, "message", kMaxMessageBytes, false);
    if (!error || error->empty() || !message) return bad("a refusal needs an error code and a message");
    a.error = std::move(*error);
    a.message = std::move(*message);
    return a;
  }
  auto type = get_type(*j);
  auto name = get_string(*j, "name", kMaxNameBytes);
  auto size = get_number<uint64_t>(*j, "size", 0, kMaxU64);
  auto mtime = get_number<int64_t>(*j, "mtime", kMinTime, kMaxTime);
  auto chunk = get_number<uint32_t>(*j, "chunk_size", 0, protocol::kMaxChunkBytes);
  auto offset = get_number<uint64_t>(*j, "offset", 0, kMaxU64);
  auto first = get_number<uint64_t>(*j, "first_index", 0, kMaxU64);
  auto frames = j->find("frames");
  if (!type || !name || !size || !mtime || !chunk || !offset || !first || frames == j->end() ||
      !frames->is_boolean()) {
    return bad("answer metadata missing or of the wrong type");
  }
  if (frames->get<bool>() && *chunk < protocol::kMinChunkBytes) return bad("chunk_size out of range");
  if (*offset > *size) return bad("offset beyond the end of the file");
  auto compress = get_string(*j, "compress", 16, false);
  if (!compress || (!compress->empty() && *compress != protocol::kCompressionZstd)) {
    return bad("compress must be \"zstd\" when present");
  }
  auto files = get_number<uint64_t>(*j, "files", 0, kMaxU64, uint64_t{0});
  if (!files) return bad("files must be an unsigned integer");
  a.files = *files;
  a.compression = !compress->empty();
  a.type = *type;
  a.name = std::move(*name);
  a.size = *size;
  a.mtime = *mtime;
  a.chunk_size = *chunk;
  a.offset = *offset;
  a.first_index = *first;
  a.frames = frames->get<bool>();
  return a;
}

std::string encode_listing(const std::vector<ListEntry>& entries) {
  json list = json::array();
  for (const auto& e : entries) {
    list.push_back(json{{"name", e.name}, {"type", entry_type_name(e.type)}, {"size", e.size}, {"mtime", e.mtime}});
  }
  return dump(json{{"v", protocol::kVersion}, {"entries", std::move(list)}});
}

Result<std::vector<ListEntry>> decode_listing(std::span<const uint8_t> document) {
  auto j = parse_object(document);
  if (!j) return j.error();
  auto list = j->find("entries");
  if (list == j->end() || !list->is_array()) return bad("entries must be an array");
  std::vector<ListEntry> out;
  out.reserve(list->size());
  for (const auto& e : *list) {
    if (!e.is_object()) return bad("each entry must be an object");
    auto name = get_string(e, "name", kMaxNameBytes);
    auto type = get_type(e);
    auto size = get_number<uint64_t>(e, "size", 0, kMaxU64);
    auto mtime = get_number<int64_t>(e, "mtime", kMinTime, kMaxTime);
    if (!name || name->empty() || name->find('/') != std::string::npos || *name == "." || *name == ".." || !type ||
        !size || !mtime) {
      return bad("entry with a missing, unsafe or mistyped field");
    }
    out.push_back(ListEntry{std::move(*name), *type, *size, *mtime});
  }
  return out;
}

}  // namespace sealrelay
