import { Redis } from 'ioredis';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import type { StorageError } from '../src/errors.js';
import { createRedisStore, type RedisClient, type RedisStore } from '../src/redis.js';
import { expiryMember } from '../src/store/redis-codec.js';
import { BASE_AT, sampleRecord } from '../src/testing/store-fixtures.js';
import { describeTokenStore } from '../src/testing/store-suite.js';
import { deletePrefix, openClient, randomPrefix, startServer, twoClients } from './helpers/redis.js';
import { TOKEN_PATTERN } from './helpers/setup.js';

describeTokenStore(
  { describe, test },
  {
    name: 'redis (two clients)',
    create() {
      const { prefix, client, other, cleanup } = twoClients(openClient);
      return {
        store: createRedisStore({ client, prefix }),
        peer: createRedisStore({ client: other, prefix }),
        cleanup,
      };
    },
  },
);

/** A client whose index updates fail while `failing` is set: the write before them succeeds. */
function flakyIndex(client: Redis, prefix: string): { client: RedisClient; failing: boolean } {
  const state = `${prefix}:index:{${prefix}}:state`;
  const control = { client: client as RedisClient, failing: false };
  control.client = new Proxy(client, {
    get(target, property) {
      const value = Reflect.get(target, property) as unknown;
      if (typeof value !== 'function') return value;
      if (property !== 'evalsha' && property !== 'eval') return value.bind(target);
      return (...args: unknown[]) =>
        control.failing && args[2] === state
          ? Promise.reject(new Error('index update lost'))
          : (value as (...a: unknown[]) => unknown).apply(target, args);
    },
  }) as unknown as RedisClient;
  return control;
}

const describeError = (error: unknown): string => {
  const cause = (error as { cause?: unknown }).cause;
  return `${String(error)} ${JSON.stringify({ ...(error as object) })} ${String(cause)} ${JSON.stringify({ ...(cause as object) })}`;
};

