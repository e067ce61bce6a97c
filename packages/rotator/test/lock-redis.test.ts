import { Redis } from 'ioredis';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { createRedisLock, type RedisClient } from '../src/redis.js';
import { describeLock } from '../src/testing/lock-suite.js';
import { deletePrefix, openClient, randomPrefix, twoClients, within } from './helpers/redis.js';

describeLock(
  { describe, test },
  {
    name: 'redis (two clients)',
    create() {
      const { prefix, client, other, cleanup } = twoClients(openClient);
      return {
        lock: createRedisLock({ client, prefix }),
        peer: createRedisLock({ client: other, prefix }),
        cleanup,
      };
    },
  },
);

/** A client that counts its acquisition attempts (`SET … NX PX` scripts). */
function counting(client: Redis): { client: RedisClient; attempts: () => number } {
  let attempts = 0;
  const proxy = new Proxy(client, {
    get(target, property) {
      const value = Reflect.get(target, property) as unknown;
      if (typeof value !== 'function') return value;
      if (property !== 'evalsha') return value.bind(target);
      return (...args: unknown[]) => {
        if (String(args[2]).includes(':lock:{') && args.length === 5 && typeof args[4] === 'number') {
          attempts += 1;
        }
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
  return { client: proxy as unknown as RedisClient, attempts: () => attempts };
}

const NAME = 'refresh:1111.2222:T0000001:bot';
/** Longer than any test: a waiter can only be woken by the release message or the holder's TTL. */
const NEVER_MS = 600_000;

describe('createRedisLock', () => {
  let client: Redis;
  let other: Redis;
  let prefix: string;
  beforeEach(() => {
    client = openClient();
    other = openClient();
    prefix = randomPrefix();
  });
  afterEach(async () => {
    await deletePrefix(client, prefix);
    await Promise.all([client.quit(), other.quit().catch(() => {})]);
  });

  test('a waiter is woken by the release message, without polling', async () => {
    const holder = createRedisLock({ client, prefix, recheckMs: NEVER_MS });
    const counted = counting(other);
    const waiter = createRedisLock({ client: counted.client, prefix, recheckMs: NEVER_MS });
    try {
      const held = await holder.acquire(NAME, { ttlMs: NEVER_MS, waitMs: 0 });
      const waiting = waiter.acquire(NAME, { ttlMs: NEVER_MS, waitMs: NEVER_MS });
      // Wait until the waiter sleeps: its first try, and one more once subscribed.
      await expect.poll(counted.attempts).toBe(2);
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(counted.attempts(), 'a sleeping waiter sends nothing').toBe(2);
      await holder.release(held);
      const lease = await within(waiting, 10_000, 'the waiter woken by the release');
      expect(lease.owner).not.toBe(held.owner);
      expect(counted.attempts(), 'one try after the message').toBe(3);
      expect(await client.get(`${prefix}:lock:{${NAME}}`)).toBe(lease.owner);
    } finally {
      await Promise.all([holder.close(), waiter.close()]);
    }
  });

  test('a lease abandoned by a client that disconnects is taken over after its TTL (read with PTTL)', async () => {
    const holder = createRedisLock({ client: other, prefix });
    const counted = counting(client);
    const waiter = createRedisLock({ client: counted.client, prefix, recheckMs: NEVER_MS });
    try {
      const abandoned = await holder.acquire(NAME, { ttlMs: 300, waitMs: 0 });
      other.disconnect();
      const lease = await within(
        waiter.acquire(NAME, { ttlMs: NEVER_MS, waitMs: NEVER_MS }),
        10_000,
        'the waiter woken when the abandoned lease ran out',
      );
      expect(lease.owner).not.toBe(abandoned.owner);
      // First try, the try once subscribed, and the try when the holder's TTL ran out (maybe one
      // more if the timer fired a hair early) — never a poll.
      expect(counted.attempts()).toBeGreaterThanOrEqual(3);
      expect(counted.attempts()).toBeLessThanOrEqual(4);
    } finally {
      await Promise.all([holder.close(), waiter.close()]);
    }
  });

  test("a lost lease's renew returns false and its release leaves the new holder's lease", async () => {
    const first = createRedisLock({ client, prefix });
    const second = createRedisLock({ client: other, prefix });
    try {
      const old = await first.acquire(NAME, { ttlMs: 50, waitMs: 0 });
      const current = await second.acquire(NAME, { ttlMs: NEVER_MS, waitMs: 10_000 });
      expect(await first.renew(old, NEVER_MS)).toBe(false);
      await first.release(old);
      const key = `${prefix}:lock:{${NAME}}`;
      expect(await client.get(key)).toBe(current.owner);
      expect(await client.pttl(key)).toBeGreaterThan(NEVER_MS - 60_000);
      expect(await second.renew(current, 5_000)).toBe(true);
      expect(await client.pttl(key)).toBeLessThanOrEqual(5_000);
    } finally {
      await Promise.all([first.close(), second.close()]);
    }
  });

  test("expiry is judged by Redis, not by the worker's clock", async () => {
    const skewed = createRedisLock({ client, prefix, now: () => Date.now() + 86_400_000 });
    const peer = createRedisLock({ client: other, prefix, now: () => 0 });
    try {
      const lease = await skewed.acquire(NAME, { ttlMs: NEVER_MS, waitMs: 0 });
      await expect(peer.acquire(NAME, { ttlMs: 1_000, waitMs: 0 })).rejects.toMatchObject({
        code: 'lock_timeout',
      });
      expect(await skewed.renew(lease, NEVER_MS)).toBe(true);
    } finally {
      await Promise.all([skewed.close(), peer.close()]);
    }
  });

  test('close rejects a waiter with code closed and disconnects its subscriber', async () => {
    const lock = createRedisLock({ client, prefix });
    await lock.acquire(NAME, { ttlMs: NEVER_MS, waitMs: 0 });
    const waiting = lock.acquire(NAME, { ttlMs: NEVER_MS, waitMs: 10_000 });
    await expect.poll(async () => (await client.pubsub('NUMSUB', `${prefix}:lock:released`))[1]).toBe(1);
    await lock.close?.();
    await expect(waiting).rejects.toMatchObject({ code: 'closed' });
    await expect.poll(async () => (await client.pubsub('NUMSUB', `${prefix}:lock:released`))[1]).toBe(0);
  });

  test('validates its options', () => {
    expect(() => createRedisLock({} as never)).toThrow(/^\[slack-rotator\] client must be an ioredis client/);
    expect(() => createRedisLock({ client, recheckMs: -1 })).toThrow(/recheckMs/);
    expect(() => createRedisLock({ client, prefix: 'a b' })).toThrow(/prefix/);
    expect(() => createRedisLock({ client, onSubscriberError: 1 as never })).toThrow(/onSubscriberError/);
    expect(() => createRedisLock({ client: new Redis({ lazyConnect: true, keyPrefix: 'x:' }) })).toThrow(
      /keyPrefix/,
    );
  });
});
