/**
 * The server's state in Redis, next to the chains: API keys and the refresh budget, every key under
 * one prefix. Multi-key changes and the budget reservation are Lua scripts, so each is atomic; the
 * API key keys share a hash tag, so they also work on Redis Cluster.
 */
import type { Cluster, Redis } from 'ioredis';
import { ServerError } from '../errors.js';
import type { ApiKeyRecord, ServerState } from '../types.js';
import { checkApiKey, duplicateKey, guarded, reservation } from './records.js';

/** Options of {@link createRedisState}. */
export interface RedisStateOptions {
  /** The caller's ioredis client; never closed here. */
  client: Redis | Cluster;
  /** Prefix of every key. Default `slack-rotator:`. */
  prefix?: string;
}

const KIND = 'redis';

/** KEYS: records, digests. ARGV: id, digest, record JSON. */
const CREATE = `
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 or redis.call('HEXISTS', KEYS[2], ARGV[2]) == 1 then
  return 0
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
redis.call('HSET', KEYS[2], ARGV[2], ARGV[1])
return 1`;

/**
 * KEYS: records, digests, revoked. ARGV: id, revokedAt. Revocations live in their own hash so that
 * records are never re-encoded by Lua's cjson (which turns an empty list into an object).
 */
const REVOKE = `
local json = redis.call('HGET', KEYS[1], ARGV[1])
if not json or redis.call('HEXISTS', KEYS[3], ARGV[1]) == 1 then return 0 end
redis.call('HSET', KEYS[3], ARGV[1], ARGV[2])
redis.call('HDEL', KEYS[2], cjson.decode(json).digest)
return 1`;

/** KEYS: the budget. ARGV: now, increment (whole ms). Returns the new tat as a string. */
const RESERVE = `
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
local now = tonumber(ARGV[1])
if tat < now then tat = now end
tat = tat + tonumber(ARGV[2])
local text = string.format('%.0f', tat)
redis.call('SET', KEYS[1], text)
return text`;

/**
 * Creates the Redis {@link ServerState}. `migrate()` has nothing to create and only checks the
 * connection.
 */
export function createRedisState(options: RedisStateOptions): ServerState {
  const { client } = options;
  const prefix = options.prefix ?? 'slack-rotator:';
  const records = `${prefix}{server-state}:api-keys`;
  const digests = `${prefix}{server-state}:api-key-digests`;
  const revoked = `${prefix}{server-state}:api-keys-revoked`;
  const budget = (name: string) => `${prefix}budget:${name}`;
  let closed = false;
  const run = <T>(what: string, work: () => Promise<T>): Promise<T> =>
    guarded(KIND, what, () => {
      if (closed) throw new ServerError('backend_unavailable', 'state unreachable (redis): closed');
      return work();
    });
  // Records are stored as JSON without revokedAt, which lives in the `revoked` hash.
  const parse = (json: string, revokedAt: string | null | undefined): ApiKeyRecord => ({
    ...(JSON.parse(json) as Omit<ApiKeyRecord, 'revokedAt'>),
    revokedAt: revokedAt == null ? null : Number(revokedAt),
  });

  const revoke = (id: string, at: number) =>
    run(
      'revokeApiKey',
      async () => (await client.eval(REVOKE, 3, records, digests, revoked, id, String(at))) === 1,
    );

  return {
    migrate: () =>
      run('migration', async () => {
        await client.ping();
      }),

    async createApiKey(record) {
      checkApiKey(record);
      const json = JSON.stringify({
        id: record.id,
        name: record.name,
        digest: record.digest,
        installations: record.installations,
        createdAt: record.createdAt,
      });
      const created = await run('createApiKey', () =>
        client.eval(CREATE, 2, records, digests, record.id, record.digest, json),
      );
      if (created !== 1) throw duplicateKey();
      if (record.revokedAt !== null) await revoke(record.id, record.revokedAt);
    },

    listApiKeys: () =>
      run('listApiKeys', async () => {
        const [all, revocations] = await Promise.all([client.hvals(records), client.hgetall(revoked)]);
        return all
          .map((json) => {
            const record = parse(json, null);
            return revocations[record.id] === undefined ? record : parse(json, revocations[record.id]);
          })
          .sort((a, b) => a.createdAt - b.createdAt || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
      }),

    revokeApiKey: revoke,

    findApiKey: (digest) =>
      run('findApiKey', async () => {
        const id = await client.hget(digests, digest);
        if (id === null) return undefined;
        const [json, revokedAt] = await Promise.all([client.hget(records, id), client.hget(revoked, id)]);
        if (json === null) return undefined;
        const record = parse(json, revokedAt);
        // The digest index is removed with the revocation, in one script; this guards a stale read.
        return record.revokedAt === null && record.digest === digest ? record : undefined;
      }),

    async reserveSlots(name, count, intervalMs, now) {
      const { incrementMs, nowMs } = reservation(count, intervalMs, now);
      const tat = await run('reserveSlots', () =>
        client.eval(RESERVE, 1, budget(name), String(nowMs), String(incrementMs)),
      );
      return Number(tat) - incrementMs;
    },

    ping: () =>
      run('ping', async () => {
        // A disconnected ioredis client queues commands and retries; a health check must not wait.
        if (client.status !== 'ready') throw new Error(`the connection is ${client.status}`);
        await client.ping();
      }),

    async close() {
      closed = true;
    },
  };
}
