#include <sodium.h>

#include <cstdio>

#include "requester/cli.h"

int main(int argc, char** argv) {
  if (sodium_init() < 0) {
    std::fprintf(stderr, "sealrelay: libsodium failed to initialise\n");
    return 1;
  }
  return sealrelay::requester::run_cli(argc, argv);
}
