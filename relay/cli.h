// The sealrelay-relay command line: `serve` (default) and `token ...`.
// main.cpp only calls this.
#pragma once

namespace sealrelay::relay {

// Parses argv (flags, SEALRELAY_* environment, --config file) and runs the
// chosen command. Returns the process exit code.
int relay_main(int argc, char** argv);

}  // namespace sealrelay::relay
