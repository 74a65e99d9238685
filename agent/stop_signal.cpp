#include "agent/stop_signal.h"

#include <signal.h>

#include <atomic>

namespace sealrelay::agent {

namespace {
std::atomic<bool> g_stop{false};  // Written by the signal handler.
extern "C" void on_signal(int) { g_stop.store(true); }
}  // namespace

void watch_stop_signals() {
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
}

bool stop_requested() { return g_stop.load(); }
void request_stop() { g_stop.store(true); }

}  // namespace sealrelay::agent
