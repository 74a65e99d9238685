// The Redis key schema of RedisStore: every key it reads or writes is named
// here, nowhere else.
//
//   sr:{a:<agent>}:info      hash  pk, version, last_seen        TTL agent_ttl
//   sr:{a:<agent>}:online    string session id                    TTL presence_ttl
//   sr:{a:<agent>}:inbox     stream control events (k, r, p)      TTL inbox_retention
//   sr:{a:<agent>}:active    zset  non-terminal transfers by time TTL transfer_ttl
//   sr:{dir}:agents          zset  agent ids by last_seen         TTL agent_ttl
//   sr:{t:<tid>}:meta        hash  state and counters             TTL transfer_ttl
//   sr:{t:<tid>}:ev          stream answer/frames/end/error       TTL transfer_ttl
//   sr:{t:<tid>}:guard       string bumped when who may append changes TTL transfer_ttl
//   sr:{r:<requester>}:transfers zset transfer ids by time        TTL transfer_ttl
//   sr:{bell}:inbox          stream r = agent id, one per inbox write  TTL inbox_retention
//                            (one Redis only; a cluster uses wake channels)
//   channel <ev or inbox key>:wake  cluster only: SPUBLISHed with each write
// Every write refreshes its keys' TTL; an abandoned transfer vanishes
// transfer_ttl after its last write.
//
// Why the hash tags (the part in braces, which alone picks the Redis Cluster
// slot): a Lua script or a MULTI/EXEC may only touch keys of one slot in a
// cluster, so every key that one script or transaction touches carries the
// same tag:
//   {t:<tid>}    meta, ev and guard: the transfer scripts
//                (relay/redis_scripts.h), append()'s WATCH guard + MULTI of
//                XADDs to ev, read_events()'s MULTI over meta and ev.
//   {a:<agent>}  info, online, inbox and active: the create script (info,
//                active, inbox), the heartbeat and disconnect scripts
//                (online, info).
//   {dir}, {bell}, {r:<requester>}: one key each, only ever touched by plain
//                commands, never inside a script or transaction with another.
// Commands that span tags (create_transfer writes meta, runs the create
// script, then adds to the requester's zset) are separate round trips, so
// the layout can live in Redis Cluster as it is.
//
// The Hub (relay/mailbox.h) keys its mailboxes by these Redis keys too.
// Stateless; safe from any thread.
#pragma once

#include <string>

namespace sealrelay::relay::redis {

inline std::string info_key(const std::string& a) { return "sr:{a:" + a + "}:info"; }
inline std::string online_key(const std::string& a) { return "sr:{a:" + a + "}:online"; }
inline std::string inbox_key(const std::string& a) { return "sr:{a:" + a + "}:inbox"; }
inline std::string active_key(const std::string& a) { return "sr:{a:" + a + "}:active"; }
inline const std::string kDirKey = "sr:{dir}:agents";
// Doorbell: one entry (r = agent id) per inbox write, so a node watches one
// key for all its idle agents instead of one key each.
inline const std::string kBellKey = "sr:{bell}:inbox";
inline std::string meta_key(const std::string& t) { return "sr:{t:" + t + "}:meta"; }
inline std::string ev_key(const std::string& t) { return "sr:{t:" + t + "}:ev"; }
inline std::string guard_key(const std::string& t) { return "sr:{t:" + t + "}:guard"; }
inline std::string mine_key(const std::string& r) { return "sr:{r:" + r + "}:transfers"; }

// Cluster only: the sharded pub/sub channel that says `key` (a transfer's ev
// or an agent's inbox) has news. Same hash tag, so the same slot: SPUBLISH
// sits in the transaction that writes the key (relay/redis_slot_watcher.h).
inline const std::string kWakeSuffix = ":wake";
inline std::string wake_channel(const std::string& key) { return key + kWakeSuffix; }
inline std::string woken_key(const std::string& channel) {
  return channel.ends_with(kWakeSuffix) ? channel.substr(0, channel.size() - kWakeSuffix.size()) : "";
}

}  // namespace sealrelay::relay::redis
