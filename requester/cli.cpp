#include "requester/cli.h"

#include <CLI/CLI.hpp>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <mutex>
#include <set>
#include <thread>

#include "base/fingerprint.h"
#include "base/ids.h"
#include "proto/errors.h"
#include "crypto/keys.h"
#include "requester/known_agents.h"
#include "requester/output_path.h"
#include "requester/part_file.h"
#include "requester/progress.h"
#include "requester/terminal.h"
#include "requester/transfer.h"
#include "requester/tree_command.h"

namespace sealrelay::requester {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr size_t kMaxListingBytes = 64u << 20;
constexpr const char* kVersion = "sealrelay 0.1.0";

std::atomic<bool> g_interrupted{false};  // set by SIGINT/SIGTERM only
extern "C" void on_signal(int) { g_interrupted.store(true); }

struct Settings {
  std::string url, token, token_file, ca_file, proxy, home;
  bool json_output = false, quiet = false;
  bool no_tofu = false;
  std::string expect_fingerprint;
  uint64_t stall_timeout = 300;
  std::string compress = "auto";  // get --compress: auto (offer zstd) or off
};

fs::path default_home() {
  if (const char* x = std::getenv("XDG_CONFIG_HOME"); x && *x) return fs::path(x) / "sealrelay";
  if (const char* h = std::getenv("HOME"); h && *h) return fs::path(h) / ".config" / "sealrelay";
  return fs::path(".sealrelay");
}

struct Failure {
  Error error;
};

[[noreturn]] void fail(Error e) { throw Failure{std::move(e)}; }

template <class T>
T must(Result<T> r) {
  if (!r) fail(r.error());
  return std::move(*r);
}
void must(Result<void> r) {
  if (!r) fail(r.error());
}

// The relay's directory (GET /v1/agents) as received: only entries whose id
// follows the agent-id grammar (base/ids.h), each id once. An id becomes a
// known_agents field, a folder name and a word on the terminal, so an entry
// that breaks the grammar is refused here, before anything uses it: said on
// stderr (the id escaped) and counted, never used. Read once per run
// (Context::directory), so each refusal is said once.
struct Directory {
  std::vector<json> agents;
  size_t refused = 0;
};

// `entry[field]` is absent or of the type `is` checks.
bool typed(const json& entry, const char* field, bool (json::*is)() const noexcept) {
  auto it = entry.find(field);
  return it == entry.end() || ((*it).*is)();
}

Directory receive_directory(RelayClient& relay) {
  json dir = must(relay.call("GET", "/v1/agents"));
  Directory out;
  std::set<std::string> seen;
  const json empty = json::array();
  const json& agents = dir.contains("agents") && dir["agents"].is_array() ? dir["agents"] : empty;
  for (const auto& a : agents) {
    const json id = a.is_object() ? a.value("id", json()) : json();
    std::string why;
    if (!id.is_string()) {
      why = "an entry without an agent id";
    } else if (!ids::valid_agent_id(id.get<std::string>())) {
      why = "agent id \"" + escaped(id.get<std::string>()) + "\", which breaks the id rule (" +
            std::string(ids::kAgentIdRule) + ")";
    } else if (!seen.insert(id.get<std::string>()).second) {
      why = "agent \"" + id.get<std::string>() + "\" a second time";
    } else if (!typed(a, "public_key", &json::is_string) || !typed(a, "version", &json::is_string) ||
               !typed(a, "online", &json::is_boolean) || !typed(a, "last_seen", &json::is_number_integer)) {
      why = "agent \"" + id.get<std::string>() + "\" with a field of the wrong type";
    } else {
      out.agents.push_back(a);
      continue;
    }
    ++out.refused;
    std::fprintf(stderr, "sealrelay: the relay's agent list has %s: refused, skipped (the relay is misconfigured or "
                         "lying; tell its operator)\n", why.c_str());
  }
  return out;
}

fs::path home_of(Settings& s) {
  if (s.home.empty()) s.home = default_home().string();
  return s.home;
}

class Context {
 public:
  explicit Context(Settings s) : s_(std::move(s)), clock(home_of(s_) / "request_clock") {}
  const Settings& settings() const { return s_; }
  fs::path identity_path() const { return fs::path(s_.home) / "identity.key"; }
  fs::path known_agents_path() const { return fs::path(s_.home) / "known_agents"; }

