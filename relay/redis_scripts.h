// The Lua scripts of RedisStore and how they run: each check-and-write that
// must be atomic in Redis is one script here, named and hashed once.
//
// Transfer scripts (answer, finish, begin_upload, appended, delivered):
// KEYS[1] = meta, KEYS[2] = ev, KEYS[3] = guard (relay/redis_keys.h). They
// answer {'ok', HGETALL meta, ...} or {'err', code, detail}. The agent
// scripts (create, heartbeat, disconnect) take the agent's keys; the ARGV of
// each script is written above its text in redis_scripts.cpp.
//
// Frame payloads never pass through Lua: Redis's Lua hashes every byte of
// every string it is handed (its fix for hash-flooding), which cost Redis
// more CPU than everything else it did for a transfer. Frames go in with
// plain XADDs inside MULTI, guarded by WATCH on the guard key, which every
// script that changes who may append (state, upload session) increments.
//
// Every script touches the keys of one hash tag only (see redis_keys.h).
// The scripts are immutable after their first use (built and hashed under a
// function-local static); eval() runs on the caller's leased connection and
// takes no lease of its own.
#pragma once

#include <string>
#include <vector>

#include "base/result.h"
#include "relay/redis.h"

namespace sealrelay::relay::redis {

// A script's text and its SHA1, the name EVALSHA knows it by.
struct Script {
  const std::string& text;
  std::string sha;
  explicit Script(const std::string& t);
};

struct Scripts {
  Script answer, finish, begin_upload, appended, delivered, create, heartbeat, disconnect;
};

// The scripts, each hashed once.
const Scripts& scripts();

// Runs a script by its SHA (EVALSHA); when this Redis does not have it yet
// (NOSCRIPT: a fresh or restarted server), sends the text once (EVAL), which
// also loads it for the next EVALSHA. An error reply becomes Error
// "store_error" (a cluster's MOVED or ASK: "redis_moved"; TRYAGAIN or
// CLUSTERDOWN: "store_unavailable").
Result<Reply> eval(RedisConn& c, const Script& s, const std::vector<std::string>& keys,
                   const std::vector<std::string>& args);

}  // namespace sealrelay::relay::redis
