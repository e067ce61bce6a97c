import type { Cluster } from 'ioredis';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createRedisLock, createRedisStore, type RedisClient } from '../src/redis.js';
import { describeLock } from '../src/testing/lock-suite.js';
import { BASE_AT, sampleRecord } from '../src/testing/store-fixtures.js';
import { describeTokenStore } from '../src/testing/store-suite.js';
import { deletePrefix, type LocalCluster, randomPrefix, startCluster, within } from './helpers/redis.js';

let cluster: LocalCluster;

beforeAll(async () => {
  cluster = await startCluster();
});

afterAll(async () => {
  await cluster?.stop();
});

/** Two Cluster clients under a fresh prefix, removed after the test. */
function clients(): { client: Cluster; other: Cluster; prefix: string; cleanup: () => Promise<void> } {
  const prefix = randomPrefix();
  const client = cluster.connect();
  const other = cluster.connect();
  return {
    client,
    other,
    prefix,
    async cleanup() {
      await deletePrefix(client, prefix);
      await Promise.all([client.quit(), other.quit()]);
    },
  };
}

describeTokenStore(
  { describe, test },
  {
    name: 'redis cluster (3 masters, two clients)',
    create() {
      const { client, other, prefix, cleanup } = clients();
      return {
        store: createRedisStore({ client, prefix }),
        peer: createRedisStore({ client: other, prefix }),
        cleanup,
      };
    },
  },
);

describeLock(
  { describe, test },
  {
    name: 'redis cluster (3 masters, two clients)',
    create() {
      const { client, other, prefix, cleanup } = clients();
      return {
        lock: createRedisLock({ client, prefix }),
        peer: createRedisLock({ client: other, prefix }),
        cleanup,
      };
    },
  },
);

describe('createRedisStore on a Cluster', () => {
  test('a real ioredis Cluster satisfies RedisClient', async () => {
    const { client, prefix, cleanup } = clients();
    try {
      const typed: RedisClient = client;
      expect(await typed.hgetall(`${prefix}:none`)).toEqual({});
      expect(typed.nodes?.('master')).toHaveLength(3);
    } finally {
      await cleanup();
    }
  });

  test("a chain's record sits in the slot of its chain key; the index in one slot of its own", async () => {
    const { client, prefix, cleanup } = clients();
    const store = createRedisStore({ client, prefix });
    try {
      const chainKey = '1111.2222:T0000001:user:U1';
      await store.put(sampleRecord('T0000001', { chainKey, kind: 'user' }));
      const slot = (key: string) => client.cluster('KEYSLOT', key);
      expect(await slot(`${prefix}:chain:{${chainKey}}`)).toBe(await slot(chainKey));
      const indexKeys: string[] = [];
      for (const node of client.nodes('master')) {
        indexKeys.push(...(await node.keys(`${prefix}:index:*`)));
      }
      expect(indexKeys.length).toBeGreaterThanOrEqual(5);
      const slots = new Set(await Promise.all(indexKeys.map(slot)));
      expect([...slots]).toEqual([await slot(prefix)]);
    } finally {
      await store.close();
      await cleanup();
    }
  });

  test('repairIndex scans every master: an index lost entirely is rebuilt', async () => {
    const { client, prefix, cleanup } = clients();
    const store = createRedisStore({ client, prefix });
    try {
      const records = Array.from({ length: 30 }, (_, i) =>
        sampleRecord(`T${String(i).padStart(7, '0')}`, { expiresAt: BASE_AT + i * 1000 }),
      );
      for (const record of records) await store.put(record);
      const holders = await Promise.all(
        client.nodes('master').map(async (node) => (await node.keys(`${prefix}:chain:*`)).length),
      );
      expect(holders.filter((count) => count > 0).length, 'the records are spread over the masters').toBe(3);
      for (const node of client.nodes('master')) {
        const keys = await node.keys(`${prefix}:index:*`);
        await Promise.all(keys.map((key) => node.del(key)));
      }
      expect((await store.list({ expiresBefore: BASE_AT + 1e6 })).records).toEqual([]);
      // Repaired through a client that has not connected yet, so it must learn the masters first.
      const late = cluster.connect();
      const repairer = createRedisStore({ client: late, prefix });
      expect(await repairer.repairIndex()).toEqual({ chains: 30, repaired: 30, invalid: [] });
      await repairer.close();
      await late.quit();
      const listed = await store.list({ expiresBefore: BASE_AT + 1e6, status: 'active', limit: 1000 });
      expect(listed.records.map((r) => r.chainKey)).toEqual(records.map((r) => r.chainKey));
    } finally {
      await store.close();
      await cleanup();
    }
  });
});

describe('createRedisLock on a Cluster', () => {
  test('a waiter on another client is woken by the release message (PUBLISH reaches every node)', async () => {
    const { client, other, prefix, cleanup } = clients();
    const never = 600_000;
    const holder = createRedisLock({ client, prefix, recheckMs: never });
    const waiter = createRedisLock({ client: other, prefix, recheckMs: never });
    try {
      // Names in many slots, so the lock keys sit on every master while the subscriber uses one node.
      const names = Array.from({ length: 6 }, (_, i) => `refresh:1111.2222:T000000${i}:bot`);
      const held = await Promise.all(names.map((name) => holder.acquire(name, { ttlMs: never, waitMs: 0 })));
      const waiting = names.map((name) => waiter.acquire(name, { ttlMs: never, waitMs: never }));
      await new Promise((resolve) => setTimeout(resolve, 100));
      await Promise.all(held.map((lease) => holder.release(lease)));
      const leases = await within(Promise.all(waiting), 10_000, 'the waiters woken by the releases');
      expect(leases.map((lease) => lease.name)).toEqual(names);
    } finally {
      await Promise.all([holder.close(), waiter.close()]);
      await cleanup();
    }
  });
});