  RelayConfig relay() const {
    if (s_.url.empty()) {
      fail(make_error(ErrorCode::usage, "no relay URL: pass --url, set SEALRELAY_URL, or put url = \"...\" in " +
                                            (fs::path(s_.home) / "config").string()));
    }
    RelayConfig c;
    c.url = s_.url;
    c.token = s_.token;
    if (!s_.token_file.empty()) {
      std::ifstream in(s_.token_file);
      if (!in || !std::getline(in, c.token)) fail(make_error(ErrorCode::usage, "cannot read token file " + s_.token_file));
    }
    if (c.token.empty()) {
      fail(make_error(ErrorCode::usage, "no requester token: pass --token-file, set SEALRELAY_TOKEN, or put token = \"...\" "
                                        "in the config file (ask the relay operator for one)"));
    }
    c.ca_file = s_.ca_file;
    c.proxy = s_.proxy;
    return c;
  }

  Identity identity() const { return must(load_identity(identity_path())); }

  // The agent's static key: the pin when there is one (the directory must
  // agree), else first contact as configured.
  PublicKey agent_key(const std::string& agent, KnownAgents& known, RelayClient* relay) {
    std::optional<std::string> want;
    if (!s_.expect_fingerprint.empty()) {
      want = fingerprint::normalize(s_.expect_fingerprint);
      if (!want) fail(make_error(ErrorCode::usage, "--expect-fingerprint is not a fingerprint (24 base32 characters)"));
    }
    std::optional<PublicKey> advertised;
    bool listed = false;
    if (relay) {
      try {
        for (const auto& a : directory(*relay).agents) {
          if (a.value("id", "") != agent) continue;
          listed = true;
          advertised = decode_public_key(a.value("public_key", ""));
        }
      } catch (const Failure& f) {
        // The directory is a hint once pinned: only a refused token stops here.
        if (errors::is(f.error, ErrorCode::unauthorized) || errors::is(f.error, ErrorCode::forbidden)) throw;
      }
    }
    auto pinned = known.find(agent);
    if (pinned && want && fingerprint_of(*pinned) != *want) {
      fail(make_error(ErrorCode::agent_key_changed, "agent \"" + agent + "\" is pinned to fingerprint " +
                                                        fingerprint_of(*pinned) + ", not the " + *want +
                                                        " you expected; nothing was requested. If the agent's administrator "
                                                        "confirms the new key, re-pin it: sealrelay trust " + agent + " " +
                                                        *want));
    }
    if (pinned) {
      if (advertised && *advertised != *pinned) {
        fail(make_error(ErrorCode::agent_key_changed,
                        "@@@ THE KEY OF AGENT \"" + agent + "\" HAS CHANGED @@@\n"
                        "  pinned:     " + fingerprint_of(*pinned) + "\n"
                        "  advertised: " + fingerprint_of(*advertised) + "\n"
                        "Someone may be impersonating the agent (or its key was re-created). Nothing was requested.\n"
                        "Verify the new fingerprint with the agent's administrator, then run:\n"
                        "  sealrelay trust " + agent + " " + fingerprint_of(*advertised)));
      }
      return *pinned;
    }
    if (!listed) {
      fail(make_error(ErrorCode::unknown_agent, "agent \"" + agent + "\" is not known to the relay (see `sealrelay agents`)"));
    }
    if (!advertised) fail(make_error(ErrorCode::bad_response, "the relay lists agent \"" + agent + "\" without a valid key"));
    std::string fp = fingerprint_of(*advertised);
    if (want) {
      if (*want != fp) {
        fail(make_error(ErrorCode::agent_key_changed, "agent \"" + agent + "\" presents fingerprint " + fp + ", not the " +
                                                          *want + " you expected; nothing was requested"));
      }
    } else if (s_.no_tofu) {
      fail(make_error(ErrorCode::unpinned, "agent \"" + agent + "\" is not pinned; verify its fingerprint (" + fp +
                                               ") and run: sealrelay trust " + agent + " " + fp));
    } else {
      std::fprintf(stderr, "First contact with agent \"%s\": fingerprint %s\n"
                           "Pinned it in %s. Compare the fingerprint with the agent's `sealrelay-agent init` output.\n",
                   agent.c_str(), fp.c_str(), known_agents_path().c_str());
    }
    must(known.pin(agent, *advertised));
    return *advertised;
  }

 private:
  Settings s_;

 public:
  // The relay's directory, read once per run and shared by the workers of
  // a fan-out (each looks up its agent's key in it).
  const Directory& directory(RelayClient& relay) {
    std::lock_guard lock(directory_mu_);
    if (!directory_) directory_ = receive_directory(relay);
    return *directory_;
  }

  TimestampSource clock;  // declared after s_: made from its home

