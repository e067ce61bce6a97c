import { invalidArgument, StorageError } from '../errors.js';
import { refreshLockName } from '../lock/names.js';
import { createPairedRedisLock, redisLockChannel } from '../lock/redis.js';
import type { Lock } from '../lock/types.js';
import { checkClock, createGuardedReads } from '../lock/wait.js';
import { planList } from './list.js';
import {
  checkChainKey,
  checkDeleteQuery,
  checkIntent,
  checkNewRecord,
  checkUpdate,
  checkVersion,
  copyIntent,
  invalidStoredRecord,
} from './record.js';
import {
  attempt,
  checkClient,
  checkPrefix,
  coalesceWrites,
  type RedisClient,
  script,
} from './redis-client.js';
import {
  decodePushedRecord,
  decodeRecord,
  encodeFields,
  encodeRecord,
  encodeValue,
  RECORD_FORMAT,
  type StoredRecord,
} from './redis-codec.js';
import { createRedisIndex, type RepairReport } from './redis-index.js';
import { COMPARE_AND_SET, DELETE, PUT, RECORD_INTENT } from './redis-scripts.js';
import type {
  DeleteQuery,
  ListPage,
  ListQuery,
  NewTokenRecord,
  RefreshIntent,
  TokenRecord,
  TokenStore,
  TokenUpdate,
} from './types.js';

const put = script(PUT);
const compareAndSet = script(COMPARE_AND_SET);
const recordIntent = script(RECORD_INTENT);
const remove = script(DELETE);

/** Options of {@link createRedisStore}. */
export interface RedisStoreOptions {
  /** Your ioredis client: a `Redis` or a `Cluster` (never closed by the store). */
  client: RedisClient;
  /** The first part of every key and channel name (no whitespace or braces). Default `slack-rotator`. */
  prefix?: string;
  /** The clock of the store's lock, for its leases' `expiresAt` estimate only (epoch ms). Default `Date.now`. */
  now?: () => number;
  /** The longest a lock waiter sleeps without looking again, in case a release message is lost (ms). Default 1000. */
  lockRecheckMs?: number;
  /**
   * Called when the index update that follows a successful write fails. The write stands (it cannot
   * be undone, and the caller must see it succeed); the index is stale for that chain until a
   * `list` meets it or {@link RedisStore.repairIndex} runs. Default: `process.emitWarning`.
   */
  onIndexError?: (error: StorageError) => void;
}

/** A {@link TokenStore} on Redis, with its lock and the repair of its index. */
export interface RedisStore extends TokenStore {
  readonly lock: Lock;
  /**
   * Rebuilds the index (`list`'s expiry, status and installation entries) from the records: `SCAN`s
   * every record of the prefix (on every master of a Cluster) and applies each, then drops entries of
   * chains that are gone. Safe while other processes write. Run it after processes died mid-write
   * (e.g. at start-up) or periodically; `list` also repairs the stale entries it meets.
   * @throws StorageError (`store_failed`) when Redis fails.
   */
  repairIndex(): Promise<RepairReport>;
}

function isInvalidReply(error: unknown): boolean {
  return (
    (error as { cause?: { message?: unknown } }).cause?.message
      ?.toString()
      .includes('SLACK_ROTATOR_INVALID') === true
  );
}

/**
 * A token store on Redis (standalone or Cluster) through your ioredis client. Each chain is a hash at
 * `<prefix>:chain:{<chainKey>}` — its hash tag is exactly the chain key, so every key of a chain
 * lives in one Cluster slot — and every write is one Lua script: `compareAndSet` compares and
 * increments `version` in the script; `recordIntent` compares without incrementing.
 *
 * The index behind `list` (expiry, status and installation entries, under the hash tag
 * `{<prefix>}`) lives in another slot, so it is updated after each write and may lag if a process
 * dies in between: `list` re-checks every record against the query, repairs the stale entries it
 * meets, and {@link RedisStore.repairIndex} rebuilds it. Ordering compares chain keys byte by byte
 * (the same as `<` for ASCII keys, which chain keys are).
 *
 * Durability is the server's: run Redis with AOF and `appendfsync always`. A failover to a replica
 * that lags can bring back a refresh token Slack has already spent (replication is asynchronous).
 * `store.lock` is a {@link createRedisLock} on the same client and prefix; a compare-and-set that
 * matches also publishes the chain's refresh lock name on that lock's channel, in the same script, so
 * the lock's waiters wake at the commit rather than at the holder's release.
 *
 * @example
 * import { Redis } from 'ioredis';
 * import { createRedisStore } from 'slack-rotator/redis';
 * const store = createRedisStore({ client: new Redis(process.env.REDIS_URL) });
 * @throws TypeError (`ERR_INVALID_ARG_TYPE` / `ERR_INVALID_ARG_VALUE`) for invalid options.
 */
