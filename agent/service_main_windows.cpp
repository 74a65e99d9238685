// service.h's run_as_service: the entry the SCM calls (ServiceMain), its
// control handler feeding the agent's stop seam (stop_signal.h), and the
// service's logs (a rotating file; errors also to the Event Log).
#include "agent/service.h"

#include <windows.h>

#include <spdlog/sinks/rotating_file_sink.h>
#include <spdlog/sinks/win_eventlog_sink.h>
#include <spdlog/spdlog.h>

#include <cstdio>
#include <memory>
#include <system_error>

#include "agent/stop_signal.h"
#include "agent/win_file.h"

namespace sealrelay::agent::service {
namespace {

// The one run of the service in this process. ServiceMain's signature
// carries no context, so the dispatcher reaches it through this pointer,
// set once before StartServiceCtrlDispatcherW and read by ServiceMain and
// the control handler (the SCM's threads) while it runs.
struct Runner {
  const ServiceBody* body = nullptr;
  SERVICE_STATUS_HANDLE handle = nullptr;
  int code = 1;
};
Runner* g_runner = nullptr;

void report(DWORD state, DWORD accepted, int code, DWORD wait_hint_ms) {
  SERVICE_STATUS s{};
  s.dwServiceType = SERVICE_WIN32_OWN_PROCESS;
  s.dwCurrentState = state;
  s.dwControlsAccepted = accepted;
  // A non-zero code is a failure to the SCM: its recovery actions restart us.
  s.dwWin32ExitCode = code == 0 ? NO_ERROR : ERROR_SERVICE_SPECIFIC_ERROR;
  s.dwServiceSpecificExitCode = static_cast<DWORD>(code);
  s.dwWaitHint = wait_hint_ms;
  ::SetServiceStatus(g_runner->handle, &s);
}

DWORD WINAPI on_control(DWORD control, DWORD, void*, void*) {
  if (control == SERVICE_CONTROL_STOP || control == SERVICE_CONTROL_SHUTDOWN) {
    report(SERVICE_STOP_PENDING, 0, 0, 15000);
    request_stop();  // The daemon's watcher sees it and ends the run.
    return NO_ERROR;
  }
  return control == SERVICE_CONTROL_INTERROGATE ? NO_ERROR : ERROR_CALL_NOT_IMPLEMENTED;
}

// The service's logger: the rotating file (service_plan.h bounds it) for
// everything at the run's level, the Application event log for errors.
// Without the file (no folder) the Event Log still hears errors.
void use_service_log(const Paths& p) {
  std::vector<spdlog::sink_ptr> sinks;
  std::error_code ec;
  std::filesystem::create_directories(p.logs_dir, ec);
  try {
    sinks.push_back(std::make_shared<spdlog::sinks::rotating_file_sink_mt>(
        win::utf8(p.log_file.wstring()), kLogFileBytes, kLogFiles - 1));
  } catch (const spdlog::spdlog_ex&) {
  }
  auto events = std::make_shared<spdlog::sinks::win_eventlog_sink_mt>(std::string(kName));
  events->set_level(spdlog::level::err);
  sinks.push_back(events);
  auto logger = std::make_shared<spdlog::logger>(std::string(kName), sinks.begin(), sinks.end());
  logger->flush_on(spdlog::level::info);  // Readable while it runs; the agent logs little.
  spdlog::set_default_logger(logger);
}

void WINAPI service_main(DWORD, LPWSTR*) {
  std::wstring name = win::wide(kName);
  g_runner->handle = ::RegisterServiceCtrlHandlerExW(name.c_str(), on_control, nullptr);
  if (!g_runner->handle) return;
  if (auto p = program_data_paths()) use_service_log(*p);
  report(SERVICE_START_PENDING, 0, 0, 30000);
  g_runner->code = (*g_runner->body)([] { report(SERVICE_RUNNING, SERVICE_ACCEPT_STOP | SERVICE_ACCEPT_SHUTDOWN, 0, 0); });
  spdlog::default_logger()->flush();
  report(SERVICE_STOPPED, 0, g_runner->code, 0);
}

}  // namespace

int run_as_service(const ServiceBody& body) {
  Runner runner;
  runner.body = &body;
  g_runner = &runner;
  std::wstring name = win::wide(kName);
  SERVICE_TABLE_ENTRYW table[] = {{name.data(), service_main}, {nullptr, nullptr}};
  if (!::StartServiceCtrlDispatcherW(table)) {
    std::fprintf(stderr, "sealrelay-agent: --service is for the Service Control Manager; in a console use `run` "
                         "(or: sealrelay-agent service start)\n");
    return 1;
  }
  return runner.code;
}

}  // namespace sealrelay::agent::service