 private:
  std::mutex directory_mu_;
  std::optional<Directory> directory_;  // Guarded by directory_mu_
};

std::string format_time(int64_t unix_seconds) {
  if (unix_seconds <= 0) return "-";
  std::time_t t = static_cast<std::time_t>(unix_seconds);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", std::localtime(&t));
  return buf;
}

// ---- commands ----

void cmd_keygen(Context& ctx, bool force) {
  Identity id = generate_identity();
  must(save_identity(ctx.identity_path(), id, force));
  std::printf("Created %s\nFingerprint: %s\nPublic key:  %s\n\nGive the agent's admin this line for its "
              "authorized_requesters file:\n  %s %s\n",
              ctx.identity_path().c_str(), fingerprint_of(id.public_key).c_str(),
              encode_public_key(id.public_key).c_str(), encode_public_key(id.public_key).c_str(),
              "requester-name");
}

void cmd_whoami(Context& ctx) {
  Identity id = ctx.identity();
  if (ctx.settings().json_output) {
    std::printf("%s\n", json{{"public_key", encode_public_key(id.public_key)},
                             {"fingerprint", fingerprint_of(id.public_key)},
                             {"identity", ctx.identity_path().string()}}
                            .dump()
                            .c_str());
    return;
  }
  std::printf("Fingerprint: %s\nPublic key:  %s\nKey file:    %s\n", fingerprint_of(id.public_key).c_str(),
              encode_public_key(id.public_key).c_str(), ctx.identity_path().c_str());
}

// Exit 5 when the relay's list had entries that were refused (after showing the rest).
int cmd_agents(Context& ctx) {
  auto relay = must(RelayClient::create(ctx.relay()));
  const Directory& dir = ctx.directory(*relay);
  KnownAgents known = must(KnownAgents::load(ctx.known_agents_path()));
  json out = json::array();
  for (const auto& a : dir.agents) {
    std::string id = a.value("id", "");
    auto key = decode_public_key(a.value("public_key", ""));
    auto pin = known.find(id);
    std::string pinned = !pin ? "no" : (key && *key == *pin) ? "yes" : "CHANGED";
    out.push_back(json{{"id", id},
                       {"online", a.value("online", false)},
                       {"last_seen", a.value("last_seen", 0)},
                       {"fingerprint", key ? fingerprint_of(*key) : std::string("?")},
                       {"pinned", pinned},
                       {"version", a.value("version", "")}});
  }
  const int code = dir.refused ? kExitIntegrity : kExitOk;
  if (ctx.settings().json_output) {
    std::printf("%s\n", json{{"agents", out}, {"refused", dir.refused}}
                            .dump(-1, ' ', false, json::error_handler_t::replace)
                            .c_str());
    return code;
  }
  std::printf("%-20s %-7s %-19s %-29s %-7s %s\n", "AGENT", "ONLINE", "LAST SEEN", "FINGERPRINT", "PINNED", "VERSION");
  for (const auto& a : out) {
    std::printf("%-20s %-7s %-19s %-29s %-7s %s\n", a["id"].get<std::string>().c_str(),
                a["online"].get<bool>() ? "yes" : "no", format_time(a["last_seen"].get<int64_t>()).c_str(),
                a["fingerprint"].get<std::string>().c_str(), a["pinned"].get<std::string>().c_str(),
                escaped(a["version"].get<std::string>()).c_str());
  }
  return code;
}

void cmd_trust(Context& ctx, const std::string& agent, const std::string& typed, const std::string& key_text) {
  if (!ids::valid_agent_id(agent)) {
    fail(make_error(ErrorCode::usage, "\"" + escaped(agent) + "\" is not an agent id (" + std::string(ids::kAgentIdRule) + ")"));
  }
  auto want = fingerprint::normalize(typed);
  if (!want) fail(make_error(ErrorCode::usage, "\"" + typed + "\" is not a fingerprint (24 base32 characters)"));
  std::optional<PublicKey> key;
  if (!key_text.empty()) {
    key = decode_public_key(key_text);
    if (!key) fail(make_error(ErrorCode::usage, "--key is not a base64 X25519 public key"));
  } else {
    auto relay = must(RelayClient::create(ctx.relay()));
    for (const auto& a : ctx.directory(*relay).agents) {
      if (a.value("id", "") == agent) key = decode_public_key(a.value("public_key", ""));
    }
    if (!key) fail(make_error(ErrorCode::unknown_agent, "the relay lists no key for agent \"" + agent + "\"; pass --key"));
  }
  if (fingerprint_of(*key) != *want) {
    fail(make_error(ErrorCode::agent_key_changed, "the key for \"" + agent + "\" has fingerprint " + fingerprint_of(*key) +
                                                      ", not " + *want + "; not pinned"));
  }
  KnownAgents known = must(KnownAgents::load(ctx.known_agents_path()));
  auto old = known.find(agent);
  must(known.pin(agent, *key));
  std::printf("%s agent \"%s\" to %s\n", old && *old != *key ? "Re-pinned" : "Pinned", agent.c_str(), want->c_str());
}

void cmd_known_agents(Context& ctx, const std::string& remove) {
  KnownAgents known = must(KnownAgents::load(ctx.known_agents_path()));
  if (!remove.empty()) {
    must(known.remove(remove));
    std::printf("Removed the pin of agent \"%s\"\n", escaped(remove).c_str());
    return;
  }
  for (const auto& [id, key] : known.all()) std::printf("%-20s %s\n", id.c_str(), fingerprint_of(key).c_str());
}

// One request to t.agent with `options` (its path and the user's settings
// filled in here).
Result<Outcome> send(Context& ctx, const Target& t, RequestOptions options, Sink* sink,
                     const std::function<void(const Progress&)>& on_progress) {
  try {
    RelayConfig config = ctx.relay();
    auto relay = must(RelayClient::create(config));
    KnownAgents known = must(KnownAgents::load(ctx.known_agents_path()));
    PublicKey key = ctx.agent_key(t.agent, known, relay.get());
    Identity me = ctx.identity();
    options.path = t.path;
    options.stall_timeout = std::chrono::seconds(ctx.settings().stall_timeout);
    options.offer_compression = ctx.settings().compress != "off";
    return run_request(config, me, t.agent, key, options, ctx.clock, sink, on_progress, &g_interrupted);
  } catch (const Failure& f) {
    return f.error;
  }
}

Outcome request(Context& ctx, const Target& t, Op op, Sink* sink, ProgressReporter* progress,
                const std::string& label) {
  RequestOptions options;
  options.op = op;
  auto r = send(ctx, t, options, sink, [&](const Progress& p) {
    if (progress) progress->update(label, p.bytes, p.total);
  });
  if (progress) progress->finish(label);
  return must(std::move(r));
}

void cmd_ls(Context& ctx, const std::string& target) {
  Target t = must(parse_target(target));
  MemorySink sink(kMaxListingBytes);
  Outcome o = request(ctx, t, Op::kList, &sink, nullptr, "");
  if (o.answer.type != EntryType::kDirectory) {
    fail(make_error(ErrorCode::bad_response, "the agent answered a listing that is not a directory"));
  }
  auto entries = must(decode_listing(sink.data()));
  if (ctx.settings().json_output) {
    json out = json::array();
    for (const auto& e : entries) {
      out.push_back(json{{"name", e.name}, {"type", entry_type_name(e.type)}, {"size", e.size}, {"mtime", e.mtime}});
    }
    std::printf("%s\n", json{{"agent", t.agent}, {"path", t.path}, {"entries", out}}
                            .dump(-1, ' ', false, json::error_handler_t::replace)
                            .c_str());
    return;
  }
  for (const auto& e : entries) {
    std::printf("%s %12s  %s  %s%s\n", e.type == EntryType::kDirectory ? "d" : "-",
                e.type == EntryType::kDirectory ? "-" : human_bytes(e.size).c_str(), format_time(e.mtime).c_str(),
                escaped(e.name).c_str(), e.type == EntryType::kDirectory ? "/" : "");
  }
}

void cmd_stat(Context& ctx, const std::string& target) {
  Target t = must(parse_target(target));
  Outcome o = request(ctx, t, Op::kStat, nullptr, nullptr, "");
  const Answer& a = o.answer;
  if (ctx.settings().json_output) {
    std::printf("%s\n", json{{"agent", t.agent}, {"path", t.path}, {"name", a.name}, {"type", entry_type_name(a.type)},
                             {"size", a.size}, {"mtime", a.mtime}}
                            .dump(-1, ' ', false, json::error_handler_t::replace)
                            .c_str());
    return;
  }
  std::printf("  Path: %s:%s\n  Type: %s\n  Size: %llu (%s)\nModify: %s\n", t.agent.c_str(),
              escaped(t.path).c_str(), a.type == EntryType::kFile ? "file" : "directory",
              static_cast<unsigned long long>(a.size), human_bytes(a.size).c_str(), format_time(a.mtime).c_str());
}

struct GetJob {
  Target target;
  fs::path output;
  std::optional<Error> error;
  uint64_t bytes = 0;
  double seconds = 0;
};

// The name a fetched file gets: the last component of its path, made safe.
std::string local_name(const std::string& path) {
  std::string name = path.substr(path.find_last_of('/') + 1);
  if (name.empty() || name == "." || name == "..") fail(make_error(ErrorCode::usage, "\"" + path + "\" names no file"));
  return name;
}

// A download whose frames are gone from the relay's history (more was in
// flight than it keeps when the connection broke) goes on as a new transfer
// from the verified .part, as `--resume` would: at most this many times, and
// only while each attempt got further than the one before. (A transfer the
// relay forgot in a restart is left to the user's --resume: the agent may
// not be back yet.)
constexpr int kAutoResumes = 5;

void run_get(Context& ctx, GetJob& job, bool resume, bool force, ProgressReporter& progress) {
  auto started = std::chrono::steady_clock::now();
  try {
    std::string label = job.target.agent + ":" + job.target.path;
    for (int resumed = 0;; ++resumed) {
      auto sink = must(PartFile::open(job.output, resume, force));
      try {
        Outcome o = request(ctx, job.target, Op::kGet, sink.get(), &progress, label);
        if (o.answer.type != EntryType::kFile) fail(make_error(ErrorCode::not_allowed, "not a file"));
        job.bytes = o.answer.size;
        break;
      } catch (const Failure& f) {
        std::error_code ec;
        uint64_t held = fs::file_size(sink->part_path(), ec);
        if (!errors::is(f.error, ErrorCode::history_gone) || resumed == kAutoResumes || ec ||
            held <= sink->resume_offset()) {
          throw;
        }
        if (!ctx.settings().quiet) {
          std::fprintf(stderr, "%s: the relay cannot continue this transfer (%s); resuming from byte %llu\n",
                       label.c_str(), f.error.code.c_str(), static_cast<unsigned long long>(held));
        }
        resume = true;
      }
    }
  } catch (const Failure& f) {
    job.error = f.error;
  }
  job.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
}

int cmd_get(Context& ctx, const std::vector<std::string>& sources, const std::string& all_agents_path,
            const std::string& output, bool resume, bool force, size_t parallel) {
  std::vector<GetJob> jobs;
  size_t refused = 0;  // directory entries refused (receive_directory)
  if (!all_agents_path.empty()) {
    auto relay = must(RelayClient::create(ctx.relay()));
    const Directory& dir = ctx.directory(*relay);
    refused = dir.refused;
    for (const auto& a : dir.agents) {
      jobs.push_back(GetJob{Target{a["id"].get<std::string>(), all_agents_path}, {}, {}, 0, 0});
    }
    if (jobs.empty() && refused) {
      fail(make_error(ErrorCode::bad_directory, "the relay's agent list held no agent id that could be used"));
    }
    if (jobs.empty()) fail(make_error(ErrorCode::unknown_agent, "the relay lists no agents for this token"));
    if (!jobs.front().target.path.starts_with("/")) {
      for (auto& j : jobs) j.target.path.insert(j.target.path.begin(), '/');
    }
  }
  for (const auto& s : sources) jobs.push_back(GetJob{must(parse_target(s)), {}, {}, 0, 0});
  if (jobs.empty()) fail(make_error(ErrorCode::usage, "get needs AGENT:/path (one or more) or --all-agents PATH"));

  const bool many = jobs.size() > 1 || !all_agents_path.empty();
  fs::path out = output.empty() ? fs::path(".") : fs::path(output);
  std::error_code ec;
  bool out_is_dir = fs::is_directory(out, ec) || (!output.empty() && output.back() == '/');
  if (many && !out_is_dir && !output.empty()) {
    fail(make_error(ErrorCode::usage, "with several sources, -o must be an existing directory"));
  }
  const bool fan_out = !all_agents_path.empty();
  // "-o out/" names a folder as a fan-out's -o does: made when missing.
  if (fan_out || (!output.empty() && output.back() == '/')) fs::create_directories(out, ec);
  for (auto& j : jobs) {
    std::string name = local_name(j.target.path);
    Result<fs::path> path = out;  // one source, -o a file: the user's own choice
    if (fan_out || (many && std::count_if(jobs.begin(), jobs.end(), [&](const GetJob& o) {
                      return local_name(o.target.path) == name;
                    }) > 1)) {
      path = path_under(out, fs::path(j.target.agent) / name, true);  // fan-out: one folder per agent
    } else if (out_is_dir) {
      path = path_under(out, name, false);
    }
    if (path) j.output = *path;
    else j.error = path.error();
  }

  OutputMode mode = ctx.settings().quiet ? OutputMode::kQuiet
                    : ctx.settings().json_output ? OutputMode::kJson
                                                 : OutputMode::kHuman;
  ProgressReporter progress(mode, mode == OutputMode::kJson ? stdout : stderr);
  std::atomic<size_t> next{0};
  std::vector<std::thread> workers;
  for (size_t w = 0; w < std::min(parallel, jobs.size()); ++w) {
    workers.emplace_back([&] {
      for (size_t i; (i = next.fetch_add(1)) < jobs.size();) {
        if (!jobs[i].error) run_get(ctx, jobs[i], resume, force, progress);
      }
    });
  }
  for (auto& t : workers) t.join();

  // Refused directory entries come first: the relay sent what no agent id
  // can be (exit 5), whatever the other sources did.
  int code = refused ? kExitIntegrity : kExitOk;
  for (const auto& j : jobs) {
    if (j.error && code == kExitOk) code = exit_code_for(j.error->code.c_str());
  }
  if (mode == OutputMode::kJson) {
    for (const auto& j : jobs) {
      json r{{"event", "result"}, {"source", j.target.agent + ":" + j.target.path}, {"output", j.output.string()},
             {"ok", !j.error}, {"bytes", j.bytes}, {"seconds", j.seconds}};
      if (j.error) r["error"] = json{{"error", j.error->code}, {"message", j.error->message}};
      std::printf("%s\n", r.dump(-1, ' ', false, json::error_handler_t::replace).c_str());
    }
  } else if (jobs.size() > 1) {
    std::fprintf(stderr, "%-20s %-8s %12s %8s  %s\n", "AGENT", "RESULT", "SIZE", "SECONDS", "OUTPUT / ERROR");
    for (const auto& j : jobs) {
      std::fprintf(stderr, "%-20s %-8s %12s %8.1f  %s\n", j.target.agent.c_str(), j.error ? "FAILED" : "ok",
                   j.error ? "-" : human_bytes(j.bytes).c_str(), j.seconds,
                   j.error ? escaped(j.error->code + ": " + j.error->message).c_str() : j.output.c_str());
    }
  } else if (jobs[0].error) {
    if (refused) {
      std::fprintf(stderr, "sealrelay: %s\n", printable_lines(jobs[0].error->message).c_str());
      return code;
    }
    throw Failure{*jobs[0].error};
  } else if (mode == OutputMode::kHuman) {
    std::fprintf(stderr, "Saved %s (%s, verified)\n", jobs[0].output.c_str(), human_bytes(jobs[0].bytes).c_str());
  }
  return code;
}

// get -r: one folder, or (--all-agents) the same folder from every agent
// into OUT/<agent>/, one after the other; the exit status of the first
// that did not arrive whole.
int cmd_get_tree(Context& ctx, TreeGetArgs args, const std::vector<std::string>& sources, const std::string& all_agents,
                 const std::string& output) {
  auto sender = [&](const Target& t, const RequestOptions& options, Sink& sink) {
    return send(ctx, t, options, &sink, nullptr);
  };
  if (all_agents.empty()) {
    if (sources.size() != 1) fail(make_error(ErrorCode::usage, "a folder pull takes one AGENT:/share/dir"));
    args.source = sources[0];
    args.output = output;
    return must(get_tree(args, sender));
  }
  if (!sources.empty()) fail(make_error(ErrorCode::usage, "--all-agents takes the folder itself: get -r --all-agents /share/dir"));
  auto relay = must(RelayClient::create(ctx.relay()));
  const Directory& dir = ctx.directory(*relay);
  if (dir.agents.empty()) fail(make_error(ErrorCode::unknown_agent, "the relay lists no agents for this token"));
  int code = dir.refused ? kExitIntegrity : kExitOk;
  const fs::path out = output.empty() ? fs::path(".") : fs::path(output);
  std::error_code ec;
  fs::create_directories(out, ec);
  for (const auto& a : dir.agents) {
    const std::string agent = a["id"].get<std::string>();
    args.source = agent + ":" + (all_agents.starts_with("/") ? "" : "/") + all_agents;
    auto folder = path_under(out, agent, true);  // an id follows the grammar; still joined here only
    if (folder && fs::is_symlink(*folder, ec)) {
      folder = make_error(ErrorCode::unsafe_path, escaped(folder->string()) + " is a symbolic link; not followed");
    }
    Result<int> got = folder ? Result<int>(kExitOk) : Result<int>(folder.error());
    if (folder) {
      fs::create_directory(*folder, ec);
      args.output = folder->string();
      got = get_tree(args, sender);
    }
    if (!got) std::fprintf(stderr, "sealrelay: %s: %s\n", agent.c_str(), printable_lines(got.error().message).c_str());
    const int rc = got ? *got : exit_code_for(got.error().code);
    if (code == kExitOk) code = rc;
  }
  return code;
}

}  // namespace

