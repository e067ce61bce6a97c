import { describe, expect, test } from 'vitest';
import { createLocalLock } from '../src/lock/local.js';
import { describeLock } from '../src/testing/lock-suite.js';

describeLock({ describe, test }, { name: 'local', create: () => ({ lock: createLocalLock() }), ttlMs: 100 });

describe('createLocalLock', () => {
  test('serves waiters first come, first served', async () => {
    const lock = createLocalLock();
    const held = await lock.acquire('k', { ttlMs: 10_000, waitMs: 0 });
    const order: number[] = [];
    const waiters = [0, 1, 2, 3].map(async (i) => {
      const lease = await lock.acquire('k', { ttlMs: 10_000, waitMs: 10_000 });
      order.push(i);
      await lock.release(lease);
    });
    await lock.release(held);
    await Promise.all(waiters);
    expect(order).toEqual([0, 1, 2, 3]);
  });

  test('a newcomer does not jump the queue when a lease ran out before its timer', async () => {
    let clock = 1_000;
    const lock = createLocalLock({ now: () => clock });
    await lock.acquire('k', { ttlMs: 50, waitMs: 0 });
    const order: string[] = [];
    const first = lock.acquire('k', { ttlMs: 10_000, waitMs: 10_000 }).then(() => order.push('queued'));
    clock += 100;
    await expect(lock.acquire('k', { ttlMs: 10_000, waitMs: 0 })).rejects.toMatchObject({
      code: 'lock_timeout',
    });
    await first;
    expect(order).toEqual(['queued']);
  });

  test('judges expiry by the injected clock', async () => {
    let clock = 1_000;
    const lock = createLocalLock({ now: () => clock });
    const lease = await lock.acquire('k', { ttlMs: 100, waitMs: 0 });
    expect(lease.expiresAt).toBe(1_100);
    clock = 1_100;
    expect(await lock.renew(lease, 100)).toBe(false);
    const next = await lock.acquire('k', { ttlMs: 100, waitMs: 0 });
    expect(next.owner).not.toBe(lease.owner);
  });

  test('close rejects waiters with code closed and refuses new acquisitions', async () => {
    const lock = createLocalLock();
    await lock.acquire('k', { ttlMs: 10_000, waitMs: 0 });
    const waiting = lock.acquire('k', { ttlMs: 10_000, waitMs: 10_000 });
    await lock.close?.();
    await expect(waiting).rejects.toMatchObject({ code: 'closed' });
    await expect(lock.acquire('j', { ttlMs: 10, waitMs: 0 })).rejects.toMatchObject({ code: 'closed' });
  });

  test('validates its options and arguments with [slack-rotator] TypeErrors', async () => {
    expect(() => createLocalLock({ now: 5 as never })).toThrow(/^\[slack-rotator\] now must be a function$/);
    const lock = createLocalLock();
    await expect(lock.acquire('', { ttlMs: 1, waitMs: 0 })).rejects.toMatchObject({
      code: 'ERR_INVALID_ARG_TYPE',
    });
    await expect(lock.acquire('k', { ttlMs: 0, waitMs: 0 })).rejects.toMatchObject({
      code: 'ERR_INVALID_ARG_VALUE',
    });
    await expect(lock.acquire('k', { ttlMs: 1, waitMs: -1 })).rejects.toThrow(/waitMs/);
    await expect(lock.renew({} as never, 1)).rejects.toThrow(TypeError);
  });
});
