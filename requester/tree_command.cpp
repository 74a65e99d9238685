#include "requester/tree_command.h"

#include <algorithm>
#include <chrono>
#include <ctime>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "proto/errors.h"
#include "requester/exit_codes.h"
#include "requester/terminal.h"
#include "requester/tree_pull.h"
#include "requester/tree_report.h"

namespace sealrelay::requester {
namespace {

namespace fs = std::filesystem;

std::string last_of(const std::string& path) { return path.substr(path.find_last_of('/') + 1); }

// The agent's limits on select (docs/protocol.md §4.5), checked before
// anything is sent, with the fix in the message.
Result<void> check_patterns(const std::vector<std::string>& include, const std::vector<std::string>& exclude) {
  size_t bytes = 0;
  for (const auto* list : {&include, &exclude}) {
    if (list->size() > tree::kMaxSelectPatterns) {
      return make_error(ErrorCode::usage, "at most 64 --include and 64 --exclude patterns");
    }
    for (const auto& p : *list) {
      bytes += p.size();
      if (p.empty() || std::any_of(p.begin(), p.end(), [](char c) { return static_cast<uint8_t>(c) < 0x20 || c == 0x7f; })) {
        return make_error(ErrorCode::usage, "the pattern \"" + escaped(p) + "\" is empty or holds a control character");
      }
    }
  }
  if (bytes > tree::kMaxSelectBytes) return make_error(ErrorCode::usage, "the patterns are longer than 8192 bytes together");
  return {};
}

// What the arguments ask of the agent, and where the tree lands.
Result<TreePullOptions> plan(const TreeGetArgs& a, const Target& t) {
  TreePullOptions o;
  o.agent = t.agent;
  o.remote_path = t.path;
  o.select.include = a.include;
  o.select.exclude = a.exclude;
  if (a.max_depth) o.select.max_depth = a.max_depth;
  if (names_a_glob(t.path)) {
    // As cp would: the matching files of that folder, straight into OUT.
    if (!a.include.empty()) {
      return make_error(ErrorCode::usage, "a glob in the path and --include do not combine; use one of them");
    }
    o.select.include = {last_of(t.path)};
    o.select.max_depth = 1;
    o.remote_path = t.path.substr(0, t.path.find_last_of('/'));
    if (o.remote_path.empty()) o.remote_path = "/";
  } else {
    o.folder = last_of(t.path);
    if (o.folder.empty() || o.folder == "." || o.folder == "..") {
      return make_error(ErrorCode::usage, "\"" + escaped(t.path) + "\" names no folder: sealrelay get -r "
                                          "AGENT:/share/dir -o OUT/ (or AGENT:/share for a whole share)");
    }
  }
  if (!a.newer_than.empty()) {
    const auto now = std::chrono::duration_cast<std::chrono::seconds>(
                         std::chrono::system_clock::now().time_since_epoch()).count();
    auto newer = parse_newer_than(a.newer_than, now);
    if (!newer) return newer.error();
    o.select.newer_than = *newer;
  }
  if (auto ok = check_patterns(o.select.include, o.select.exclude); !ok) return ok.error();
  o.out = a.output.empty() ? fs::path(".") : fs::path(a.output);
  o.resume = a.resume;
  o.overwrite = a.force;
  o.strict = a.strict;
  if (a.max_entries) o.max_entries = a.max_entries;
  return o;
}

std::string local_time(int64_t unix_seconds) {
  const auto t = static_cast<std::time_t>(unix_seconds);
  char buf[32];
  std::tm tm{};
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", ::localtime_r(&t, &tm));
  return buf;
}

// Prints each entry of a listing stream as it comes (nothing is kept).
class ListPrinter : public tree::TreeVisitor {
 public:
  explicit ListPrinter(OutputMode mode) : mode_(mode) {}
  Result<void> on_dir(const tree::DirRecord& r) override { return line("dir", r.path, 0, r.mtime, ""); }
  Result<void> on_file(const tree::FileRecord& r) override { return line("file", r.path, r.size, r.mtime, ""); }
  Result<void> on_data(std::span<const uint8_t>) override { return {}; }
  Result<void> on_file_end(const tree::FileEndRecord&) override { return {}; }
  Result<void> on_skip(const tree::SkipRecord& r) override {
    return line("skipped", r.path, 0, 0, std::string(tree::skip_reason_name(r.reason)));
  }
  Result<void> on_end(const tree::EndRecord&) override { return {}; }

