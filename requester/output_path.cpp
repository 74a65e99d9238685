#include "requester/output_path.h"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "proto/errors.h"
#include "requester/terminal.h"

namespace sealrelay::requester {
namespace fs = std::filesystem;

namespace {

Error unsafe(const fs::path& root, const fs::path& relative, const std::string& why) {
  return make_error(ErrorCode::unsafe_path, "refusing to write \"" + escaped(relative.string()) + "\" under " +
                                                escaped(root.string()) + ": " + why);
}

// `inner` is `outer` or below it (both absolute and normal).
bool is_under(const fs::path& inner, const fs::path& outer) {
  auto [o, i] = std::mismatch(outer.begin(), outer.end(), inner.begin(), inner.end());
  return o == outer.end() || (std::next(o) == outer.end() && o->empty());  // "a/b/" ends in an empty element
}

}  // namespace

Result<fs::path> path_under(const fs::path& root, const fs::path& relative, bool create_parents) {
  if (relative.empty() || relative.is_absolute() || relative.has_root_name() || relative.has_root_directory()) {
    return unsafe(root, relative, "not a relative path");
  }
  for (const auto& part : relative) {
    if (part.empty() || part == "." || part == "..") return unsafe(root, relative, "it names a parent or no file");
  }
  const fs::path joined = root / relative;
  std::error_code ec;
  const fs::path absolute_root = fs::absolute(root, ec);
  if (ec || !is_under((absolute_root / relative).lexically_normal(), absolute_root.lexically_normal())) {
    return unsafe(root, relative, "it leads outside");
  }
  const fs::path real_root = fs::canonical(root, ec);
  if (ec) return make_error(ErrorCode::io, "cannot use the output folder " + escaped(root.string()) + ": " + ec.message());
  fs::path dir = root;
  for (const auto& part : relative.parent_path()) {
    dir /= part;
    if (create_parents && ::mkdir(dir.c_str(), 0777) != 0 && errno != EEXIST) {
      return make_error(ErrorCode::io, "cannot create " + escaped(dir.string()) + ": " + std::strerror(errno));
    }
    // Checked at each step, before anything is created below it.
    fs::path real = fs::canonical(dir, ec);
    if (ec && !create_parents && ec == std::errc::no_such_file_or_directory) break;  // nothing there to follow
    if (ec || !fs::is_directory(real)) return unsafe(root, relative, escaped(dir.string()) + " is not a folder");
    if (!is_under(real, real_root)) {
      return unsafe(root, relative, escaped(dir.string()) + " leads outside it (a symbolic link)");
    }
  }
  return joined;
}

}  // namespace sealrelay::requester