int run_cli(int argc, char** argv) {
  CLI::App app{"sealrelay: fetch files and listings from agents behind NAT, end-to-end encrypted.\n"
               "The relay in the middle sees no plaintext, no names and no paths.",
               "sealrelay"};
  app.footer(std::string(kExitCodesHelp) +
             "\n\nConfiguration: flags, then SEALRELAY_* environment variables, then $SEALRELAY_HOME/config "
             "(key = \"value\" lines: url, token, ca-file, ...). SEALRELAY_HOME defaults to ~/.config/sealrelay and "
             "holds identity.key and known_agents.");
  app.set_version_flag("--version", kVersion);
  app.require_subcommand(1);
  app.fallthrough();

  Settings s;
  app.add_option("--url", s.url, "Relay URL, e.g. https://relay.example.com")->envname("SEALRELAY_URL");
  app.add_option("--token", s.token, "Requester token (prefer SEALRELAY_TOKEN or the config file: flags show in ps)")
      ->envname("SEALRELAY_TOKEN");
  app.add_option("--token-file", s.token_file, "Read the requester token from this file")
      ->envname("SEALRELAY_TOKEN_FILE");
  app.add_option("--ca-file", s.ca_file, "CA bundle to verify an https relay")->envname("SEALRELAY_CA_FILE");
  app.add_option("--proxy", s.proxy, "HTTP proxy to the relay, http://[USER:PASSWORD@]HOST[:PORT] (credentials: "
                                     "prefer the config file), or \"direct\"; default: HTTPS_PROXY/HTTP_PROXY/NO_PROXY");
  app.add_option("--home", s.home, "Folder with identity.key, known_agents and config")->envname("SEALRELAY_HOME");
  app.add_flag("--json", s.json_output, "Machine-readable output (JSON)");
  app.add_flag("-q,--quiet", s.quiet, "No progress, only errors");
  app.add_option("--stall-timeout", s.stall_timeout,
                 "Give a transfer up when no data came from the agent for this many seconds (it restarted or lost "
                 "its uplink); the partial file stays for --resume")
      ->envname("SEALRELAY_STALL_TIMEOUT")
      ->check(CLI::Range(1, 86400));
  app.add_flag("--no-tofu", s.no_tofu, "Refuse agents that are not pinned yet instead of pinning on first contact")
      ->envname("SEALRELAY_NO_TOFU");
  const char* home_env = std::getenv("SEALRELAY_HOME");
  app.set_config("--config", ((home_env && *home_env ? fs::path(home_env) : default_home()) / "config").string(),
                 "Config file (key = \"value\" lines)");

  bool force = false;
  auto* keygen = app.add_subcommand("keygen", "Create this requester's identity key and print its fingerprint");
  keygen->add_flag("--force", force, "Replace an existing key (agents that trusted the old one will refuse you)");
  auto* whoami = app.add_subcommand("whoami", "Print this requester's public key and fingerprint");
  auto* agents = app.add_subcommand("agents", "List the agents this token may reach (online, last seen, fingerprint)");

  std::string target;
  auto* ls = app.add_subcommand("ls", "List a directory on an agent: sealrelay ls AGENT:/share/dir");
  ls->add_option("target", target, "AGENT:/path")->required();
  bool ls_recursive = false;
  uint32_t ls_depth = 0;
  ls->add_flag("-r,--recursive", ls_recursive, "The whole tree below the folder, one entry a line (one transfer)");
  ls->add_option("--max-depth", ls_depth, "With -r: at most N folders down")->check(CLI::Range(1, 128));
  auto* stat = app.add_subcommand("stat", "Show a file's or directory's metadata: sealrelay stat AGENT:/path");
  stat->add_option("target", target, "AGENT:/path")->required();

  std::vector<std::string> sources;
  std::string output, all_agents;
  bool resume = false;
  size_t parallel = 4;
  auto* get = app.add_subcommand("get", "Download files or a folder: sealrelay get AGENT:/path [AGENT:/path...] [-o FILE|DIR]; get -r AGENT:/dir -o OUT/");
  get->add_option("sources", sources, "AGENT:/path, one or more");
  get->add_option("-o,--output", output, "Output file (one source), or directory: an existing one, or one ending in / (made when missing)");
  get->add_option("--all-agents", all_agents, "Fetch this path from every agent the token may reach (fan-out; with -r a folder, into OUT/AGENT/)");
  get->add_flag("--resume", resume, "Continue an interrupted download from its .part file");
  get->add_flag("--force", force, "Replace an existing output file");
  get->add_option("--parallel", parallel, "Transfers at once with several sources")->check(CLI::Range(1, 64));
  get->add_option("--compress", s.compress,
                  "auto: offer zstd, the agent compresses what shrinks (its share may say off); off: ask for every "
                  "byte as it is")
      ->envname("SEALRELAY_COMPRESS")->check(CLI::IsMember({"auto", "off"}));
  TreeGetArgs tree_args;
  bool recursive = false;
  get->add_flag("-r,--recursive", recursive, "Pull a whole folder in one transfer: get -r AGENT:/share/dir -o OUT/ "
                                             "lands it in OUT/dir/ (a glob in the last component, 'AGENT:/dir/*.csv', "
                                             "pulls the matching files into OUT/ without -r)");
  get->add_option("--include", tree_args.include, "With -r: only files matching GLOB (repeatable; no /: a name at "
                                                  "any depth, with /: from the pulled folder down)")
      ->allow_extra_args(false);  // one GLOB per --include: the source that follows is not a pattern
  get->add_option("--exclude", tree_args.exclude, "With -r: leave out what matches GLOB (repeatable, as --include)")
      ->allow_extra_args(false);
  get->add_option("--newer-than", tree_args.newer_than, "With -r: only files changed since then: 30m, 24h, 7d, 2w, "
                                                        "or a local date 2026-12-01[T10:00]");
  get->add_option("--max-depth", tree_args.max_depth, "With -r: go at most N folders down (1: the folder's own entries)")
      ->check(CLI::Range(1, 128));
  get->add_option("--max-entries", tree_args.max_entries, "With -r: refuse a stream of more entries (default 1000000)")
      ->check(CLI::Range(uint64_t{1}, uint64_t{100000000}));
  get->add_flag("--strict", tree_args.strict, "With -r: stop at the first entry skipped or failed (exit 7)");
  for (auto* sub : {ls, stat, get}) {
    sub->add_option("--expect-fingerprint", s.expect_fingerprint,
                    "Refuse unless the agent's key has this fingerprint (its pin too, when it has one)");
  }

  std::string trust_agent, trust_fp, trust_key;
  auto* trust = app.add_subcommand("trust", "Pin (or re-pin) an agent's key after checking its fingerprint");
  trust->add_option("agent", trust_agent, "Agent id")->required();
  trust->add_option("fingerprint", trust_fp, "Fingerprint the agent's admin gave you")->required();
  trust->add_option("--key", trust_key, "The agent's public key (base64), instead of asking the relay");
  std::string remove;
  auto* known = app.add_subcommand("known-agents", "List pinned agents");
  known->add_option("--remove", remove, "Forget the pin of this agent");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? kExitOk : kExitUsage;
  }

  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
  Context ctx(s);
  try {
    if (*keygen) cmd_keygen(ctx, force);
    else if (*whoami) cmd_whoami(ctx);
    else if (*agents) return cmd_agents(ctx);
    else if (*ls && ls_recursive) {
      return must(list_tree(target, ls_depth, s.json_output ? OutputMode::kJson : OutputMode::kHuman,
                            [&](const Target& t, const RequestOptions& options, Sink& sink) {
                              return send(ctx, t, options, &sink, nullptr);
                            }));
    } else if (*ls) cmd_ls(ctx, target);
    else if (*stat) cmd_stat(ctx, target);
    else if (*get && (recursive || (sources.size() == 1 && names_a_glob(sources[0])))) {
      tree_args.resume = resume;
      tree_args.force = force;
      tree_args.mode = s.quiet ? OutputMode::kQuiet : s.json_output ? OutputMode::kJson : OutputMode::kHuman;
      return cmd_get_tree(ctx, tree_args, sources, all_agents, output);
    } else if (*get) return cmd_get(ctx, sources, all_agents, output, resume, force, parallel);
    else if (*trust) cmd_trust(ctx, trust_agent, trust_fp, trust_key);
    else if (*known) cmd_known_agents(ctx, remove);
  } catch (const Failure& f) {
    if (s.json_output) {
      std::printf("%s\n", json{{"event", "error"}, {"error", f.error.code}, {"message", f.error.message}}
                              .dump(-1, ' ', false, json::error_handler_t::replace)
                              .c_str());
    }
    std::fprintf(stderr, "sealrelay: %s\n", printable_lines(f.error.message).c_str());
    return exit_code_for(f.error.code.c_str());
  }
  return kExitOk;
}

}  // namespace sealrelay::requester
