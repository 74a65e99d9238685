// The Windows service as data: what `sealrelay-agent service install` asks
// the Service Control Manager for (account, failure actions, command line)
// and the folders and access lists it prepares under %ProgramData%.
// Portable, so the choices are unit tested on Linux and under wine;
// service_windows.cpp makes the Win32 calls with them.
#pragma once

#include "base/result.h"

#include <chrono>
#include <cstddef>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sealrelay::agent::service {

inline constexpr std::string_view kName = "sealrelay-agent";
inline constexpr std::string_view kDisplayName = "sealrelay agent";
inline constexpr std::string_view kDescription =
    "Serves this machine's configured shares to trusted requesters through a sealrelay relay, end to end "
    "encrypted. Connects out only.";

enum class Action { install, uninstall, start, stop, status };

// "install", "uninstall", "start", "stop", "status"; nullopt otherwise.
std::optional<Action> parse_action(std::string_view name);

// The account the service runs as: LocalService, not SYSTEM (no rights
// beyond an ordinary user's on this machine, anonymous on the network; the
// agent needs neither more nor a password). It is a well-known SID, so the
// folders' access lists can name it before the service exists (the .msi,
// `init`); a virtual account (NT SERVICE\sealrelay-agent) exists only once
// the service is registered, and wine does not know it.
struct Account {
  std::string_view name;        // For CreateService: NT AUTHORITY\LocalService.
  std::string_view sid;         // S-1-5-19.
  std::string_view sddl_alias;  // LS.
};
Account account();

// What the SCM does when the service ends without being asked: restart it,
// later each time, and forget the count after a quiet day.
struct FailurePolicy {
  std::chrono::seconds reset_after;
  std::vector<std::chrono::milliseconds> restart_delays;  // One SC_ACTION_RESTART each; the last repeats.
};
FailurePolicy failure_policy();

// The command line the SCM starts: the exe and the config file quoted, so
// a path with spaces cannot be read as C:\Program.exe (the unquoted service
// path escalation). Error "bad_config" for a path holding a double quote
// (not quotable on Windows) or a control character.
Result<std::string> command_line(std::string_view exe, std::string_view config);

// The service's folders under %ProgramData% (`program_data`).
struct Paths {
  std::filesystem::path state_dir;  // ProgramData\sealrelay\agent: key, trust list, replay state.
  std::filesystem::path config;     // ProgramData\sealrelay\agent\sealrelay-agent.conf.
  std::filesystem::path logs_dir;   // ProgramData\sealrelay\logs.
  std::filesystem::path log_file;   // ProgramData\sealrelay\logs\sealrelay-agent.log.
};
Paths paths(const std::filesystem::path& program_data);

// Access lists as SDDL (protected: nothing inherited from ProgramData,
// whose default lets Users read). The folders: SYSTEM and Administrators
// full control, the service account modify (it writes its replay state and
// logs), inherited by what is created in them. The key file: SYSTEM and
// Administrators full control, the service account read only; this is what
// crypto/key_file.h's check accepts when the service reads it.
std::string folder_sddl();
std::string key_sddl();

// The rotating log file: at most kLogFiles files of kLogFileBytes each
// (sealrelay-agent.log, .1.log, ... .4.log), 50 MiB in all; errors also go
// to the Application event log under kName.
inline constexpr size_t kLogFileBytes = 10 * 1024 * 1024;
inline constexpr size_t kLogFiles = 5;

}  // namespace sealrelay::agent::service
