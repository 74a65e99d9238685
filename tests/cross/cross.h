// The arm64 build (scripts/build-cross arm64, run by this build's ctest
// fixture cross_arm64_build into SEALRELAY_CROSS_ARM64_DIR, by default
// cross-arm64/ of this build) as the x86-64 tests see it.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sealrelay::test::cross {

// The arm64 build directory: $SEALRELAY_CROSS_ARM64_DIR, else the one this
// build was configured with.
std::string arm64_dir();

// True when SEALRELAY_REQUIRE_CROSS is 1 (every target) or a comma list
// naming `target` ("arm64", "windows"): an absent tool or build of that
// target is a failure there (CI), a skip elsewhere.
bool required(std::string_view target);

// Why the arm64 agent cannot be run here (nullopt: it can): no qemu-aarch64,
// or no arm64 agent binary.
std::optional<std::string> agent_absent();

// The command line that runs the arm64 agent with `args` under qemu-aarch64.
std::vector<std::string> agent_argv(const std::vector<std::string>& args);

// The ELF machine of the file at `path` (EM_AARCH64 is 183), or -1 when it
// is not an ELF file.
int elf_machine(const std::string& path);

// The Windows build directory: $SEALRELAY_CROSS_WINDOWS_DIR, else the one
// this build was configured with (cross-windows/ of this build).
std::string windows_dir();

// Debian's wine64 (the package has no /usr/bin/wine), or "" when absent.
std::string wine();

// Why the Windows agent cannot be run here (nullopt: it can): no wine64, or
// no sealrelay-agent.exe.
std::optional<std::string> windows_agent_absent();

// The command line that runs the Windows agent with `args` under wine, in
// the Windows build's own wine prefix.
std::vector<std::string> windows_agent_argv(const std::vector<std::string>& args);

// A path of this machine as the Windows agent under wine names it: wine maps
// the Linux root to drive Z:.
std::string windows_local(const std::string& path);

}  // namespace sealrelay::test::cross
