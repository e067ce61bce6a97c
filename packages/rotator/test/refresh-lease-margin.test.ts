// A refresh request starts only while the lock's lease still outlasts the request's timeout. The
// start waits its turn (slack/turns.ts), and a process can stall between its lease check and the
// send: a request whose turn came too late is not sent; the lease is checked again, and after a few
// such tries the refresh fails with `lease_lost`, having presented nothing to Slack. A lease taken
// a moment before the first request is not checked again: the acquire was the check.
import { describe, expect, test } from 'vitest';
import { createLocalLock } from '../src/lock/local.js';
import type { Lock } from '../src/lock/types.js';
import { harness, refreshCalls, rejection } from './helpers/setup.js';

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * A lock whose acquire and renew (the lease check right before sending) take `ms` to answer, and
 * that counts the renews.
 */
function slowLock(ms: number): Lock & { renews: number } {
  const lock = createLocalLock();
  const slow = {
    ...lock,
    renews: 0,
    async acquire(name: string, options: Parameters<Lock['acquire']>[1]) {
      const lease = await lock.acquire(name, options);
      await pause(ms);
      return lease;
    },
    release: (lease: Parameters<Lock['release']>[0]) => lock.release(lease),
    async renew(lease: Parameters<Lock['renew']>[0], ttlMs: number) {
      slow.renews++;
      await pause(ms);
      return lock.renew(lease, ttlMs);
    },
  };
  return slow;
}

describe('the lease margin at the moment of sending', () => {
  test('a send whose turn comes after the lease margin is not made; the refresh fails with lease_lost', async () => {
    // The lease outlasts the request's timeout by 20 ms only; every acquire and lease check takes 60 ms.
    const lock = slowLock(60);
    const h = await harness({ rotator: { lock, requestTimeoutMs: 2_000, lockTtlMs: 2_020 } });
    try {
      await h.installWith({ teamId: 'T1' }, 0);
      const error = await rejection(h.rotator.getToken({ teamId: 'T1' }));
      expect(error).toMatchObject({ name: 'RetryLaterError', code: 'lease_lost' });
      expect(String((error as Error).message)).toContain('lockTtlMs');
      expect(refreshCalls(h.slack), 'refresh requests Slack received').toBe(0);
      expect(lock.renews, 'lease checks before giving up').toBe(3);
      // Nothing was spent: with a lease long enough, the next call refreshes the chain.
      const healthy = h.another({ lockTtlMs: 5_000 });
      await expect(healthy.getToken({ teamId: 'T1' })).resolves.toMatch(/^xoxe\.xoxb-/);
      expect(refreshCalls(h.slack)).toBe(1);
    } finally {
      await h.close();
    }
  });

  // 60 ms to take the lease. With a 3 s margin (lockTtlMs − requestTimeoutMs) that is well within
  // min(1 s, half the margin): the acquire was the check. With a 100 ms margin it is past half of
  // it: the lease is checked (60 ms more), and the request starts within 100 ms of that check.
  test.each([
    { lease: 'taken a moment ago is not checked again', lockTtlMs: 5_000, renews: 0 },
    { lease: 'taken longer ago than half its margin is checked once', lockTtlMs: 2_100, renews: 1 },
  ])('a lease $lease before the first request, which is sent', async ({ lockTtlMs, renews }) => {
    const lock = slowLock(60);
    const h = await harness({ rotator: { lock, requestTimeoutMs: 2_000, lockTtlMs } });
    try {
      await h.installWith({ teamId: 'T1' }, 0);
      await expect(h.rotator.getToken({ teamId: 'T1' })).resolves.toMatch(/^xoxe\.xoxb-/);
      expect(refreshCalls(h.slack)).toBe(1);
      expect(lock.renews, 'lease checks').toBe(renews);
    } finally {
      await h.close();
    }
  });
});
