// The `sealrelay` requester CLI as a library function, so tests and the
// thin main share it.
#pragma once

#include <string_view>

namespace sealrelay::requester {

// Exit codes scripts can rely on (also in `sealrelay --help`).
enum ExitCode : int {
  kExitOk = 0,
  kExitFailure = 1,     // anything else (local I/O, internal)
  kExitUsage = 2,       // bad arguments or configuration; output exists
  kExitAuth = 3,        // the relay refused the token, or the agent refused this requester's key
  kExitNotFound = 4,    // unknown or offline agent, no such path, not allowed, busy, aborted by the agent
  kExitIntegrity = 5,   // verification failed: tampered/reordered/truncated stream, hash mismatch, agent key changed
  kExitNetwork = 6,     // relay unreachable, stream lost, history gone (use --resume), relay overloaded
  kExitInterrupted = 130,
};

// The exit status for an Error::code (1 for a code this build does not know).
int exit_code_for(std::string_view error_code);

int run_cli(int argc, char** argv);

}  // namespace sealrelay::requester
