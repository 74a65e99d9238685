// Part c of e2e_bench: N gets of a 1 KiB file through the embedded store.
//
// What "first plaintext byte" means here, twice:
//   * the CLI as a user runs it: from exec of `sealrelay --json get` to the
//     arrival, on its stdout pipe, of the first progress line that reports
//     content bytes. The CLI prints that line after the frame was opened,
//     authenticated and written to the .part file, so it is the moment the
//     user's first plaintext exists. Includes process start, key loading,
//     both HTTP connections, the handshake and the agent's work.
//     Baseline: `curl -sf -o /dev/null URL/healthz`, exec to exit.
//   * the requester library in this process (requester/transfer.h): from
//     run_request() to the first Sink::write (verified plaintext), and to
//     its return. Baseline: one HTTP GET of /healthz on a new connection.
// Each iteration runs the four one after the other, so noise hits all alike.
#include <httplib.h>
#include <sodium.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "bench/e2e/sections.h"
#include "requester/known_agents.h"
#include "requester/transfer.h"

namespace sealrelay::bench {
namespace fs = std::filesystem;

namespace {

double ms_between(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}

// Keeps content in memory and the time of the first verified byte.
class TimedSink : public requester::Sink {
 public:
  Result<void> begin(const Answer&, const std::function<void(std::span<const uint8_t>)>&) override {
    data.clear();
    return {};
  }
  Result<void> write(std::span<const uint8_t> chunk) override {
    if (!first) first = Clock::now();
    data.append(reinterpret_cast<const char*>(chunk.data()), chunk.size());
    return {};
  }
  Result<void> commit() override { return {}; }
  void abandon(const Error&) override {}

