// sealrelay-relay: see relay/cli.cpp and docs/api.md.
#include "relay/cli.h"

int main(int argc, char** argv) { return sealrelay::relay::relay_main(argc, argv); }
