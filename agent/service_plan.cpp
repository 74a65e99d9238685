#include "agent/service_plan.h"

#include "proto/errors.h"

namespace sealrelay::agent::service {

using namespace std::chrono_literals;

std::optional<Action> parse_action(std::string_view name) {
  if (name == "install") return Action::install;
  if (name == "uninstall") return Action::uninstall;
  if (name == "start") return Action::start;
  if (name == "stop") return Action::stop;
  if (name == "status") return Action::status;
  return std::nullopt;
}

Account account() { return {"NT AUTHORITY\\LocalService", "S-1-5-19", "LS"}; }

FailurePolicy failure_policy() {
  // 10 s rides out a relay that restarts; 60 s then 5 min keep a broken
  // configuration from spinning while it still comes back by itself.
  return {24h, {10s, 60s, 5min}};
}

Result<std::string> command_line(std::string_view exe, std::string_view config) {
  for (std::string_view path : {exe, config}) {
    if (path.empty()) return make_error(ErrorCode::bad_config, "an empty path cannot go into the service's command line");
    for (unsigned char c : path) {
      if (c == '"' || c < 0x20) {
        return make_error(ErrorCode::bad_config, std::string(path) + " holds a double quote or a control character and "
                                                          "cannot be quoted in the service's command line; move the file");
      }
    }
  }
  // A trailing backslash would escape the closing quote.
  if (exe.back() == '\\' || config.back() == '\\')
    return make_error(ErrorCode::bad_config, "a path ending in a backslash is a folder, not a file");
  return "\"" + std::string(exe) + "\" --config \"" + std::string(config) + "\" run --service";
}

Paths paths(const std::filesystem::path& program_data) {
  auto root = program_data / "sealrelay";
  Paths p;
  p.state_dir = root / "agent";
  p.config = p.state_dir / "sealrelay-agent.conf";
  p.logs_dir = root / "logs";
  p.log_file = p.logs_dir / "sealrelay-agent.log";
  return p;
}

std::string folder_sddl() {
  // OICI: inherited by files and subfolders. 0x1301bf: "Modify" (read,
  // write, execute, delete what it wrote), not change permissions or owner.
  return "D:P(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)(A;OICI;0x1301bf;;;" + std::string(account().sddl_alias) + ")";
}

std::string key_sddl() { return "D:P(A;;FA;;;SY)(A;;FA;;;BA)(A;;FR;;;" + std::string(account().sddl_alias) + ")"; }

}  // namespace sealrelay::agent::service
