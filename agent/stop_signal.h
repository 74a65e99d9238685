// The agent's stop request from outside: SIGINT/SIGTERM on POSIX
// (stop_signal.cpp); Ctrl-C, Ctrl-Break, console close and logoff/shutdown
// on Windows (stop_signal_windows.cpp). Signal handlers can only set a flag,
// so the flag is the one process-wide state here.
#pragma once

namespace sealrelay::agent {

// Installs the handlers; from then on stop_requested() turns true on a
// stop request. Call once, from main.
void watch_stop_signals();

// Whether a stop was requested (or request_stop() called).
bool stop_requested();

// Sets the flag, as a signal would (the main loop's own exit).
void request_stop();

}  // namespace sealrelay::agent
