// sealrelay-agent: the on-premise daemon. Parses configuration and wires
// the parts together; the work is in the library (daemon.h,
// transfer_handler.h, share_policy.h, ...).
#include <CLI/CLI.hpp>
#include <sodium.h>
#include <spdlog/spdlog.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <set>
#include <thread>

#include "agent/daemon.h"
#include "agent/service.h"
#include "agent/service_command.h"
#include "agent/stop_signal.h"
#include "base/log_format.h"

namespace {

namespace fs = std::filesystem;
using namespace sealrelay;
using namespace sealrelay::agent;

constexpr const char* kVersion = "sealrelay-agent/0.1.0";

std::string default_state_dir() {
  if (const char* d = std::getenv("SEALRELAY_STATE_DIR"); d && *d) return d;
  if (auto windows = service::program_data_paths()) return windows->state_dir.string();
  return "/var/lib/sealrelay-agent";
}

// "NAME=VALUE" → {NAME, VALUE}.
std::pair<std::string, std::string> split_pair(const std::string& text, char sep, const char* what) {
  size_t at = text.find(sep);
  if (at == std::string::npos || at == 0) {
    throw CLI::ValidationError(what, "\"" + text + "\" is not NAME" + std::string(1, sep) + "VALUE");
  }
  return {text.substr(0, at), text.substr(at + 1)};
}

int cmd_init(const std::string& state_dir) {
  fs::path dir(state_dir);
  Identity id = generate_identity();
  auto saved = save_identity(dir / "identity.key", id);
  if (!saved) {
    std::fprintf(stderr, "sealrelay-agent: %s\n", saved.error().message.c_str());
    return 2;
  }
  fs::path authorized = dir / "authorized_requesters";
  if (!fs::exists(authorized)) {
    std::ofstream(authorized) << "# One requester per line: <public key> [paths=/share1,/share2/sub] [comment]\n"
                                 "# The key is what `sealrelay whoami` prints. Changes apply without a restart.\n";
    fs::permissions(authorized, fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read);
  }
  std::error_code same_ec;
  // The service's own folder: its access lists let the service account
  // read the key (service.h).
  if (auto windows = service::program_data_paths(); windows && fs::equivalent(dir, windows->state_dir, same_ec)) {
    if (auto ok = service::prepare(*windows); !ok) {
      std::fprintf(stderr, "sealrelay-agent: %s\n", ok.error().message.c_str());
      return 2;
    }
  }
  std::printf("Agent identity created in %s\nFingerprint: %s\nPublic key:  %s\n\n"
              "Requesters pin this key on first contact; tell them the fingerprint so they can check it.\n"
              "Authorize requesters by adding their public keys to %s.\n",
              (dir / "identity.key").string().c_str(), fingerprint_of(id.public_key).c_str(),
              encode_public_key(id.public_key).c_str(), authorized.string().c_str());
  return 0;
}

struct RunOptions {
  std::string state_dir = default_state_dir();
  std::string authorized;
  std::string url, token, token_file, ca_file, client_cert, client_key, proxy;
  std::vector<std::string> shares, includes, excludes, max_sizes, hard_link_shares, compress;
  bool no_follow_symlinks = false;
  size_t max_transfers = 4;
  std::string rate_limit = "0";
  uint32_t chunk_size = protocol::kDefaultChunkBytes;
  int read_timeout = 45;
  std::string log_level = "info";
  std::string log_format = "text";
  bool service = false;  // Started by the Windows SCM (service.h).
};

// `running`: called once the configuration is checked and the daemon
// starts (the Windows service then reports RUNNING).
int cmd_run(RunOptions o, const std::function<void()>& running = [] {}) {
  spdlog::set_level(spdlog::level::from_str(o.log_level));
  logging::apply(logging::parse_format(o.log_format).value_or(logging::Format::text), "agent",
                 "%Y-%m-%dT%H:%M:%S.%e %l %v");
  auto schedule = RateSchedule::parse(o.rate_limit);
  if (!schedule) {
    spdlog::error("{}", schedule.error().message);
    return 2;
  }
  fs::path state(o.state_dir);
  auto identity = load_identity(state / "identity.key");
  if (!identity) {
    spdlog::error("{} (run `sealrelay-agent init --state-dir {}` first)", identity.error().message, o.state_dir);
    return 2;
  }
  std::map<std::string, ShareConfig> by_name;
  for (const auto& s : o.shares) {
    auto [name, root] = split_pair(s, '=', "--share");
    by_name[name] = ShareConfig{name, fs::absolute(root).lexically_normal().string(), {}, {}, {},
                                !o.no_follow_symlinks};
  }
  auto share_of = [&](const std::string& name, const char* flag) -> ShareConfig& {
    auto it = by_name.find(name);
    if (it == by_name.end()) throw CLI::ValidationError(flag, "no share named \"" + name + "\"");
    return it->second;
  };
  for (const auto& p : o.includes) {
    auto [n, glob] = split_pair(p, ':', "--include");
    share_of(n, "--include").include.push_back(glob);
  }
  for (const auto& p : o.excludes) {
    auto [n, glob] = split_pair(p, ':', "--exclude");
    share_of(n, "--exclude").exclude.push_back(glob);
  }
  for (const auto& p : o.max_sizes) {
    auto [n, bytes] = split_pair(p, ':', "--max-file-size");
    share_of(n, "--max-file-size").max_file_size = std::stoull(bytes);
  }
  for (const auto& n : o.hard_link_shares) share_of(n, "--allow-hard-links").allow_hard_links = true;
  std::set<std::string> uncompressed;
  for (const auto& p : o.compress) {
    auto [n, mode] = split_pair(p, ':', "--compress");
    share_of(n, "--compress");
    if (mode != "off" && mode != "auto") {
      throw CLI::ValidationError("--compress", "\"" + p + "\": the setting is auto or off (NAME:off)");
    }
    if (mode == "off") uncompressed.insert(n);
    else uncompressed.erase(n);
  }
  std::vector<ShareConfig> configs;
  for (auto& [_, c] : by_name) configs.push_back(c);
  if (configs.empty()) {
    spdlog::error("no shares: pass --share NAME=/path (or share = [\"NAME=/path\"] in the config file)");
    return 2;
  }
  auto shares = Shares::create(configs);
  if (!shares) {
    spdlog::error("{}", shares.error().message);
    return 2;
  }
  if (auto ok = shares->check_roots(); !ok) {
    spdlog::error("{}", ok.error().message);
    return 2;
  }
  if (o.url.empty()) {
    spdlog::error("no relay URL: pass --relay-url or set SEALRELAY_URL");
    return 2;
  }
  RelayConfig relay;
  relay.url = o.url;
  relay.token = o.token;
  if (!o.token_file.empty()) {
    std::ifstream in(o.token_file);
    if (!in || !std::getline(in, relay.token)) {
      spdlog::error("cannot read the token file {}", o.token_file);
      return 2;
    }
  }
  if (relay.token.empty() && o.client_cert.empty()) {
    spdlog::error("no credential: pass --token-file (or SEALRELAY_TOKEN) or --client-cert/--client-key");
    return 2;
  }
  relay.ca_file = o.ca_file;
  relay.client_cert = o.client_cert;
  relay.client_key = o.client_key;
  relay.proxy = o.proxy;
  relay.read_timeout = std::chrono::seconds(o.read_timeout);
  // A URL, CA file, certificate or key that cannot work is a configuration
  // error now, not a reconnect loop later.
  auto probe = RelayClient::create(relay);
  if (!probe) {
    spdlog::error("{}", probe.error().message);
    return 2;
  }
  if (auto via = (*probe)->proxy_display(); !via.empty()) spdlog::info("reaching the relay through the proxy {}", via);

  AuthorizedRequestersFile authorized(o.authorized.empty() ? (state / "authorized_requesters").string()
                                                           : o.authorized);
  reload_authorized_requesters(authorized);
  SteadyClock clock;
  SystemWallClock wall_clock;
  SystemLocalTime local_time;
  SystemRng rng;
  RateLimiter limiter(*schedule, 2 * protocol::kMaxFrameBytes, clock, local_time);
  HandlerConfig hc;
  hc.relay = relay;
  hc.relay.read_timeout = std::chrono::seconds(60);
  hc.replay_state = state / "replay.json";
  hc.max_chunk_bytes = o.chunk_size;
  hc.uncompressed_shares = uncompressed;
  auto handler = TransferHandler::create(hc, *identity, *shares, authorized, limiter, wall_clock);
  if (!handler) {
    spdlog::error("{}", handler.error().message);
    return 2;
  }
  DaemonConfig dc;
  dc.relay = relay;
  dc.version = kVersion;
  dc.max_transfers = o.max_transfers;
  Daemon daemon(dc, *identity, **handler, clock, rng);
  for (const auto& c : configs) spdlog::info("sharing {} as /{}", c.root, c.name);
  if (schedule->limits()) spdlog::info("bandwidth cap (agent's local time): {}", schedule->describe());

  watch_stop_signals();
  running();
  std::thread watcher([&] {
    while (!stop_requested()) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    spdlog::info("stopping");
    daemon.stop();
  });
  daemon.run();
  request_stop();
  watcher.join();
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (sodium_init() < 0) return 1;
  CLI::App app{"sealrelay-agent: serves files from this machine's shares to trusted requesters through a "
               "sealrelay relay, end to end encrypted. It only connects out; nothing connects to it.",
               "sealrelay-agent"};
  app.set_version_flag("--version", kVersion);
  app.require_subcommand(1);

  std::string init_dir = default_state_dir();
  auto* init = app.add_subcommand("init", "Create the agent's identity key and print its fingerprint");
  init->add_option("--state-dir", init_dir, "Folder for identity.key, authorized_requesters, replay state")
      ->envname("SEALRELAY_STATE_DIR");

  RunOptions o;
  auto* run = app.add_subcommand("run", "Connect to the relay and serve requests until stopped");
  // CLI11 2.1 reads a config file only when it is set on the top-level app;
  // the run options then live under a [run] section (see the example file).
  app.set_config("--config", "", "Config file: key = value lines under [run] with the long option names "
                                 "(agent/sealrelay-agent.conf.example)");
  run->fallthrough();
  run->add_option("--state-dir", o.state_dir, "Folder made by init")->envname("SEALRELAY_STATE_DIR");
  run->add_option("--relay-url", o.url, "Relay URL, e.g. https://relay.example.com")->envname("SEALRELAY_URL");
  run->add_option("--token", o.token, "Agent token (prefer --token-file or SEALRELAY_TOKEN: flags show in ps)")
      ->envname("SEALRELAY_TOKEN");
  run->add_option("--token-file", o.token_file, "File holding the agent token")->envname("SEALRELAY_TOKEN_FILE");
  run->add_option("--ca-file", o.ca_file, "CA bundle to verify an https relay")->envname("SEALRELAY_CA_FILE");
  run->add_option("--proxy", o.proxy, "HTTP proxy to the relay, http://[USER:PASSWORD@]HOST[:PORT] (put credentials "
                                      "in the config file), or \"direct\"; default: HTTPS_PROXY/HTTP_PROXY/NO_PROXY");
  run->add_option("--client-cert", o.client_cert, "Client certificate (PEM) for mTLS instead of a token")
      ->envname("SEALRELAY_CLIENT_CERT");
  run->add_option("--client-key", o.client_key, "Key of the client certificate")->envname("SEALRELAY_CLIENT_KEY");
  run->add_option("--share", o.shares, "NAME=/path to share read-only (repeatable)")->envname("SEALRELAY_SHARES")
      ->delimiter(',');
  run->add_option("--include", o.includes, "NAME:GLOB: serve only matching files of share NAME (repeatable)");
  run->add_option("--exclude", o.excludes, "NAME:GLOB: never serve matching paths of share NAME (repeatable)");
  run->add_option("--max-file-size", o.max_sizes, "NAME:BYTES: largest file share NAME serves (repeatable)");
  run->add_option("--allow-hard-links", o.hard_link_shares,
                  "NAME: serve files with several hard links in share NAME (repeatable; default: refused)");
  run->add_option("--compress", o.compress,
                  "NAME:off: never compress the frames of share NAME, so the relay does not learn how compressible "
                  "its files are (default NAME:auto: zstd when the requester offers it and a chunk shrinks by 5 %+; "
                  "repeatable)");
  run->add_flag("--no-follow-symlinks", o.no_follow_symlinks, "Refuse every symlink (default: follow in-share ones)");
  run->add_option("--authorized-requesters", o.authorized, "Trust file (default: STATE_DIR/authorized_requesters)")
      ->envname("SEALRELAY_AUTHORIZED_REQUESTERS");
  run->add_option("--max-transfers", o.max_transfers, "Transfers served at once; more get `busy` (two at a time, the rest are dropped)")
      ->envname("SEALRELAY_MAX_TRANSFERS")->check(CLI::Range(1, 256));
  run->add_option("--rate-limit", o.rate_limit,
                  "Upload cap over all transfers, bytes per second (250000, 512k, 4M; 0 or off = none), or a "
                  "timetable of the agent's local time, e.g. \"08:00,512k 18:00,4M 23:00,off\"; a new period "
                  "applies to running transfers")
      ->envname("SEALRELAY_RATE_LIMIT");
  run->add_option("--chunk-size", o.chunk_size, "Largest plaintext bytes per frame")
      ->envname("SEALRELAY_CHUNK_SIZE")->check(CLI::Range(protocol::kMinChunkBytes, protocol::kMaxChunkBytes));
  run->add_option("--read-timeout", o.read_timeout, "Seconds without a byte (or heartbeat) before the control "
                                                    "stream counts as dead; above the relay's heartbeat")
      ->envname("SEALRELAY_READ_TIMEOUT")->check(CLI::Range(5, 3600));
  run->add_option("--log-level", o.log_level, "trace, debug, info, warn, error")->envname("SEALRELAY_LOG_LEVEL");
  run->add_option("--log-format", o.log_format,
                  "text (for people) or json (one object per line: time, level, message, key=value fields)")
      ->envname("SEALRELAY_LOG_FORMAT")->check(CLI::IsMember({"text", "json"}));

  run->add_flag("--service", o.service, "Started by the Windows Service Control Manager")->group("");
  service::CommandArgs service_args;
  auto* service_cmd = service::add_command(app, service_args);

  try {
    app.parse(argc, argv);
    if (*init) return cmd_init(init_dir);
    if (*service_cmd) return service::run_command(service_args);
    if (o.service) return service::run_as_service([&](const auto& running) { return cmd_run(o, running); });
    return cmd_run(o);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
}
