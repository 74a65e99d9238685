// Redis replies read into the store's types (relay/store.h, relay/mailbox.h):
// the transfer meta hash, stream entries, error replies, transactions and
// the {'err', code, detail} answers of the scripts (relay/redis_scripts.h).
//
// A field missing from a hash or an entry reads as empty or 0; an error
// reply reads as "store_unavailable", never as "not found" (unavailable()).
// Stateless; safe from any thread; read_transaction() reads on the caller's
// leased connection.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "base/result.h"
#include "relay/redis.h"
#include "relay/store.h"

namespace sealrelay::relay::redis {

// Decimal digits -> number; 0 when there are none.
uint64_t to_u64(std::string_view s);

std::optional<State> parse_state(std::string_view s);

// HGETALL reply -> TransferInfo.
TransferInfo parse_meta(const std::string& tid, const redisReply* r);

// One field of an HGETALL reply; "" when absent.
std::string meta_field(const redisReply* r, std::string_view name);

// One stream entry [id, [field, value, ...]] -> Entry.
std::optional<Entry> parse_entry(const redisReply* e);

// An error reply (LOADING while Redis reads its file after a restart,
// MISCONF, NOPERM, ...) means the store cannot answer now — never that the
// key is absent: an agent or requester told "no such transfer" gives it up.
// A cluster's MOVED or ASK is Error "redis_moved" (RedisAccess::on sends the
// work again to the slot's new master).
std::optional<Error> unavailable(const redisReply* r);

// Reads the replies to MULTI, `commands` queued commands and EXEC (all
// appended already): EXEC's reply (nil when a WATCH aborted it), or the
// first error — the connection's, a command refused when queued, or EXEC's.
Result<Reply> read_transaction(RedisConn& c, size_t commands);

// A transfer script's {'err', code, detail} -> the Error a client reads.
Error script_error(const redisReply* r, const std::string& tid);

// The EXEC reply of RedisStore::append()'s transaction (`frames` XADDs, then
// the appended script, then `trailing` commands: the cluster's SPUBLISH) ->
// the script's reply, an array of at least 2; any other shape, or an error
// among the replies, is Error "store_error".
Result<const redisReply*> appended_script_reply(const redisReply* x, size_t frames,
                                                size_t trailing = 0);

}  // namespace sealrelay::relay::redis
