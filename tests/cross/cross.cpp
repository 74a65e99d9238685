#include "tests/cross/cross.h"

#include <elf.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

namespace sealrelay::test::cross {
namespace {

std::string on_path(const std::string& name) {
  const char* path = std::getenv("PATH");
  std::stringstream dirs(path ? path : "/usr/bin:/bin");
  for (std::string dir; std::getline(dirs, dir, ':');) {
    std::string candidate = dir + "/" + name;
    if (!dir.empty() && ::access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return "";
}

std::string agent_binary() { return arm64_dir() + "/agent/sealrelay-agent"; }

}  // namespace

std::string arm64_dir() {
  const char* dir = std::getenv("SEALRELAY_CROSS_ARM64_DIR");
  return dir && *dir ? dir : SEALRELAY_CROSS_ARM64_DIR;
}

bool required(std::string_view target) {
  const char* v = std::getenv("SEALRELAY_REQUIRE_CROSS");
  if (!v) return false;
  std::string_view list(v);
  if (list == "1") return true;
  while (!list.empty()) {
    auto comma = list.find(',');
    if (list.substr(0, comma) == target) return true;
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
  return false;
}

std::optional<std::string> agent_absent() {
  if (on_path("qemu-aarch64").empty()) return "qemu-aarch64 not found (scripts/setup --cross arm64 installs qemu-user)";
  if (::access(agent_binary().c_str(), X_OK) != 0) {
    return "no arm64 agent at " + agent_binary() + " (scripts/build-cross arm64 builds it; the ctest fixture " +
           "cross_arm64_build runs it when the cross packages are installed)";
  }
  return std::nullopt;
}

std::vector<std::string> agent_argv(const std::vector<std::string>& args) {
  // The arm64 loader and libraries are libc6:arm64's multiarch ones, as on an
  // arm64 Debian machine (cmake/toolchains/arm64.cmake says why not -L).
  std::vector<std::string> argv{on_path("qemu-aarch64"), agent_binary()};
  argv.insert(argv.end(), args.begin(), args.end());
  return argv;
}

int elf_machine(const std::string& path) {
  Elf64_Ehdr header{};
  std::ifstream in(path, std::ios::binary);
  if (!in.read(reinterpret_cast<char*>(&header), sizeof header)) return -1;
  if (std::memcmp(header.e_ident, ELFMAG, SELFMAG) != 0 || header.e_ident[EI_CLASS] != ELFCLASS64 ||
      header.e_ident[EI_DATA] != ELFDATA2LSB) {
    return -1;  // Not a 64-bit little-endian ELF (the reading below assumes this host's order).
  }
  return header.e_machine;
}

std::string windows_dir() {
  const char* dir = std::getenv("SEALRELAY_CROSS_WINDOWS_DIR");
  return dir && *dir ? dir : SEALRELAY_CROSS_WINDOWS_DIR;
}

std::string wine() { return ::access("/usr/lib/wine/wine64", X_OK) == 0 ? "/usr/lib/wine/wine64" : ""; }

std::optional<std::string> windows_agent_absent() {
  if (wine().empty()) return "wine64 not found (scripts/setup --cross windows installs it)";
  const std::string exe = windows_dir() + "/agent/sealrelay-agent.exe";
  if (::access(exe.c_str(), R_OK) != 0) {
    return "no Windows agent at " + exe + " (scripts/build-cross windows builds it; the ctest fixture " +
           "cross_windows_build runs it when the cross packages are installed)";
  }
  return std::nullopt;
}

std::vector<std::string> windows_agent_argv(const std::vector<std::string>& args) {
  std::vector<std::string> argv{"/usr/bin/env", "WINEDEBUG=-all", "WINEPREFIX=" + windows_dir() + "/wineprefix", wine(),
                                windows_dir() + "/agent/sealrelay-agent.exe"};
  argv.insert(argv.end(), args.begin(), args.end());
  return argv;
}

std::string windows_local(const std::string& path) { return "Z:" + path; }

}  // namespace sealrelay::test::cross
