// The `service` subcommand of sealrelay-agent (service.h does the work).
#pragma once

#include <CLI/CLI.hpp>

#include <optional>
#include <string>

namespace sealrelay::agent::service {

struct CommandArgs {
  std::string action;
  std::optional<std::string> config;
};

// Adds `service install|uninstall|start|stop|status [--config FILE]` to
// `app`, filling `args`; returns the subcommand (true once parsed).
CLI::App* add_command(CLI::App& app, CommandArgs& args);

// Runs the parsed command; the exit code of service.h's command().
int run_command(const CommandArgs& args);

}  // namespace sealrelay::agent::service
