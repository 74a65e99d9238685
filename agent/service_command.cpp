#include "agent/service_command.h"

#include "agent/service.h"

namespace sealrelay::agent::service {

CLI::App* add_command(CLI::App& app, CommandArgs& args) {
  auto* sub = app.add_subcommand(
      "service", "Windows: register the agent with the Service Control Manager (automatic start as LocalService, "
                 "restart on failure), start, stop, remove it or show its state. Run as administrator.");
  sub->add_option("action", args.action, "install, uninstall, start, stop or status")
      ->required()
      ->check(CLI::IsMember({"install", "uninstall", "start", "stop", "status"}));
  sub->add_option("--config", args.config,
                  "Config file the service runs with (install only; default "
                  "%ProgramData%\\sealrelay\\agent\\sealrelay-agent.conf)");
  return sub;
}

int run_command(const CommandArgs& args) {
  auto action = parse_action(args.action);
  if (!action) return 2;  // IsMember has refused it already.
  if (args.config && *action != Action::install) {
    std::fprintf(stderr, "sealrelay-agent: --config goes with `service install` (the service keeps it)\n");
    return 2;
  }
  return command(*action, args.config);
}

}  // namespace sealrelay::agent::service
