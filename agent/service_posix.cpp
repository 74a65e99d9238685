// service.h where there is no Service Control Manager.
#include "agent/service.h"

#include <cstdio>

namespace sealrelay::agent::service {

int command(Action, const std::optional<std::string>&) {
  std::fprintf(stderr, "sealrelay-agent: `service` exists only on Windows; on Linux run the agent under systemd "
                       "(packaging/systemd/sealrelay-agent.service: systemctl enable --now sealrelay-agent)\n");
  return 1;
}

std::optional<Paths> program_data_paths() { return std::nullopt; }

Result<void> prepare(const Paths&) { return {}; }

int run_as_service(const ServiceBody&) {
  std::fprintf(stderr, "sealrelay-agent: --service is for the Windows service; on Linux systemd runs `run`\n");
  return 1;
}

}  // namespace sealrelay::agent::service
