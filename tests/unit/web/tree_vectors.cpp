// Folder streams made by the C++ encoder (crypto/tree_stream.h), each with
// what the C++ decoder made of it, as JSON for web/test/tree_vectors.test.mjs:
// the page's decoder (web/js/tree_stream.js) must tell its visitor the same
// lines, and refuse as bad_tree exactly the streams the C++ decoder refuses.
// Run through ctest ($SEALRELAY_TREE_VECTORS).
#include <cstdio>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "crypto/payloads.h"
#include "crypto/tree_stream.h"

using nlohmann::json;
using namespace sealrelay;
using namespace sealrelay::tree;

namespace {

std::string hex(std::span<const uint8_t> bytes) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  for (uint8_t b : bytes) out += {digits[b >> 4], digits[b & 15]};
  return out;
}

// The visitor's calls as lines; a file's content as one hex line.
class Recorder : public TreeVisitor {
 public:
  std::vector<std::string> lines;
  Result<void> on_dir(const DirRecord& r) override {
    char mode[8];
    std::snprintf(mode, sizeof mode, "%o", r.mode);
    return add("dir " + r.path + " " + mode + " " + std::to_string(r.mtime));
  }
  Result<void> on_file(const FileRecord& r) override {
    return add("file " + r.path + " " + std::to_string(r.size) + " " + std::to_string(r.offset));
  }
  Result<void> on_data(std::span<const uint8_t> bytes) override {
    if (lines.empty() || lines.back().rfind("data ", 0) != 0) lines.push_back("data ");
    lines.back() += hex(bytes);
    return {};
  }
  Result<void> on_file_end(const FileEndRecord& r) override {
    return add("end " + std::string(file_status_name(r.status)) + " " + hex(r.sha256));
  }
  Result<void> on_skip(const SkipRecord& r) override {
    return add("skip " + r.path + " " + std::string(skip_reason_name(r.reason)));
  }
  Result<void> on_end(const EndRecord& r) override {
    return add("END " + std::to_string(r.files) + " " + std::to_string(r.dirs) + " " + std::to_string(r.bytes) + " " +
               std::to_string(r.skipped));
  }

 private:
  Result<void> add(std::string line) {
    lines.push_back(std::move(line));
    return {};
  }
};

DecoderOptions options_with(bool contents, std::optional<std::string> resume_path = {},
                            uint64_t max_entries = kDefaultMaxEntries) {
  DecoderOptions o;
  o.contents = contents;
  o.resume_path = std::move(resume_path);
  o.max_entries = max_entries;
  return o;
}

json vector_of(const std::string& name, const std::vector<uint8_t>& stream, DecoderOptions options) {
  Recorder recorder;
  json v = {{"name", name}, {"hex", hex(stream)}, {"contents", options.contents}, {"max_entries", options.max_entries}};
  if (options.resume_path) v["resume"] = *options.resume_path;
  TreeDecoder decoder(recorder, options);
  // In pieces of 7 bytes, as frames would cut it anywhere.
  Result<void> r;
  for (size_t at = 0; at < stream.size() && r.ok(); at += 7) {
    r = decoder.feed(std::span(stream).subspan(at, std::min<size_t>(7, stream.size() - at)));
  }
  if (r.ok()) r = decoder.finish();
  v["lines"] = recorder.lines;
  v["error"] = r.ok() ? json(nullptr) : json(r.error().code);
  return v;
}

void data(std::vector<uint8_t>& out, std::string_view text) {
  append_data_header(out, text.size());
  out.insert(out.end(), text.begin(), text.end());
}

