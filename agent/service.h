// `sealrelay-agent service ...` and the agent running as a Windows service.
// service_windows.cpp talks to the Service Control Manager with the
// settings of service_plan.h; service_posix.cpp says the command exists
// only on Windows (Linux runs the agent under systemd:
// packaging/systemd/sealrelay-agent.service).
#pragma once

#include "agent/service_plan.h"
#include "base/result.h"

#include <filesystem>
#include <functional>
#include <optional>
#include <string>

namespace sealrelay::agent::service {

// Carries out `action` (install also prepares the folders: prepare()),
// prints what it did or the status, and returns the exit code: 0 done, 1
// failed (the message says the fix), 3 `status` of a service that is not
// installed. `config` is the file the service runs with (default:
// paths().config).
int command(Action action, const std::optional<std::string>& config);

// The service's folders under this machine's %ProgramData%
// (SHGetKnownFolderPath); nullopt where there is no such thing (POSIX).
std::optional<Paths> program_data_paths();

// Creates the state and log folders with folder_sddl() (or sets it on
// existing ones) and sets key_sddl() on `state_dir`/identity.key when it
// exists. Run by `service install` and by `init` into the default state
// folder, both as an administrator. Error "io_error" with the fix.
Result<void> prepare(const Paths& paths);

// Runs `body` (the agent's run) as the service's main: the SCM hears
// START_PENDING, then RUNNING when `body` calls the function it is given
// (its configuration checked, so `service start` reports a bad one), a
// SERVICE_CONTROL_STOP or _SHUTDOWN requests the stop (stop_signal.h) that
// makes `body` return, and the SCM hears STOPPED with its exit code
// (non-zero: a failure, so the failure actions restart it).
// Logs go to paths().log_file, rotating, and errors also to the Event Log.
// Returns `body`'s code, or 1 when not started by the SCM.
using ServiceBody = std::function<int(const std::function<void()>& running)>;
int run_as_service(const ServiceBody& body);

}  // namespace sealrelay::agent::service
