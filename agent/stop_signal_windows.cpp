#include "agent/stop_signal.h"

#include <windows.h>

#include <atomic>

namespace sealrelay::agent {

namespace {
std::atomic<bool> g_stop{false};  // Written by the console control handler.

BOOL WINAPI on_control(DWORD) {
  g_stop.store(true);
  return TRUE;  // Handled: the agent stops by itself, after its cleanup.
}
}  // namespace

void watch_stop_signals() { ::SetConsoleCtrlHandler(on_control, TRUE); }

bool stop_requested() { return g_stop.load(); }
void request_stop() { g_stop.store(true); }

}  // namespace sealrelay::agent
