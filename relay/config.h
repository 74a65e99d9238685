// Everything `sealrelay-relay serve` can be told (flags, SEALRELAY_* env,
// config file; relay/cli.cpp has the help strings). Set before the server
// starts; immutable after.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include "proto/upload.h"

namespace sealrelay::relay {

struct Config {
  std::string listen = "127.0.0.1:8080";  // HOST:PORT, port 0 = any free port
  std::string redis_url;                  // empty: embedded in-memory store
  std::string redis_cluster;              // seeds redis://h1:p1,redis://h2:p2: a Redis Cluster instead
  size_t redis_connections = 16;          // per node, the two reader connections included
  std::string tokens_file;                // default <state_dir>/tokens.json
  std::string state_dir = "/var/lib/sealrelay";
  std::string tls_cert, tls_key, tls_client_ca;
  std::string web_root;  // static files at /, empty: none

  size_t max_frame_bytes = upload::kDefaultMaxFrameBytes;
  uint64_t max_transfer_bytes = 64ull << 30;
  uint64_t window_frames = 16;
  uint64_t history_frames = 8;
  uint64_t max_transfers_per_agent = 16;
  size_t max_connections = 1024;
  double rate_per_token = 20, burst_per_token = 100;
  double rate_per_ip = 50, burst_per_ip = 200;
  size_t max_json_bytes = 256u << 10;
  size_t max_headers = 64;

  std::chrono::milliseconds heartbeat{15000};
  std::chrono::seconds answer_timeout{60};
  std::chrono::seconds transfer_ttl{3600};
  std::chrono::seconds upload_stall{300};
  std::chrono::seconds read_timeout{60};   // per recv on every connection
  std::chrono::seconds write_timeout{30};  // per send: a stalled stream is dropped after it
  std::string log_level = "info";
};

}  // namespace sealrelay::relay
