import { randomUUID } from 'node:crypto';
import { invalidArgument } from '../errors.js';
import {
  attempt,
  checkClient,
  checkPrefix,
  type RedisClient,
  type RedisSubscriber,
  redisFailed,
  script,
} from '../store/redis-client.js';
import type { AcquireOptions, Lease, Lock } from './types.js';
import {
  checkAcquire,
  checkClock,
  checkLease,
  checkName,
  checkTtl,
  createScopes,
  type GuardedReads,
  lockTimeout,
  type Scope,
} from './wait.js';

/** Options of {@link createRedisLock}. */
export interface RedisLockOptions {
  /** Your ioredis client: a `Redis` or a `Cluster` (never closed by the lock). */
  client: RedisClient;
  /** The first part of the lock keys and of the release channel (no whitespace or braces). Default `slack-rotator`. */
  prefix?: string;
  /** The clock of a lease's `expiresAt` estimate (epoch ms). Expiry itself is judged by Redis. Default `Date.now`. */
  now?: () => number;
  /**
   * The longest a waiter sleeps without trying again, in case a release message is lost (ms).
   * Waiters are woken by the release message and by the holder's remaining TTL; this is only the
   * safety net. Default 1000.
   */
  recheckMs?: number;
  /** Called with errors of the pub/sub connection (ioredis reconnects on its own). Default: ignored. */
  onSubscriberError?: (error: Error) => void;
}

/** `SET NX PX`, or the holder's remaining TTL. KEYS[1] lock; ARGV[1] owner, ARGV[2] ttl. -3 = taken. */
const ACQUIRE = script(`
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return -3 end
return redis.call('PTTL', KEYS[1])
`);

/** Compare-and-pexpire. KEYS[1] lock; ARGV[1] owner, ARGV[2] ttl. */
const RENEW = script(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
`);

/** Compare-and-delete, then wake the waiters. KEYS[1] lock; ARGV[1] owner, ARGV[2] channel, ARGV[3] name. */
const RELEASE = script(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1])
  redis.call('PUBLISH', ARGV[2], ARGV[3])
  return 1
end
return 0
`);

/** The holder's remaining TTL (ms); -2 when free. KEYS[1] lock. */
const HOLDER = script(`return redis.call('PTTL', KEYS[1])`);

const TAKEN = -3;

/**
 * The channel a Redis lock with this prefix hears on: its releases, and the compare-and-sets of the
 * Redis store it belongs to (which publish the chain's refresh lock name).
 */
export function redisLockChannel(prefix: string): string {
  return `${prefix}:lock:released`;
}
/** How long past the holder's remaining TTL a waiter tries again, so Redis finds the lease run out. */
const EXPIRY_SLACK_MS = 2;

/** A failed attempt on a lock: when it was sent (performance.now()) and the holder's PTTL answer. */
interface Attempt {
  sentAt: number;
  holderMs: number | undefined;
}

/** One waiting `acquire`: woken by a release message of its lock name. */
interface Waiter {
  woken: boolean;
  wake: (() => void) | undefined;
}

/**
 * A lock on Redis (standalone or Cluster): `SET <prefix>:lock:{<name>} <owner> NX PX <ttl>`; renew is
 * compare-and-`PEXPIRE` and release compare-and-`DEL` in Lua, so only the owner's lease is touched,
 * and lease expiry is judged by Redis, never by a worker's clock. A holder that dies blocks others
 * for at most its TTL.
 *
 * Waiters do not poll: release publishes the lock name on `<prefix>:lock:released` in the same
 * script, and one subscriber connection per lock (`client.duplicate()`, opened on the first wait)
 * wakes the waiters of that name. A waiter also sleeps only until the holder's remaining TTL (read
 * with `PTTL` by the failed attempt) runs out, and at most `recheckMs` in case a message is lost. On
 * a Cluster, `PUBLISH` reaches every node.
 *
 * @example
 * const lock = createRedisLock({ client: new Redis() });
 * const lease = await lock.acquire('A1:T1:bot', { ttlMs: 30_000, waitMs: 10_000 });
 * try { … } finally { await lock.release(lease); }
 * @throws TypeError (`ERR_INVALID_ARG_TYPE` / `ERR_INVALID_ARG_VALUE`) for invalid options.
 */
