import assert from 'node:assert/strict';
import { describe, expect, test } from 'vitest';
import { createMemoryStore } from '../src/store/memory.js';
import { sampleRecord } from '../src/testing/store-fixtures.js';
import { describeTokenStore } from '../src/testing/store-suite.js';

describeTokenStore({ describe, test }, { name: 'memory', create: () => ({ store: createMemoryStore() }) });

describe('createMemoryStore', () => {
  test('offers an in-process lock that excludes a second acquirer', async () => {
    const store = createMemoryStore();
    const lease = await store.lock.acquire('k', { ttlMs: 10_000, waitMs: 0 });
    await expect(store.lock.acquire('k', { ttlMs: 10_000, waitMs: 0 })).rejects.toMatchObject({
      code: 'lock_timeout',
    });
    await store.lock.release(lease);
    await store.close();
  });

  test('refuses invalid records and updates with a TypeError that names the field, not the value', async () => {
    const store = createMemoryStore();
    const record = sampleRecord();
    const bad = { ...record, refreshToken: '' };
    await expect(store.put(bad)).rejects.toMatchObject({
      name: 'TypeError',
      code: 'ERR_INVALID_ARG_VALUE',
      message: '[slack-rotator] record.refreshToken is missing or invalid',
    });
    await store.put(record);
    const whole = { ...record, version: 1 } as unknown as Parameters<typeof store.compareAndSet>[2];
    const error = await store.compareAndSet(record.chainKey, 1, whole).catch((caught: unknown) => caught);
    assert.ok(error instanceof TypeError);
    assert.ok(!error.message.includes(record.accessToken), 'the message must not carry a token');
    expect(error.message).toMatch(/^\[slack-rotator\] update\.\w+ cannot be changed$/);
    await expect(store.compareAndSet(record.chainKey, 1, { lastErrorCode: null } as never)).rejects.toThrow(
      'update.updatedAt is required',
    );
    await expect(store.compareAndSet(record.chainKey, 0, { updatedAt: 1 })).rejects.toThrow(TypeError);
    expect((await store.get(record.chainKey))?.version).toBe(1);
  });

  test('refuses an invalid list query or cursor', async () => {
    const store = createMemoryStore();
    await expect(store.list({ limit: 0 })).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_VALUE' });
    await expect(store.list({ cursor: 'not-a-cursor' })).rejects.toThrow(/cursor/);
    for (let i = 0; i < 3; i += 1) await store.put(sampleRecord(`T00${i}`));
    const page = await store.list({ limit: 1 });
    assert.ok(page.cursor !== undefined);
    // A cursor of a listing by key does not continue a listing by expiry.
    await expect(store.list({ cursor: page.cursor, expiresBefore: Date.now() })).rejects.toThrow(/cursor/);
    expect((await store.list({ limit: 5000 })).records).toHaveLength(3);
  });

  test('refuses a delete query without a chain key or both ids', async () => {
    const store = createMemoryStore();
    await expect(store.delete({ clientId: 'A1' } as never)).rejects.toMatchObject({
      code: 'ERR_INVALID_ARG_TYPE',
    });
  });
});
