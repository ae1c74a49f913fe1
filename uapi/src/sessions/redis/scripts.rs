//! The Lua scripts of the Redis backend.
//!
//! Each script touches exactly ONE key (so ONE hash slot): Redis Cluster
//! requires it, and it keeps each script's atomicity meaningful.

use std::sync::LazyLock;

use redis::Script;

/// Field-level save of ONE session key (single slot), for saves that set a
/// namespace and for cluster mode (a single command follows ASK redirections;
/// plain saves on a single node are transactions, see `RedisBackend::update`).
/// Why a script: "does the session still exist?" and "write the fields" must
/// be atomic, otherwise a save racing a logout would resurrect the session
/// (HSET creates the key).
/// KEYS[1] = session. ARGV = existed, max_age_ms, set_ns, ns, n_upserts,
/// k1, v1, ..., kn, vn, removal1, ...
/// Returns 1 (saved), 0 (the session is gone: nothing written), or, when the
/// namespace changed, {1, 1, had_old_ns, old_ns, pttl_ms}: integers in the
/// common cases, so the reply costs no allocation to decode.
/// A new session also gets the reserved field `\x01c`, so it keeps existing
/// when all its user fields are removed (HDEL of the last field deletes a key).
pub(super) static SAVE: LazyLock<Script> = LazyLock::new(|| Script::new(SAVE_SRC));
const SAVE_SRC: &str = r"
local key = KEYS[1]
local last = 5 + 2 * tonumber(ARGV[5])
local from = 6
if ARGV[1] == '1' then
  if redis.call('EXISTS', key) == 0 then return 0 end
elseif last < 1000 then
  -- A new session in one HSET, with the marker field.
  redis.call('HSET', key, '\1c', '1', unpack(ARGV, 6, last))
  from = last + 1
else
  redis.call('HSET', key, '\1c', '1')
end
-- One HSET / HDEL per chunk of fields, not per field (unpack's stack is finite).
for i = from, last, 1000 do redis.call('HSET', key, unpack(ARGV, i, math.min(i + 999, last))) end
for i = last + 1, #ARGV, 1000 do redis.call('HDEL', key, unpack(ARGV, i, math.min(i + 999, #ARGV))) end
local changed, had, old = 0, 0, ''
if ARGV[3] == '1' then
  local cur = redis.call('HGET', key, '\1ns')
  if cur ~= ARGV[4] then
    redis.call('HSET', key, '\1ns', ARGV[4])
    changed = 1
    if cur then had, old = 1, cur end
  end
end
-- NX: a new key gets max_age, an existing key keeps its expiry, and a key
-- that somehow has none gets one: no save ever leaves a key without a TTL.
redis.call('PEXPIRE', key, ARGV[2], 'NX')
if changed == 1 then return {1, 1, had, old, redis.call('PTTL', key)} end
return 1
";

/// Adds a member to ONE namespace index (single slot): prunes expired members,
/// scores the new one with its expiry, and sets the index TTL to its largest
/// score so the index outlives every member. Uses the server clock (TIME) so
/// scores agree with the TTLs Redis enforces. KEYS[1] = index; ARGV = id, ttl_ms.
pub(super) static INDEX_ADD: LazyLock<Script> = LazyLock::new(|| Script::new(INDEX_ADD_SRC));
const INDEX_ADD_SRC: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
local top = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
redis.call('PEXPIREAT', KEYS[1], top[2])
return 1
";

/// Deletes ONE session key only if it still belongs to the namespace, so a
/// stale index entry can never log out a session that moved elsewhere.
/// KEYS[1] = session; ARGV[1] = namespace. Returns 1 if deleted.
pub(super) static DELETE_IF_NS: LazyLock<Script> = LazyLock::new(|| Script::new(DELETE_IF_NS_SRC));
const DELETE_IF_NS_SRC: &str = r"
if redis.call('HGET', KEYS[1], '\1ns') == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
";

/// Reads and deletes ONE namespace index atomically (single slot), so a
/// session indexed concurrently lands in a fresh index, not in limbo. A script
/// rather than MULTI/EXEC: one command, which a cluster client can follow
/// through an ASK redirection during a resharding (a transaction cannot).
/// KEYS[1] = index. Returns its members.
pub(super) static TAKE_INDEX: LazyLock<Script> = LazyLock::new(|| Script::new(TAKE_INDEX_SRC));
const TAKE_INDEX_SRC: &str = r"
local members = redis.call('ZRANGE', KEYS[1], 0, -1)
redis.call('DEL', KEYS[1])
return members
";

/// Reserves a place for one attempt in ONE attempt log (a ZSET of attempt ids
/// scored by when they were made, server clock): drops the attempts older
/// than the window; if `limit` remain, returns the milliseconds until the
/// oldest of those that count leaves the window (at least 1) and records
/// nothing; else records the attempt, sets the key's TTL to the window, and
/// returns 0. KEYS[1] = log; ARGV = attempt, limit, window_ms.
pub(super) static RESERVE: LazyLock<Script> = LazyLock::new(|| Script::new(RESERVE_SRC));
const RESERVE_SRC: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local limit, window = tonumber(ARGV[2]), tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
local n = redis.call('ZCARD', KEYS[1])
if n >= limit then
  if limit < 1 then return window end
  local oldest = redis.call('ZRANGE', KEYS[1], n - limit, n - limit, 'WITHSCORES')
  return math.max(1, tonumber(oldest[2]) + window - now)
end
redis.call('ZADD', KEYS[1], now, ARGV[1])
redis.call('PEXPIRE', KEYS[1], window)
return 0
";

/// Every script's source, for `SCRIPT LOAD` after a server lost its cache.
pub(super) const ALL: [&str; 5] = [SAVE_SRC, INDEX_ADD_SRC, DELETE_IF_NS_SRC, TAKE_INDEX_SRC, RESERVE_SRC];