export function createRedisLock(options: RedisLockOptions): Lock & { close(): Promise<void> } {
  return createPairedRedisLock(options).lock;
}

/** How long a pushed record is taken as the newest, after its message (ms). */
const PUSHED_MS = 1_000;

/**
 * The lock and what its messages carried, for the Redis store it belongs to: the store's
 * compare-and-set publishes the new record with the lock name, and a waiter woken by that message
 * takes it (`takePushed`) instead of reading the record again.
 * @internal
 */
export function createPairedRedisLock(
  options: RedisLockOptions,
  /** The store's reads, for a try that follows one (see `acquire`). */
  reads?: GuardedReads,
): {
  lock: Lock & { close(): Promise<void> };
  /**
   * The record (the hash as a JSON array of fields and values) the last commit of `name` published,
   * if this process heard it within the last second and nobody took it yet; `undefined` otherwise.
   */
  takePushed(name: string): string | undefined;
} {
  if (options === null || typeof options !== 'object') {
    throw invalidArgument('options must be an object with a client', 'ERR_INVALID_ARG_TYPE');
  }
  const client = checkClient(options.client);
  const prefix = checkPrefix(options.prefix);
  const now = checkClock(options.now);
  const recheckMs = options.recheckMs ?? 1000;
  if (typeof recheckMs !== 'number' || !Number.isFinite(recheckMs) || recheckMs <= 0) {
    throw invalidArgument('recheckMs must be a finite number > 0');
  }
  const { onSubscriberError = () => {} } = options;
  if (typeof onSubscriberError !== 'function') {
    throw invalidArgument('onSubscriberError must be a function', 'ERR_INVALID_ARG_TYPE');
  }
  const channel = redisLockChannel(prefix);
  const keyOf = (name: string) => `${prefix}:lock:{${name}}`;
  const waiters = new Map<string, Set<Waiter>>();
  // The last message about each name, and when this process last found each lock held (both
  // performance.now()): a message after a failed attempt means the holder committed or released
  // before the caller started waiting, so its wait returns at once.
  const heard = new Map<string, number>();
  // The record the store's last commit of each name pushed with its message (see takePushed).
  const pushed = new Map<string, { at: number; record: string }>();
  // Each failed attempt: when it was sent, and the holder's remaining TTL it was answered with.
  const tried = new Map<string, Attempt>();
  const remember = <T>(map: Map<string, T>, name: string, value: T) => {
    // Forgetting only costs a late waiter its early wake-up: the release or the recheck still come.
    if (map.size >= 10_000) map.clear();
    map.delete(name);
    map.set(name, value);
  };
  const { scoped, closeScopes } = createScopes();
  let subscriber: RedisSubscriber | undefined;
  let subscribed: Promise<void> | undefined;
  /** When the subscription was confirmed (performance.now()); every message published since is heard. */
  let subscribedAt: number | undefined;

  function subscribe(): Promise<void> {
    subscribed ??= (async () => {
      const connection = client.duplicate();
      subscriber = connection;
      connection.on('error', onSubscriberError);
      connection.on('message', (from, message) => {
        if (from !== channel) return;
        // A release sends the lock name; a store's commit the name, a newline and the new record.
        const cut = message.indexOf('\n');
        const name = cut < 0 ? message : message.slice(0, cut);
        const at = performance.now();
        remember(heard, name, at);
        // Kept only for a caller of this process that waits on the name, whose attempt found it
        // held, or who read the record and may be about to try: every process hears every commit,
        // and the record holds tokens.
        if (cut >= 0 && (waiters.has(name) || tried.has(name) || reads?.has(name) === true)) {
          remember(pushed, name, { at, record: message.slice(cut + 1) });
        }
        for (const waiter of waiters.get(name) ?? []) {
          waiter.woken = true;
          waiter.wake?.();
        }
      });
      // A dropped connection loses messages until ioredis has subscribed again: until then every
      // waiter looks at the lock first. Its own SUBSCRIBE, answered after ioredis's, ends that.
      connection.on('close', () => {
        subscribedAt = undefined;
        // Messages may go unheard now: a record pushed before might not be the newest any more.
        pushed.clear();
      });
      connection.on('ready', () => {
        if (subscriber !== connection) return;
        connection.subscribe(channel).then(() => {
          if (subscriber === connection) subscribedAt = performance.now();
        }, onSubscriberError);
      });
      await connection.subscribe(channel);
      subscribedAt = performance.now();
    })().catch((error: unknown) => {
      subscriber?.disconnect();
      subscriber = undefined;
      subscribed = undefined;
      subscribedAt = undefined;
      throw redisFailed('lock subscribe', error);
    });
    return subscribed;
  }

  function register(name: string): Waiter {
    const waiter: Waiter = { woken: false, wake: undefined };
    let set = waiters.get(name);
    if (set === undefined) {
      set = new Set();
      waiters.set(name, set);
    }
    set.add(waiter);
    return waiter;
  }

  function unregister(name: string, waiter: Waiter): void {
    const set = waiters.get(name);
    set?.delete(waiter);
    if (set?.size === 0) waiters.delete(name);
  }

  /** Sleeps until a release message, `ms`, or an abort; a message that came meanwhile ends it at once. */
  function sleep(waiter: Waiter, ms: number, scope: Scope): Promise<boolean> {
    return new Promise((resolve, reject) => {
      if (scope.aborted) return reject(scope.reason);
      if (waiter.woken) {
        waiter.woken = false;
        return resolve(true);
      }
      const done = () => {
        clearTimeout(timer);
        stop();
        waiter.wake = undefined;
        const woken = waiter.woken;
        waiter.woken = false;
        resolve(woken);
      };
      const timer = setTimeout(done, ms);
      const stop = scope.onAbort((reason) => {
        clearTimeout(timer);
        waiter.wake = undefined;
        reject(reason);
      });
      waiter.wake = done;
    });
  }

  function takePushed(name: string): string | undefined {
    const found = pushed.get(name);
    if (found === undefined) return undefined;
    pushed.delete(name);
    return performance.now() - found.at <= PUSHED_MS ? found.record : undefined;
  }

  const lock = {
    async acquire(name: string, acquireOptions: AcquireOptions): Promise<Lease> {
      checkAcquire(name, acquireOptions);
      const { waitMs, signal: userSignal } = acquireOptions;
      const ttlMs = Math.max(1, Math.ceil(acquireOptions.ttlMs));
      return scoped(userSignal, async (scope) => {
        const owner = randomUUID();
        const deadline = performance.now() + waitMs;
        // A try that follows the caller's read of the record, after this process heard a commit or
        // release of the name: what the caller read is out of date. It answers "held" without
        // asking, and the wait that follows returns at once to the caller's re-read (the record the
        // commit pushed). A process behind the others would otherwise take the lock the holder's
        // commit freed, and hold it, its peers waiting, only to find the new pair.
        const readAt = waitMs === 0 ? reads?.take(name) : undefined;
        if (readAt !== undefined && (heard.get(name) ?? Number.NEGATIVE_INFINITY) >= readAt) {
          remember(tried, name, { sentAt: readAt, holderMs: undefined });
          throw lockTimeout(name, waitMs);
        }
        let waiter: Waiter | undefined;
        try {
          for (;;) {
            if (scope.aborted) throw scope.reason;
            const startedAt = now();
            const sentAt = performance.now();
            const reply = await attempt(
              'lock acquire',
              () => ACQUIRE.run(client, [keyOf(name)], [owner, ttlMs]),
              name,
            );
            if (reply === TAKEN) {
              tried.delete(name);
              return Object.freeze({ name, owner, expiresAt: startedAt + ttlMs });
            }
            remember(tried, name, { sentAt, holderMs: typeof reply === 'number' ? reply : undefined });
            const remaining = deadline - performance.now();
            if (remaining <= 0) throw lockTimeout(name, waitMs);
            if (waiter === undefined) {
              // Subscribed and registered before the next attempt, so no release can slip between.
              await subscribe().catch((error: unknown) => {
                throw scope.aborted ? scope.reason : error;
              });
              waiter = register(name);
              continue;
            }
            const holderMs = typeof reply === 'number' && reply >= 0 ? reply + EXPIRY_SLACK_MS : recheckMs;
            await sleep(waiter, Math.min(remaining, holderMs, recheckMs), scope);
          }
        } finally {
          if (waiter !== undefined) unregister(name, waiter);
        }
      });
    },

    async wait(name: string, waitOptions: { waitMs: number; signal?: AbortSignal }): Promise<void> {
      checkName(name);
      const { waitMs, signal: userSignal } = waitOptions;
      return scoped(userSignal, async (scope) => {
        const deadline = performance.now() + waitMs;
        // Subscribed and registered before the first look, so no release can slip between.
        await subscribe().catch((error: unknown) => {
          throw scope.aborted ? scope.reason : error;
        });
        const waiter = register(name);
        const failed = tried.get(name);
        tried.delete(name);
        try {
          // The holder committed or released after this process found the lock held, before this
          // wait was registered: the caller re-reads now rather than at the next message.
          if (failed !== undefined && (heard.get(name) ?? Number.NEGATIVE_INFINITY) >= failed.sentAt) return;
          // Subscribed before that attempt was sent: a commit or release after it is a message this
          // process hears (or has heard, above), so the attempt's answer stands in for a first look.
          // Sparing that round trip matters in a storm, where it queues behind the process's own work.
          let known =
            failed !== undefined && subscribedAt !== undefined && subscribedAt <= failed.sentAt
              ? failed.holderMs
              : undefined;
          for (;;) {
            if (scope.aborted) throw scope.reason;
            const reply =
              known ?? (await attempt('lock wait', () => HOLDER.run(client, [keyOf(name)], []), name));
            known = undefined;
            if (typeof reply !== 'number' || reply === -2 || reply === 0) return;
            const remaining = deadline - performance.now();
            if (remaining <= 0) throw lockTimeout(name, waitMs);
            const holderMs = reply >= 0 ? reply + EXPIRY_SLACK_MS : recheckMs;
            // A release was heard: the caller looks at what the holder left; no need to look here.
            if (await sleep(waiter, Math.min(remaining, holderMs, recheckMs), scope)) return;
          }
        } finally {
          unregister(name, waiter);
        }
      });
    },

    async renew(lease: Lease, ttlMs: number): Promise<boolean> {
      checkLease(lease);
      checkTtl(ttlMs);
      const ttl = Math.max(1, Math.ceil(ttlMs));
      const renewed = await attempt(
        'lock renew',
        () => RENEW.run(client, [keyOf(lease.name)], [lease.owner, ttl]),
        lease.name,
      );
      return renewed === 1;
    },

    async release(lease: Lease): Promise<void> {
      checkLease(lease);
      await attempt(
        'lock release',
        () => RELEASE.run(client, [keyOf(lease.name)], [lease.owner, channel, lease.name]),
        lease.name,
      );
    },

    async close(): Promise<void> {
      closeScopes();
      subscriber?.disconnect();
      subscriber = undefined;
      subscribed = undefined;
      subscribedAt = undefined;
      pushed.clear();
    },
  };
  return { lock, takePushed };
}
