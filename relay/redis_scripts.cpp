#include "relay/redis_scripts.h"

#include "proto/errors.h"
#include "relay/redis_cluster.h"

#include <openssl/sha.h>

namespace sealrelay::relay::redis {
namespace {

const std::string kAnswer = R"lua(
if redis.call('EXISTS', KEYS[1]) == 0 then return {'err', 'unknown_transfer', ''} end
local st = redis.call('HGET', KEYS[1], 'state')
if st ~= 'requested' then return {'err', 'conflict', st} end
redis.call('HSET', KEYS[1], 'state', 'answered', 'answer', ARGV[1], 'updated', ARGV[3])
redis.call('XADD', KEYS[2], '0-1', 'k', 'answer', 'p', ARGV[1])
redis.call('EXPIRE', KEYS[1], ARGV[2])
redis.call('EXPIRE', KEYS[2], ARGV[2])
return {'ok', redis.call('HGETALL', KEYS[1])}
)lua";

// ARGV: to, code, message, error_record, only_from ('' = any), ttl, now
const std::string kFinish = R"lua(
if redis.call('EXISTS', KEYS[1]) == 0 then return {'err', 'unknown_transfer', ''} end
local st = redis.call('HGET', KEYS[1], 'state')
if st == 'failed' or st == 'cancelled' or st == 'expired' or (ARGV[5] ~= '' and st ~= ARGV[5]) then
  return {'ok', redis.call('HGETALL', KEYS[1]), 0}
end
local next = tonumber(redis.call('HGET', KEYS[1], 'frames')) + 1
redis.call('HSET', KEYS[1], 'state', ARGV[1], 'ecode', ARGV[2], 'emsg', ARGV[3], 'upsess', '',
           'updated', ARGV[7], 'trimmed', next)
redis.call('INCR', KEYS[3])
redis.call('EXPIRE', KEYS[3], ARGV[6])
redis.call('XTRIM', KEYS[2], 'MINID', next .. '-0')
redis.call('XADD', KEYS[2], next .. '-1', 'k', 'error', 'p', ARGV[4])
redis.call('EXPIRE', KEYS[1], ARGV[6])
redis.call('EXPIRE', KEYS[2], ARGV[6])
return {'ok', redis.call('HGETALL', KEYS[1]), 1}
)lua";

// ARGV: session, first, ttl, now
const std::string kBeginUpload = R"lua(
if redis.call('EXISTS', KEYS[1]) == 0 then return {'err', 'unknown_transfer', ''} end
local st = redis.call('HGET', KEYS[1], 'state')
if st ~= 'answered' and st ~= 'uploading' then return {'err', 'conflict', st} end
if redis.call('HGET', KEYS[1], 'frames') ~= ARGV[2] then return {'err', 'conflict', 'frame'} end
redis.call('HSET', KEYS[1], 'state', 'uploading', 'upsess', ARGV[1], 'updated', ARGV[4])
redis.call('INCR', KEYS[3])
redis.call('EXPIRE', KEYS[1], ARGV[3])
redis.call('EXPIRE', KEYS[2], ARGV[3])
redis.call('EXPIRE', KEYS[3], ARGV[3])
return {'ok', redis.call('HGETALL', KEYS[1])}
)lua";

// Trims frames more than `history` behind `delivered`. Shared by append and
// delivered (string-concatenated into both).
const std::string kTrimFn = R"lua(
local function trim(history)
  local keep = tonumber(redis.call('HGET', KEYS[1], 'delivered')) + 1 - history
  if keep > tonumber(redis.call('HGET', KEYS[1], 'trimmed')) then
    redis.call('XTRIM', KEYS[2], 'MINID', keep .. '-0')
    redis.call('HSET', KEYS[1], 'trimmed', keep)
  end
end
)lua";

// Runs inside the MULTI that appended frames [first, frames] (WATCH on the
// guard key proved the checks append() made still hold); records them.
// ARGV: frames, bytes, end_record, history, ttl, now
const std::string kAppended = kTrimFn + R"lua(
if redis.call('EXISTS', KEYS[1]) == 0 then
  redis.call('DEL', KEYS[2])  -- expired in between: leave no stream without a TTL
  return {'err', 'unknown_transfer', ''}
end
local frames = tonumber(ARGV[1])
redis.call('HSET', KEYS[1], 'frames', frames, 'bytes', ARGV[2], 'updated', ARGV[6])
if ARGV[3] ~= '' then
  redis.call('XADD', KEYS[2], (frames + 1) .. '-0', 'k', 'end', 'p', ARGV[3])
  redis.call('HSET', KEYS[1], 'state', 'complete', 'upsess', '')
  redis.call('INCR', KEYS[3])
end
trim(tonumber(ARGV[4]))
redis.call('EXPIRE', KEYS[1], ARGV[5])
redis.call('EXPIRE', KEYS[2], ARGV[5])
redis.call('EXPIRE', KEYS[3], ARGV[5])
return {'ok', redis.call('HGETALL', KEYS[1])}
)lua";