  std::optional<Clock::time_point> first;
  std::string data;
};

// Arrival of the first {"event":"progress", "bytes" > 0} line.
std::optional<Clock::time_point> first_content_line(const CliRun& run) {
  for (const auto& [t, line] : run.lines()) {
    auto j = nlohmann::json::parse(line, nullptr, false);
    if (j.is_object() && j.value("event", "") == "progress" && j.value("bytes", uint64_t{0}) > 0) return t;
  }
  return std::nullopt;
}

const char* curl_path() {
  for (const char* p : {"/usr/bin/curl", "/usr/local/bin/curl"}) {
    if (::access(p, X_OK) == 0) return p;
  }
  return nullptr;
}

}  // namespace

LatencyResults run_latency(const Options& o) {
  LatencyResults res;
  test::TempDir share;
  const std::string name = "tiny-1KiB.bin";
  auto file = make_data_file(share.path(), name, 1024, 7);
  if (!file) {
    res.error = file.error().message;
    return res;
  }
  const std::string want = test::read_file(file->path());
  auto started = start_deployment(Store::kMemory);
  if (!started) {
    res.error = started.error().message;
    return res;
  }
  test::Deployment& c = **started;
  if (auto r = start_agent(c, "shop-1", share.path()); !r) {
    res.error = r.error().message;
    return res;
  }
  if (auto r = pin(c, "shop-1"); !r) {
    res.error = r.error().message;
    return res;
  }
  auto me = load_identity(c.cli_home() + "/identity.key");
  auto known = requester::KnownAgents::load(c.cli_home() + "/known_agents");
  std::optional<PublicKey> agent_key = known ? known->find("shop-1") : std::nullopt;
  if (!me || !agent_key) {
    res.error = "cannot load the CLI's key or its pin of shop-1";
    return res;
  }
  RelayConfig relay;
  relay.url = c.url();
  relay.token = c.requester_token();
  requester::RequestOptions ropt;
  ropt.op = Op::kGet;
  ropt.path = "/demo/" + name;
  requester::TimestampSource clock;
  const char* curl = curl_path();
  const std::string out = c.dir() + "/" + name;

  std::vector<double> cli_first, cli_total, curl_total, lib_answer, lib_first, lib_total, http_total;
  const int warmup = 3;
  std::fprintf(stderr, "e2e_bench: %d gets of 1 KiB (+%d warm-up), embedded store\n", o.gets, warmup);
  for (int i = -warmup; i < o.gets; ++i) {
    throw_if_interrupted();
    const bool keep = i >= 0;
    // The CLI, as a user runs it.
    fs::remove(out);
    auto run = measured_cli(c, {"--json", "get", "shop-1:/demo/" + name, "-o", out}, "latency-cli.log");
    if (!run) {
      res.error = run.error().message;
      return res;
    }
    bool done = (*run)->wait(60s);
    auto first = first_content_line(**run);
    bool ok = done && (*run)->exit_code() == 0 && first;
    if (keep) {
      ++res.runs;
      if (ok && test::read_file(out) == want) ++res.identical;
      if (ok) {
        cli_first.push_back(ms_between((*run)->started(), *first));
        cli_total.push_back((*run)->seconds() * 1e3);
      }
    }
    // Baseline: curl, a process that makes one HTTP request.
    if (curl) {
      auto cr = CliRun::start({curl, "-sf", "-o", "/dev/null", c.url() + "/healthz"}, {}, c.dir() + "/curl.log");
      if (cr && (*cr)->wait(30s) && (*cr)->exit_code() == 0 && keep) curl_total.push_back((*cr)->seconds() * 1e3);
    }
    // The requester library, in this process.
    TimedSink sink;
    std::optional<Clock::time_point> answered;  // the first progress call: message 2 opened
    auto on_progress = [&](const requester::Progress&) {
      if (!answered) answered = Clock::now();
    };
    auto t0 = Clock::now();
    auto got = requester::run_request(relay, *me, "shop-1", *agent_key, ropt, clock, &sink, on_progress);
    auto t1 = Clock::now();
    if (keep) {
      ++res.runs;
      if (got && sink.data == want) ++res.identical;
      if (got && answered) lib_answer.push_back(ms_between(t0, *answered));
      if (got && sink.first) {
        lib_first.push_back(ms_between(t0, *sink.first));
        lib_total.push_back(ms_between(t0, t1));
      }
    }
    // Baseline: one HTTP GET on a new connection, in this process.
    auto h0 = Clock::now();
    httplib::Client http("127.0.0.1", c.port());
    auto hr = http.Get("/healthz");
    auto h1 = Clock::now();
    if (hr && hr->status == 200 && keep) http_total.push_back(ms_between(h0, h1));
  }
  res.cli_first_byte = percentiles(cli_first);
  res.cli_total = percentiles(cli_total);
  res.curl_total = percentiles(curl_total);
  res.lib_answer = percentiles(lib_answer);
  res.lib_first_byte = percentiles(lib_first);
  res.lib_total = percentiles(lib_total);
  res.http_total = percentiles(http_total);
  res.measured = true;

  std::printf("\n### c. 1 KiB get, embedded store: time to first plaintext byte and total (%d gets each)\n\n", o.gets);
  auto row = [](const std::string& what, const Percentiles& p, const Percentiles* base) {
    if (p.n == 0) return std::vector<std::string>{what, "—", "—", "0", ""};
    std::string ratio = base && base->n ? strf("×%.1f / ×%.1f", p.p50 / base->p50, p.p99 / base->p99) : "";
    return std::vector<std::string>{what, strf("%.1f ms", p.p50), strf("%.1f ms", p.p99), std::to_string(p.n), ratio};
  };
  std::vector<std::vector<std::string>> rows{
      row("CLI `sealrelay --json get`: first plaintext byte (exec → first progress line with bytes > 0)",
          res.cli_first_byte, &res.curl_total),
      row("CLI `sealrelay --json get`: total (exec → exit, file saved and verified)", res.cli_total, &res.curl_total),
      curl ? row("baseline: `curl -sf URL/healthz` (exec → exit)", res.curl_total, nullptr)
           : std::vector<std::string>{"baseline: curl", "skipped: curl not installed", "", "", ""},
      row("library run_request() in-process: agent's answer opened (→ message 2, handshake done)", res.lib_answer,
          &res.http_total),
      row("library run_request() in-process: first plaintext byte (→ first Sink::write)", res.lib_first_byte,
          &res.http_total),
      row("library run_request() in-process: total (→ return, trailer verified)", res.lib_total, &res.http_total),
      row("baseline: HTTP GET /healthz in-process, new connection", res.http_total, nullptr),
  };
  print_table({"what", "p50", "p99", "n", "÷ baseline (p50 / p99)"}, rows);
  std::printf("\n%d of %d gets bit-identical (CLI and library; 1 KiB, sha256 %s…)\n", res.identical, res.runs,
              file->sha256.substr(0, 12).c_str());
  return res;
}

}  // namespace sealrelay::bench
