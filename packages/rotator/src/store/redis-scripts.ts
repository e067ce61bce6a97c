/**
 * The Lua scripts of the Redis store. Each runs atomically on the node that owns its keys: the record
 * scripts touch one chain's hash (one hash tag), the index scripts only the index keys (another tag).
 *
 * Every write of a record stamps it with `rev`: the server's `TIME` in microseconds, raised above the
 * previous `rev` if the clock did not move. The index applies a chain's state only when its `rev` is
 * newer than the one it holds, so index updates that arrive late or out of order never undo a newer
 * one, and a chain deleted and created again is still ordered (the deletion has a `rev` too).
 */

const NEXT_REV = `
local function nextRev(previous)
  local t = redis.call('TIME')
  local rev = tonumber(t[1]) * 1000000 + tonumber(t[2])
  local p = tonumber(previous)
  if p and rev <= p then rev = p + 1 end
  return string.format('%.0f', rev)
end
`;

/**
 * `put`: KEYS[1] record; ARGV[1] format, ARGV[2…] field/value pairs. Replaces every field, sets
 * `version` to the old one + 1 (or 1). Returns the new hash.
 */
export const PUT = `${NEXT_REV}
local old = redis.call('HMGET', KEYS[1], 'version', 'rev')
local version = 1
if old[1] then
  local v = tonumber(old[1])
  if not v then return redis.error_reply('SLACK_ROTATOR_INVALID version') end
  version = v + 1
end
local rev = nextRev(old[2])
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'format', ARGV[1], 'version', string.format('%.0f', version), 'rev', rev,
  unpack(ARGV, 2))
return redis.call('HGETALL', KEYS[1])
`;

/**
 * `compareAndSet`: KEYS[1] record; ARGV[1] expected version, ARGV[2] the store's lock channel ('' for
 * none), ARGV[3] the chain's refresh lock name, ARGV[4…] field/value pairs. Returns the new hash, or
 * nil when the version does not match (or there is no record). A write that matched publishes the lock
 * name, a newline and the new record in the same script: the lock's waiters wake at the commit, not at
 * the holder's release, and have the new pair without reading it. The record is one JSON object made
 * of the hash's values as they are (each is JSON already: a number, or a JSON-encoded field), so a
 * waiter parses it once rather than once per field; a value that is not JSON spoils the message, and
 * its waiters read the record instead (and are told what is wrong with it).
 */
export const COMPARE_AND_SET = `${NEXT_REV}
local current = redis.call('HMGET', KEYS[1], 'version', 'rev')
if not current[1] or tonumber(current[1]) ~= tonumber(ARGV[1]) then return false end
redis.call('HSET', KEYS[1], 'version', string.format('%.0f', tonumber(ARGV[1]) + 1),
  'rev', nextRev(current[2]), unpack(ARGV, 4))
local hash = redis.call('HGETALL', KEYS[1])
if ARGV[2] ~= '' then
  local members = {}
  for i = 1, #hash, 2 do members[#members + 1] = cjson.encode(hash[i]) .. ':' .. hash[i + 1] end
  redis.call('PUBLISH', ARGV[2], ARGV[3] .. '\\n{' .. table.concat(members, ',') .. '}')
end
return hash
`;

/**
 * `recordIntent`: KEYS[1] record; ARGV[1] expected version, ARGV[2] the intent (JSON). Neither the
 * version nor `rev` changes (the index does not hold intents). Returns 1 when written, else 0.
 */
export const RECORD_INTENT = `
local current = redis.call('HGET', KEYS[1], 'version')
if not current or tonumber(current) ~= tonumber(ARGV[1]) then return 0 end
redis.call('HSET', KEYS[1], 'refreshIntent', ARGV[2])
return 1
`;

/**
 * `delete`: KEYS[1] record; ARGV[1] clientId and ARGV[2] installationId (JSON) that must match, or
 * ARGV[1] = '' for any. Returns the deletion's `rev`, or nil when nothing was deleted.
 */
