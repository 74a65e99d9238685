// The CLI's exit statuses, and the one for each error code.
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
  kExitPartial = 7,     // a folder pull: some entries skipped or failed, every other one arrived verified
  kExitInterrupted = 130,
};

// What `sealrelay --help` says of them.
inline constexpr std::string_view kExitCodesHelp =
    "Exit codes: 0 ok; 1 other failure; 2 usage or configuration; 3 authentication (relay token or agent refused "
    "this requester); 4 not found or refused (agent unknown/offline, path not found/not allowed); 5 integrity "
    "(tampered or truncated stream, hash mismatch, agent key changed or not the --expect-fingerprint one, an entry of "
    "the relay's agent list whose id breaks the id rule: `agents` and `get --all-agents` skip it, do the rest, and "
    "exit 5); 6 network (relay unreachable, stream lost, agent stopped sending: try --resume); 7 partial (a folder pull: "
    "some entries skipped or failed, listed at the end; the rest arrived verified); 130 interrupted. With "
    "several sources, the code of the first failed one.";

// The exit status for an Error::code (1 for a code this build does not know).
int exit_code_for(std::string_view error_code);

}  // namespace sealrelay::requester