std::vector<uint8_t> good_tree() {
  std::vector<uint8_t> s;
  std::array<uint8_t, 32> sha{};
  sha.fill(0xab);
  append_dir(s, {"a", 1700000000, 0750});
  append_file(s, {"a/b.txt", 5, 1700000001, 0644, 0});
  data(s, "hel");
  data(s, "lo");
  append_file_end(s, {FileStatus::kOk, sha});
  append_dir(s, {"a/été", -5, 0700});
  append_skip(s, {"a/été/link", SkipReason::kSymlinkOut});
  append_file(s, {"a-b", 0, 0, 0600, 0});
  append_file_end(s, {FileStatus::kOk, sha});
  append_file(s, {"c", 9, 0, 0644, 0});
  data(s, "par");
  append_file_end(s, {FileStatus::kChanged, {}});
  append_skip(s, {"d\xef\xbf\xbd", SkipReason::kBadName});
  append_end(s, {2, 2, 5, 3});
  return s;
}

}  // namespace

int main() {
  json out = json::array();
  const std::vector<uint8_t> good = good_tree();
  out.push_back(vector_of("a tree", good, {}));
  std::vector<uint8_t> big;
  append_file(big, {"big", kMaxDataBytes + 1, 0, 0644, 0});
  append_data_header(big, kMaxDataBytes);
  big.resize(big.size() + kMaxDataBytes, 0x5a);
  data(big, "!");
  append_file_end(big, {FileStatus::kOk, {}});
  append_end(big, {1, 0, kMaxDataBytes + 1, 0});
  out.push_back(vector_of("a file in two full DATA records", big, {}));
  std::vector<uint8_t> listing;
  append_dir(listing, {"x", 0, 0755});
  append_file(listing, {"x/y", 123, 0, 0644, 0});
  append_end(listing, {1, 1, 123, 0});
  out.push_back(vector_of("without contents", listing, options_with(false)));
  out.push_back(vector_of("the same with contents expected", listing, {}));
  std::vector<uint8_t> resumed;
  append_file(resumed, {"p/q/r", 10, 0, 0644, 8});
  data(resumed, "xy");
  append_file_end(resumed, {FileStatus::kOk, {}});
  append_end(resumed, {1, 0, 10, 0});
  out.push_back(vector_of("resumed inside p/q", resumed, options_with(true, "p/q/r")));
  out.push_back(vector_of("resumed elsewhere", resumed, options_with(true, "p/z")));
  // Breaks of every kind, cut from the good tree.
  out.push_back(vector_of("no END", std::vector(good.begin(), good.end() - 37), {}));
  out.push_back(vector_of("one byte after END", [&] { auto s = good; s.push_back(6); return s; }(), {}));
  out.push_back(vector_of("an unknown type", [&] { auto s = good; s[0] = 9; return s; }(), {}));
  out.push_back(vector_of("a DIR length of 12", [&] { auto s = good; s[4] = 12; return s; }(), {}));
  out.push_back(vector_of("a mode above 0777", [&] { auto s = good; s[5 + 8 + 2] = 0x02; return s; }(), {}));
  auto slash = good;  // the first DIR's path "a" becomes "a/"
  slash[4] += 1;
  slash.insert(slash.begin() + 18, '/');
  out.push_back(vector_of("a path with a slash at the end", slash, {}));
  out.push_back(vector_of("the limit of entries", good, options_with(true, {}, 3)));
  // A tree request with every field, as the C++ encoder writes it: the
  // page's encodeRequest must write the same bytes.
  Request request;
  request.op = Op::kTree;
  request.path = "/demo/logs";
  request.chunk_size = 65536;
  request.timestamp_ms = 1763677025123;
  request.offer_compression = true;
  request.select.include = {"*.csv", "2026/*"};
  request.select.exclude = {"tmp"};
  request.select.newer_than = 1700000000;
  request.select.max_depth = 3;
  request.contents = false;
  request.resume = Request::Resume{"a/b.csv", 4096};
  Request plain = request;
  plain.select = {};
  plain.contents = true;
  plain.resume.reset();
  json requests = json::array();
  for (const Request* r : {&request, &plain}) requests.push_back(hex(std::span(
      reinterpret_cast<const uint8_t*>(encode_request(*r).data()), encode_request(*r).size())));
  std::printf("%s\n", json{{"streams", out}, {"requests", requests}}.dump(1).c_str());
  return 0;
}