export function createRedisStore(options: RedisStoreOptions): RedisStore {
  if (options === null || typeof options !== 'object') {
    throw invalidArgument('options must be an object with a client', 'ERR_INVALID_ARG_TYPE');
  }
  const client = checkClient(options.client);
  const prefix = checkPrefix(options.prefix);
  const now = checkClock(options.now);
  const { onIndexError = (error: StorageError) => process.emitWarning(error) } = options;
  if (typeof onIndexError !== 'function') {
    throw invalidArgument('onIndexError must be a function', 'ERR_INVALID_ARG_TYPE');
  }
  // When this process last asked for each chain's record, until the lock's next try of the chain:
  // a commit heard since makes the try pointless.
  const guarded = createGuardedReads();
  const { lock, takePushed } = createPairedRedisLock(
    {
      client,
      prefix,
      now,
      ...(options.lockRecheckMs === undefined ? {} : { recheckMs: options.lockRecheckMs }),
    },
    guarded,
  );
  const index = createRedisIndex(client, prefix);
  // Each compare-and-set publishes on the store's lock channel: its waiters wake at the commit.
  const channel = redisLockChannel(prefix);

  /** A record a commit's message carried, decoded and checked; `undefined` if unusable (then it is read). */
  function pushedRecord(chainKey: string, message: string): TokenRecord | undefined {
    try {
      return decodePushedRecord(chainKey, message)?.record;
    } catch {
      return undefined;
    }
  }

  async function read(chainKey: string): Promise<StoredRecord | undefined> {
    coalesceWrites(client);
    const hash = await attempt('get', () => client.hgetall(index.recordKey(chainKey)), chainKey);
    return decodeRecord(chainKey, hash);
  }

  async function write(what: string, chainKey: string, fn: () => Promise<unknown>): Promise<unknown> {
    try {
      return await attempt(what, fn, chainKey);
    } catch (error) {
      if (!isInvalidReply(error)) throw error;
      throw invalidStoredRecord('version', chainKey);
    }
  }

  /** The index update after a write: its failure is reported, never the write's. */
  async function reindex(state: Parameters<typeof index.apply>[0]): Promise<void> {
    try {
      await index.apply(state);
    } catch (error) {
      onIndexError(error as StorageError);
    }
  }

  return {
    lock,

    async get(chainKey: string): Promise<TokenRecord | undefined> {
      checkChainKey(chainKey);
      // A waiter its lock just woke with a commit's message has the new record already: the
      // compare-and-set published it (see COMPARE_AND_SET). Anything else is read.
      const name = refreshLockName(chainKey);
      guarded.note(name);
      const pushed = takePushed(name);
      if (pushed !== undefined) {
        const record = pushedRecord(chainKey, pushed);
        if (record !== undefined) return record;
      }
      return (await read(chainKey))?.record;
    },

    async put(record: NewTokenRecord): Promise<TokenRecord> {
      checkNewRecord(record);
      const { chainKey } = record;
      const fields = encodeRecord(record);
      await index.prepare(chainKey, record.installationId);
      const reply = await write('put', chainKey, () =>
        put.run(client, [index.recordKey(chainKey)], [RECORD_FORMAT, ...fields]),
      );
      const stored = decodeRecord(chainKey, reply as unknown[]) as StoredRecord;
      await reindex(stored);
      return stored.record;
    },

    async compareAndSet(
      chainKey: string,
      expectedVersion: number,
      update: TokenUpdate,
    ): Promise<TokenRecord | undefined> {
      checkChainKey(chainKey);
      checkVersion(expectedVersion);
      const fields = checkUpdate(update);
      const values: Record<string, unknown> = {};
      for (const field of fields) {
        values[field] =
          field === 'refreshIntent' ? copyIntent(update[field] as RefreshIntent | null) : update[field];
      }
      const reply = await write('compareAndSet', chainKey, () =>
        compareAndSet.run(
          client,
          [index.recordKey(chainKey)],
          [expectedVersion, channel, refreshLockName(chainKey), ...encodeFields(values)],
        ),
      );
      if (reply === null) return undefined;
      const stored = decodeRecord(chainKey, reply as unknown[]) as StoredRecord;
      // Only the expiry and the status are indexed (the installation never changes in an update).
      if (fields.includes('expiresAt') || fields.includes('status')) await reindex(stored);
      return stored.record;
    },

    async recordIntent(
      chainKey: string,
      expectedVersion: number,
      intent: RefreshIntent | null,
    ): Promise<boolean> {
      checkChainKey(chainKey);
      checkVersion(expectedVersion);
      checkIntent(intent);
      const written = await write('recordIntent', chainKey, () =>
        recordIntent.run(
          client,
          [index.recordKey(chainKey)],
          [expectedVersion, encodeValue(copyIntent(intent))],
        ),
      );
      return written === 1;
    },

    async list(query?: ListQuery): Promise<ListPage> {
      return index.list(planList(query), read);
    },

    async delete(query: DeleteQuery): Promise<number> {
      const target = checkDeleteQuery(query);
      const deleteOne = async (chainKey: string, owner: readonly string[]): Promise<number> => {
        const rev = await write('delete', chainKey, () =>
          remove.run(client, [index.recordKey(chainKey)], owner),
        );
        if (rev === null) return 0;
        await reindex({ chainKey, absentRev: Number(rev) });
        return 1;
      };
      if ('chainKey' in target) return deleteOne(target.chainKey, ['', '']);
      const { clientId, installationId } = target;
      const members = await attempt('delete', () => client.smembers(index.installationKey(installationId)));
      // The script deletes a chain only if it still belongs to this installation and app.
      const owner = [encodeValue(clientId), encodeValue(installationId)];
      const counts = await Promise.all(members.map((chainKey) => deleteOne(chainKey, owner)));
      return counts.reduce((sum, count) => sum + count, 0);
    },

    repairIndex: () => index.repair(),

    async close(): Promise<void> {
      await lock.close?.();
    },
  };
}
