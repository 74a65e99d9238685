#include "requester/tree_command.h"

#include <algorithm>
#include <chrono>
#include <filesystem>

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

}  // namespace

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
  report.summarize(output, pulled ? "" : pulled.error().code);
  if (!pulled) return pulled.error();
  return report.skipped() || report.failed() ? kExitPartial : kExitOk;
}

}  // namespace sealrelay::requester