// ARGV: n, history, ttl
const std::string kDelivered = kTrimFn + R"lua(
if redis.call('EXISTS', KEYS[1]) == 0 then return {'err', 'unknown_transfer', ''} end
local n = math.min(tonumber(ARGV[1]), tonumber(redis.call('HGET', KEYS[1], 'frames')))
if n > tonumber(redis.call('HGET', KEYS[1], 'delivered')) then
  redis.call('HSET', KEYS[1], 'delivered', n)
  trim(tonumber(ARGV[2]))
  redis.call('EXPIRE', KEYS[1], ARGV[3])
  redis.call('EXPIRE', KEYS[2], ARGV[3])
end
return {'ok', redis.call('HGETALL', KEYS[1])}
)lua";

// KEYS: info, active, inbox. ARGV: tid, json, max_active, now_ms, stale_before_ms,
// maxlen, minid_ms, retention_s, ttl_s
const std::string kCreate = R"lua(
if redis.call('EXISTS', KEYS[1]) == 0 then return {'err', 'unknown_agent', ''} end
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', ARGV[5])
local active = redis.call('ZCARD', KEYS[2])
if active >= tonumber(ARGV[3]) then return {'err', 'rate_limited', tostring(active)} end
redis.call('ZADD', KEYS[2], ARGV[4], ARGV[1])
redis.call('EXPIRE', KEYS[2], ARGV[9])
local id = redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[6], '*', 'k', 'transfer', 'r', ARGV[1], 'p', ARGV[2])
redis.call('XTRIM', KEYS[3], 'MINID', '~', ARGV[7])
redis.call('EXPIRE', KEYS[3], ARGV[8])
return {'ok', id}
)lua";

// KEYS: online, info. ARGV: session, presence_ms, now_s, agent_ttl_s
// A late heartbeat (the presence key expired while the relay's thread was
// held up) is not a takeover: the session named in the info hash still owns
// presence and takes it back, as the embedded store does. Only another
// session in the key, or none in the hash (disconnected), ends the stream.
const std::string kHeartbeat = R"lua(
local cur = redis.call('GET', KEYS[1])
if cur then
  if cur ~= ARGV[1] then return 0 end
elseif redis.call('HGET', KEYS[2], 'session') ~= ARGV[1] then
  return 0
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
redis.call('HSET', KEYS[2], 'last_seen', ARGV[3])
redis.call('EXPIRE', KEYS[2], ARGV[4])
return 1
)lua";

// KEYS: online, info. ARGV: session, now_s
const std::string kDisconnect = R"lua(
local cur = redis.call('GET', KEYS[1])
if cur == ARGV[1] or (not cur and redis.call('HGET', KEYS[2], 'session') == ARGV[1]) then
  redis.call('DEL', KEYS[1])
  redis.call('HDEL', KEYS[2], 'session')
  redis.call('HSET', KEYS[2], 'last_seen', ARGV[2])
end
return 1
)lua";

std::string sha1_hex(const std::string& s) {
  unsigned char d[SHA_DIGEST_LENGTH];
  SHA1(reinterpret_cast<const unsigned char*>(s.data()), s.size(), d);
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (unsigned char c : d) {
    out.push_back(hex[c >> 4]);
    out.push_back(hex[c & 15]);
  }
  return out;
}

}  // namespace

Script::Script(const std::string& t) : text(t), sha(sha1_hex(t)) {}

const Scripts& scripts() {
  // The scripts are constants above; hash each once.
  static const Scripts s{Script(kAnswer),    Script(kFinish), Script(kBeginUpload),
                         Script(kAppended),  Script(kDelivered), Script(kCreate),
                         Script(kHeartbeat), Script(kDisconnect)};
  return s;
}

Result<Reply> eval(RedisConn& c, const Script& s, const std::vector<std::string>& keys,
                   const std::vector<std::string>& args) {
  std::string nkeys = std::to_string(keys.size());
  std::vector<std::string_view> argv = {"EVALSHA", s.sha, nkeys};
  for (auto& k : keys) argv.push_back(k);
  for (auto& a : args) argv.push_back(a);
  auto r = c.command(argv);
  if (!r) return r;
  if (reply_is_error(r->get()) && reply_str(r->get()).starts_with("NOSCRIPT")) {
    argv[0] = "EVAL";
    argv[1] = s.text;
    r = c.command(argv);
  }
  if (r && reply_is_error(r->get())) {
    if (auto moved = redirection_error(r->get())) return *moved;
    if (auto unstable = cluster_unstable(r->get())) return *unstable;
    return make_error(ErrorCode::store_error, "redis: " + reply_str(r->get()));
  }
  return r;
}

}  // namespace sealrelay::relay::redis