 private:
  Result<void> line(const char* type, const std::string& path, uint64_t size, int64_t mtime, const std::string& reason) {
    if (mode_ == OutputMode::kJson) {
      nlohmann::json j{{"path", path}, {"type", type}};
      if (std::string_view(type) == "file") j["size"] = size;
      if (mtime) j["mtime"] = mtime;
      if (!reason.empty()) j["reason"] = reason;
      std::printf("%s\n", j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
    } else if (reason.empty()) {
      const bool dir = std::string_view(type) == "dir";
      std::printf("%s %12s  %s  %s%s\n", dir ? "d" : "-", dir ? "-" : human_bytes(size).c_str(),
                  local_time(mtime).c_str(), escaped(path).c_str(), dir ? "/" : "");
    } else {
      std::printf("! %12s  %-19s  %s (%s)\n", "-", "skipped", escaped(path).c_str(), reason.c_str());
    }
    return {};
  }
  OutputMode mode_;
};

class ListSink : public Sink {
 public:
  explicit ListSink(OutputMode mode) : printer_(mode) {}
  Result<void> begin(const Answer& answer, const std::function<void(std::span<const uint8_t>)>&) override {
    if (answer.type != EntryType::kDirectory) return make_error(ErrorCode::not_allowed, "not a folder: drop -r");
    decoder_.emplace(printer_, tree::DecoderOptions{false, std::nullopt, tree::kDefaultMaxEntries});
    return {};
  }
  Result<void> write(std::span<const uint8_t> chunk) override { return decoder_->feed(chunk); }
  Result<void> commit() override { return decoder_->finish(); }
  void abandon(const Error&) override {}

 private:
  ListPrinter printer_;
  std::optional<tree::TreeDecoder> decoder_;
};

}  // namespace

Result<int> list_tree(const std::string& source, uint32_t max_depth, OutputMode mode, const TreeSender& send) {
  auto target = parse_target(source);
  if (!target) return target.error();
  RequestOptions options;
  options.op = Op::kTree;
  options.contents = false;
  if (max_depth) options.select.max_depth = max_depth;
  ListSink sink(mode);
  auto listed = send(*target, options, sink);
  if (!listed) {
    if (errors::is(listed.error(), ErrorCode::bad_request)) {
      return make_error(ErrorCode::bad_request, "agent \"" + target->agent + "\" does not list folders recursively (" +
                                                    listed.error().message + "): upgrade sealrelay-agent there");
    }
    return listed.error();
  }
  return kExitOk;
}

bool names_a_glob(const std::string& path) { return last_of(path).find_first_of("*?[") != std::string::npos; }

Result<int> get_tree(const TreeGetArgs& a, const TreeSender& send) {
  auto target = parse_target(a.source);
  if (!target) return target.error();
  auto o = plan(a, *target);
  if (!o) return o.error();
  std::error_code ec;
  fs::create_directories(o->out, ec);
  if (!fs::is_directory(o->out, ec)) {
    return make_error(ErrorCode::usage, "-o " + escaped(o->out.string()) + " is not a folder (a folder pull needs one)");
  }
  const std::string output = (o->folder.empty() ? o->out : o->out / o->folder).string();
  TreeReport report(a.mode, target->agent + ":" + target->path);
  auto pulled = pull_tree(*o, RequestOptions{}, report, [&](const RequestOptions& options, Sink& sink) {
    return send(Target{target->agent, o->remote_path}, options, sink);
  });
  if (pulled || report.began()) report.summarize(output, pulled ? "" : pulled.error().code);
  if (!pulled) return pulled.error();
  return report.skipped() || report.failed() ? kExitPartial : kExitOk;
}

}  // namespace sealrelay::requester