export const DELETE = `${NEXT_REV}
if redis.call('EXISTS', KEYS[1]) == 0 then return false end
local fields = redis.call('HMGET', KEYS[1], 'rev', 'clientId', 'installationId')
if ARGV[1] ~= '' and (fields[2] ~= ARGV[1] or fields[3] ~= ARGV[2]) then return false end
local rev = nextRev(fields[1])
redis.call('DEL', KEYS[1])
return rev
`;

/** KEYS[1] record. Returns the hash, or — when there is none — a `rev` for "absent as of now". */
export const PEEK = `${NEXT_REV}
local hash = redis.call('HGETALL', KEYS[1])
if #hash > 0 then return hash end
return nextRev(nil)
`;

/**
 * Applies one chain's state to the index. KEYS[1] the state hash (chain key → JSON
 * `{r, s, m, i}`: rev, status, expiry member, installation; a deletion leaves `{r}`); ARGV[1] the
 * prefix of the index keys, ARGV[2] chain key, ARGV[3] rev, ARGV[4] the new state (JSON) or '' when
 * the chain is gone, ARGV[5] status, ARGV[6] expiry member, ARGV[7] installation id, ARGV[8] an
 * installation set the chain was seen in, to leave unless the chain belongs there ('' for none).
 *
 * Index keys: `k` and `k:<status>` (chain keys, by key), `e` and `e:<status>` (expiry members), and
 * `i:<installationId>` (a set of chain keys). Returns 1 when the state was applied, 0 when the index
 * already held a newer one.
 */
export const SYNC_INDEX = `
local p, k, rev = ARGV[1], ARGV[2], tonumber(ARGV[3])
local raw = redis.call('HGET', KEYS[1], k)
local old = nil
if raw then old = cjson.decode(raw) end
local applied = 0
if not old or tonumber(old.r) < rev then
  applied = 1
  if old and old.s then
    redis.call('ZREM', p .. 'k:' .. old.s, k)
    redis.call('ZREM', p .. 'e', old.m)
    redis.call('ZREM', p .. 'e:' .. old.s, old.m)
    redis.call('SREM', p .. 'i:' .. old.i, k)
  end
  if ARGV[4] == '' then
    redis.call('ZREM', p .. 'k', k)
    redis.call('HSET', KEYS[1], k, cjson.encode({ r = ARGV[3] }))
  else
    redis.call('ZADD', p .. 'k', 0, k)
    redis.call('ZADD', p .. 'k:' .. ARGV[5], 0, k)
    redis.call('ZADD', p .. 'e', 0, ARGV[6])
    redis.call('ZADD', p .. 'e:' .. ARGV[5], 0, ARGV[6])
    redis.call('SADD', p .. 'i:' .. ARGV[7], k)
    redis.call('HSET', KEYS[1], k, ARGV[4])
  end
end
if ARGV[8] ~= '' then
  local now = redis.call('HGET', KEYS[1], k)
  local current = nil
  if now then current = cjson.decode(now) end
  if not current or not current.s or current.i ~= ARGV[8] then
    redis.call('SREM', p .. 'i:' .. ARGV[8], k)
  end
end
return applied
`;

/**
 * Before a `put`: adds the chain to the key index and its installation's set, so a crash between
 * the write and the index update cannot hide the chain from `delete` by installation. Entries for a
 * chain that was never written are harmless: readers re-check every record. KEYS[1] `k`, KEYS[2]
 * `i:<installationId>`; ARGV[1] chain key.
 */
export const PRE_INDEX = `
redis.call('ZADD', KEYS[1], 0, ARGV[1])
redis.call('SADD', KEYS[2], ARGV[1])
return 1
`;

/** Removes a deletion's leftover state entry if it is unchanged. KEYS[1] state; ARGV[1] key, ARGV[2] value. */
export const PURGE_STATE = `
if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then return redis.call('HDEL', KEYS[1], ARGV[1]) end
return 0
`;
