// service.h's commands against the Service Control Manager, with the
// settings of service_plan.h. Under wine these reach wine's services.exe
// (tests/cross/windows_service_test.cpp); real Windows' account, recovery
// and access checks are not exercised there.
#include "agent/service.h"

#include <windows.h>

#include <cstdio>
#include <memory>
#include <thread>
#include <vector>

#include "agent/win_file.h"

namespace sealrelay::agent::service {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

struct ScCloser {
  void operator()(SC_HANDLE h) const { ::CloseServiceHandle(h); }
};
using Sc = std::unique_ptr<std::remove_pointer_t<SC_HANDLE>, ScCloser>;

int fail(const char* what, DWORD code) {
  const char* fix = code == ERROR_ACCESS_DENIED ? "; run this from an elevated prompt (Run as administrator)"
                    : code == ERROR_SERVICE_DOES_NOT_EXIST ? "; install it first: sealrelay-agent service install"
                                                           : "";
  std::fprintf(stderr, "sealrelay-agent: %s failed (Windows error %lu)%s\n", what, static_cast<unsigned long>(code),
               fix);
  return 1;
}

const wchar_t* state_name(DWORD state) {
  switch (state) {
    case SERVICE_STOPPED: return L"stopped";
    case SERVICE_START_PENDING: return L"starting";
    case SERVICE_STOP_PENDING: return L"stopping";
    case SERVICE_RUNNING: return L"running";
    default: return L"pausing or paused";
  }
}

std::optional<SERVICE_STATUS_PROCESS> query(SC_HANDLE service) {
  SERVICE_STATUS_PROCESS s{};
  DWORD n = 0;
  if (!::QueryServiceStatusEx(service, SC_STATUS_PROCESS_INFO, reinterpret_cast<BYTE*>(&s), sizeof s, &n))
    return std::nullopt;
  return s;
}

// Polls until the service leaves `pending` (or 60 s pass): the SCM answers
// start and stop at once and the service gets there later.
std::optional<SERVICE_STATUS_PROCESS> wait_while(SC_HANDLE service, DWORD pending) {
  auto deadline = std::chrono::steady_clock::now() + 60s;
  auto s = query(service);
  while (s && s->dwCurrentState == pending && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(200ms);
    s = query(service);
  }
  return s;
}

// Recovery: restart on failure (service_plan.h), also when the agent exits
// with an error code rather than crashing. An SCM that does not know that
// last setting (wine's) still restarts a crashed service: a warning.
bool set_recovery(SC_HANDLE service) {
  FailurePolicy policy = failure_policy();
  std::vector<SC_ACTION> actions;
  for (auto delay : policy.restart_delays) actions.push_back({SC_ACTION_RESTART, static_cast<DWORD>(delay.count())});
  SERVICE_FAILURE_ACTIONSW fa{};
  fa.dwResetPeriod = static_cast<DWORD>(policy.reset_after.count());
  fa.cActions = static_cast<DWORD>(actions.size());
  fa.lpsaActions = actions.data();
  std::wstring description = win::wide(kDescription);
  SERVICE_DESCRIPTIONW d{description.data()};
  if (!::ChangeServiceConfig2W(service, SERVICE_CONFIG_DESCRIPTION, &d) ||
      !::ChangeServiceConfig2W(service, SERVICE_CONFIG_FAILURE_ACTIONS, &fa))
    return false;
  SERVICE_FAILURE_ACTIONS_FLAG on_error{TRUE};
  if (::ChangeServiceConfig2W(service, SERVICE_CONFIG_FAILURE_ACTIONS_FLAG, &on_error)) return true;
  if (::GetLastError() != ERROR_INVALID_LEVEL) return false;
  std::fprintf(stderr, "sealrelay-agent: warning: this Service Control Manager does not take "
                       "SERVICE_CONFIG_FAILURE_ACTIONS_FLAG: it restarts the service after a crash, not after an "
                       "error exit\n");
  return true;
}

std::wstring this_exe() {
  std::vector<wchar_t> buf(32768);
  DWORD n = ::GetModuleFileNameW(nullptr, buf.data(), static_cast<DWORD>(buf.size()));
  return std::wstring(buf.data(), n);
}

int install(const fs::path& config) {
  auto p = program_data_paths();
  if (!p) return fail("finding %ProgramData%", ::GetLastError());
  if (auto ok = prepare(*p); !ok) {
    std::fprintf(stderr, "sealrelay-agent: %s\n", ok.error().message.c_str());
    return 1;
  }
  auto line = command_line(win::utf8(this_exe()), win::utf8(config.wstring()));
  if (!line) {
    std::fprintf(stderr, "sealrelay-agent: %s\n", line.error().message.c_str());
    return 1;
  }
  Sc scm(::OpenSCManagerW(nullptr, nullptr, SC_MANAGER_CREATE_SERVICE | SC_MANAGER_CONNECT));
  if (!scm) return fail("opening the Service Control Manager", ::GetLastError());
  std::wstring name = win::wide(kName), display = win::wide(kDisplayName), cmd = win::wide(*line);
  std::wstring user = win::wide(account().name);
  Sc service(::CreateServiceW(scm.get(), name.c_str(), display.c_str(), SERVICE_ALL_ACCESS, SERVICE_WIN32_OWN_PROCESS,
                              SERVICE_AUTO_START, SERVICE_ERROR_NORMAL, cmd.c_str(), nullptr, nullptr, nullptr,
                              user.c_str(), nullptr));
  bool updated = false;
  if (!service && ::GetLastError() == ERROR_SERVICE_EXISTS) {  // Installed (the .msi, or before): update it.
    service.reset(::OpenServiceW(scm.get(), name.c_str(), SERVICE_ALL_ACCESS));
    updated = service && ::ChangeServiceConfigW(service.get(), SERVICE_WIN32_OWN_PROCESS, SERVICE_AUTO_START,
                                                SERVICE_ERROR_NORMAL, cmd.c_str(), nullptr, nullptr, nullptr,
                                                user.c_str(), nullptr, display.c_str());
    if (!updated) return fail("updating the installed service", ::GetLastError());
  }
  if (!service) return fail("creating the service", ::GetLastError());
  if (!set_recovery(service.get())) return fail("setting the service's recovery actions", ::GetLastError());
  std::printf("%s service %s: automatic start as %s, restarted on failure\n  %s\n",
              std::string(kName).c_str(), updated ? "updated" : "installed", std::string(account().name).c_str(),
              line->c_str());
  if (!fs::exists(config))
    std::printf("Write %s (see sealrelay-agent.conf.example), then: sealrelay-agent service start\n",
                win::utf8(config.wstring()).c_str());
  return 0;
}

int report(SC_HANDLE service) {
  auto s = query(service);
  if (!s) return fail("querying the service", ::GetLastError());
  std::printf("%s: %ls", std::string(kName).c_str(), state_name(s->dwCurrentState));
  if (s->dwCurrentState == SERVICE_RUNNING) std::printf(" (process %lu)", static_cast<unsigned long>(s->dwProcessId));
  if (s->dwCurrentState == SERVICE_STOPPED && s->dwWin32ExitCode == ERROR_SERVICE_SPECIFIC_ERROR)
    std::printf(" (last exit code %lu: see the log)", static_cast<unsigned long>(s->dwServiceSpecificExitCode));
  std::printf("\n");
  return 0;
}

int control(Action action, SC_HANDLE service) {
  if (action == Action::start) {
    if (!::StartServiceW(service, 0, nullptr) && ::GetLastError() != ERROR_SERVICE_ALREADY_RUNNING)
      return fail("starting the service", ::GetLastError());
    auto s = wait_while(service, SERVICE_START_PENDING);
    report(service);
    return s && s->dwCurrentState == SERVICE_RUNNING ? 0 : 1;  // Stopped: its configuration, in the log.
  }
  if (action == Action::stop || action == Action::uninstall) {
    SERVICE_STATUS st{};
    if (!::ControlService(service, SERVICE_CONTROL_STOP, &st) && ::GetLastError() != ERROR_SERVICE_NOT_ACTIVE)
      return fail("stopping the service", ::GetLastError());
    auto s = wait_while(service, SERVICE_STOP_PENDING);
    if (action == Action::stop) {
      report(service);
      return s && s->dwCurrentState == SERVICE_STOPPED ? 0 : 1;
    }
    if (!::DeleteService(service)) return fail("removing the service", ::GetLastError());
    std::printf("%s service removed (its folders under %%ProgramData%%\\sealrelay stay)\n",
                std::string(kName).c_str());
    return 0;
  }
  return report(service);
}

}  // namespace

int command(Action action, const std::optional<std::string>& config) {
  if (action == Action::install) {
    if (config) return install(fs::absolute(fs::path(win::wide(*config))));
    auto p = program_data_paths();
    if (!p) return fail("finding %ProgramData%", ::GetLastError());
    return install(p->config);
  }
  Sc scm(::OpenSCManagerW(nullptr, nullptr, SC_MANAGER_CONNECT));
  if (!scm) return fail("opening the Service Control Manager", ::GetLastError());
  std::wstring name = win::wide(kName);
  // Status asks only to read it, which a non-administrator may.
  DWORD rights = action == Action::status ? SERVICE_QUERY_STATUS
                                          : SERVICE_QUERY_STATUS | SERVICE_START | SERVICE_STOP | DELETE;
  Sc service(::OpenServiceW(scm.get(), name.c_str(), rights));
  if (!service) {
    DWORD code = ::GetLastError();
    if (action == Action::status && code == ERROR_SERVICE_DOES_NOT_EXIST) {
      std::printf("%s: not installed (sealrelay-agent service install)\n", std::string(kName).c_str());
      return 3;
    }
    return fail("opening the service", code);
  }
  return control(action, service.get());
}

}  // namespace sealrelay::agent::service