describe('createRedisStore', () => {
  let client: Redis;
  let prefix: string;
  let store: RedisStore;
  beforeEach(() => {
    client = openClient();
    prefix = randomPrefix();
    store = createRedisStore({ client, prefix });
  });
  afterEach(async () => {
    await store.close();
    await deletePrefix(client, prefix);
    await client.quit();
  });

  test('a real ioredis client satisfies RedisClient', () => {
    const typed: RedisClient = new Redis({ lazyConnect: true });
    expect(typeof typed.evalsha).toBe('function');
  });

  test('a chain is one hash whose hash tag is exactly its chain key; version and fields are readable', async () => {
    const record = sampleRecord('T0000001', { chainKey: '1111.2222:T0000001:user:U1', kind: 'user' });
    await store.put(record);
    const key = `${prefix}:chain:{1111.2222:T0000001:user:U1}`;
    expect(await client.type(key)).toBe('hash');
    const hash = await client.hgetall(key);
    expect(hash.version).toBe('1');
    expect(JSON.parse(hash.expiresAt as string)).toBe(record.expiresAt);
    expect(JSON.parse(hash.refreshIntent as string)).toBeNull();
  });

  test('the Lua compare-and-set is atomic: 50 writers on two clients, each increment lands exactly once', async () => {
    const other = openClient();
    const peer = createRedisStore({ client: other, prefix });
    try {
      const record = sampleRecord();
      await store.put(record);
      const won: number[] = [];
      await Promise.all(
        Array.from({ length: 50 }, async (_, writer) => {
          const self = writer % 2 === 0 ? store : peer;
          for (;;) {
            const current = await self.get(record.chainKey);
            const next = await self.compareAndSet(record.chainKey, current?.version ?? 0, {
              lastErrorCode: `count:${Number(current?.lastErrorCode?.slice(6) ?? 0) + 1}`,
              updatedAt: BASE_AT + writer,
            });
            if (next !== undefined) {
              won.push(next.version);
              return;
            }
          }
        }),
      );
      const stored = await store.get(record.chainKey);
      expect(stored?.version).toBe(51);
      expect(stored?.lastErrorCode).toBe('count:50');
      expect(won.sort((a, b) => a - b)).toEqual(Array.from({ length: 50 }, (_, i) => i + 2));
    } finally {
      await peer.close();
      await other.quit();
    }
  });

  test('reads and scripts asked for in one run of synchronous code leave together, when it ends', async () => {
    const records = ['T0000001', 'T0000002', 'T0000003'].map((team) => sampleRecord(team));
    for (const record of records) await store.put(record);
    await client.ping();
    const socket = (client as unknown as { stream: { writableCorked: number } }).stream;
    expect(socket.writableCorked).toBe(0);
    const reads = records.map((record) => store.get(record.chainKey));
    const write = store.compareAndSet(records[0]?.chainKey ?? '', 1, {
      lastErrorCode: 'x',
      updatedAt: BASE_AT,
    });
    // Held back until this synchronous run ends, then written in one system call.
    expect(socket.writableCorked).toBe(1);
    await new Promise((resolve) => process.nextTick(resolve));
    expect(socket.writableCorked).toBe(0);
    expect((await Promise.all(reads)).map((record) => record?.chainKey)).toEqual(
      records.map((record) => record.chainKey),
    );
    expect((await write)?.version).toBe(2);
  });

  test('a stale index entry (lost update) is filtered out of list and repaired', async () => {
    const flaky = flakyIndex(client, prefix);
    const errors: StorageError[] = [];
    const writer = createRedisStore({ client: flaky.client, prefix, onIndexError: (e) => errors.push(e) });
    const moved = sampleRecord('T0000001', { expiresAt: BASE_AT + 1_000 });
    const other = sampleRecord('T0000002', { expiresAt: BASE_AT + 5_000 });
    await writer.put(moved);
    await writer.put(other);
    flaky.failing = true;
    const written = await writer.compareAndSet(moved.chainKey, 1, {
      expiresAt: BASE_AT + 9_000,
      updatedAt: BASE_AT,
    });
    flaky.failing = false;
    expect(written?.version, 'the write stands though its index update failed').toBe(2);
    expect(errors.map((e) => e.code)).toEqual(['store_failed']);
    const expiry = () => client.zrangebylex(`${prefix}:index:{${prefix}}:e`, '-', '+');
    expect(await expiry()).toEqual([
      expiryMember(BASE_AT + 1_000, moved.chainKey),
      expiryMember(BASE_AT + 5_000, other.chainKey),
    ]);
    // The index says the moved chain expires first; the record says last: listed by the record.
    const listed = await store.list({ expiresBefore: BASE_AT + 10_000 });
    expect(listed.records.map((r) => [r.chainKey, r.expiresAt])).toEqual([
      [other.chainKey, BASE_AT + 5_000],
      [moved.chainKey, BASE_AT + 9_000],
    ]);
    expect(await expiry(), 'the listing repaired the entry').toEqual([
      expiryMember(BASE_AT + 5_000, other.chainKey),
      expiryMember(BASE_AT + 9_000, moved.chainKey),
    ]);
    await writer.close();
  });

  test('repairIndex finds a chain whose index update was lost, and drops entries of deleted chains', async () => {
    const flaky = flakyIndex(client, prefix);
    const writer = createRedisStore({ client: flaky.client, prefix, onIndexError: () => {} });
    const kept = sampleRecord('T0000001', { expiresAt: BASE_AT + 1_000 });
    const gone = sampleRecord('T0000002', { expiresAt: BASE_AT + 2_000 });
    await writer.put(gone);
    flaky.failing = true;
    await writer.put(kept);
    await writer.delete({ chainKey: gone.chainKey });
    flaky.failing = false;
    const expiring = { expiresBefore: BASE_AT + 5_000 };
    const index = `${prefix}:index:{${prefix}}:`;
    // Before the repair, the expiry index holds the deleted chain and misses the new one.
    const chainsIn = async (zset: string) =>
      (await client.zrangebylex(`${index}${zset}`, '-', '+')).map((member) => member.slice(16));
    expect(await chainsIn('e')).toEqual([gone.chainKey]);
    expect(await chainsIn('e:active')).toEqual([gone.chainKey]);
    const byKey = () => client.zrangebylex(`${index}k`, '-', '+');
    expect(await byKey(), 'the new chain was indexed by key before its write').toEqual([
      kept.chainKey,
      gone.chainKey,
    ]);

    const report = await store.repairIndex();
    expect(report).toEqual({ chains: 1, repaired: 2, invalid: [] });
    expect((await store.list(expiring)).records.map((r) => r.chainKey)).toEqual([kept.chainKey]);
    expect(await chainsIn('e')).toEqual([kept.chainKey]);
    expect(await chainsIn('e:active')).toEqual([kept.chainKey]);
    expect(await byKey()).toEqual([kept.chainKey]);
    expect(await store.repairIndex()).toEqual({ chains: 1, repaired: 0, invalid: [] });
    expect(await store.delete({ clientId: kept.clientId, installationId: 'T0000001' })).toBe(1);
    await writer.close();
  });

  test('a corrupt record or one from a newer release is record_invalid, naming the field, and left untouched', async () => {
    const record = sampleRecord();
    await store.put(record);
    const key = `${prefix}:chain:{${record.chainKey}}`;
    await client.hset(key, 'refreshToken', '{not json');
    const before = await client.hgetall(key);
    const error = await store.get(record.chainKey).catch((caught: unknown) => caught);
    expect(error).toMatchObject({ name: 'StorageError', code: 'record_invalid', chainKey: record.chainKey });
    expect((error as Error).message).toMatch(/invalid refreshToken$/);
    expect(await client.hgetall(key), 'the stored hash is untouched').toEqual(before);
    // Not JSON alone, though it joins into JSON with the other values: still the field is named.
    await client.hset(key, 'refreshToken', '"r","extra":1');
    await expect(store.get(record.chainKey)).rejects.toThrow(/invalid refreshToken$/);
    await client.hset(key, 'format', '2');
    await expect(store.get(record.chainKey)).rejects.toThrow(/newer release \(format 2\)/);
    await client.hset(key, 'version', 'x');
    await expect(store.put(record)).rejects.toMatchObject({ code: 'record_invalid' });
    expect(await client.hget(key, 'version')).toBe('x');
  });

  test('a Redis failure is store_failed with a cause that holds no command arguments (tokens)', async () => {
    const record = sampleRecord();
    await client.set(`${prefix}:chain:{${record.chainKey}}`, 'not a hash');
    const error = await store.put(record).catch((caught: unknown) => caught);
    expect(error).toMatchObject({ name: 'StorageError', code: 'store_failed', chainKey: record.chainKey });
    expect((error as Error).cause).toMatchObject({ message: expect.stringMatching(/WRONGTYPE/) });
    expect(TOKEN_PATTERN.test(describeError(error)), 'no token in the error or its cause').toBe(false);
  });

  test('an unreachable server is store_failed; the next call works once it is back', async () => {
    const server = await startServer();
    const own = new Redis({ port: server.port, maxRetriesPerRequest: 0, retryStrategy: () => 20 });
    own.on('error', () => {});
    const durable = createRedisStore({ client: own, prefix });
    try {
      const record = sampleRecord();
      await durable.put(record);
      await server.kill();
      await expect(durable.get(record.chainKey)).rejects.toMatchObject({ code: 'store_failed' });
      await server.start();
      await expect
        .poll(() => durable.get(record.chainKey).catch(() => undefined), { timeout: 10_000 })
        .toMatchObject({
          chainKey: record.chainKey,
          version: 1,
        });
    } finally {
      await durable.close();
      own.disconnect();
      await server.stop();
    }
  });

  test('validates its options', () => {
    expect(() => createRedisStore({} as never)).toThrow(
      /^\[slack-rotator\] client must be an ioredis client/,
    );
    expect(() => createRedisStore({ client, prefix: 'a{b}' })).toThrow(/prefix/);
    expect(() => createRedisStore({ client, prefix: '' })).toThrow(/prefix/);
    expect(() => createRedisStore({ client, onIndexError: 'x' as never })).toThrow(/onIndexError/);
    expect(() => createRedisStore({ client, lockRecheckMs: 0 })).toThrow(/recheckMs/);
    const prefixed = new Redis({ lazyConnect: true, keyPrefix: 'app:' });
    expect(() => createRedisStore({ client: prefixed })).toThrow(/keyPrefix/);
  });
});
