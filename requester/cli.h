// The `sealrelay` requester CLI as a library function, so tests and the
// thin main share it.
#pragma once

#include "requester/exit_codes.h"

namespace sealrelay::requester {

int run_cli(int argc, char** argv);

}  // namespace sealrelay::requester
