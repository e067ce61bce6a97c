// A refresh request starts only while the lock's lease still outlasts the request's timeout. The
// start waits its turn (slack/turns.ts), and a process can stall between its lease check and the
// send: a request whose turn came too late is not sent; the lease is checked again, and after a few
// such tries the refresh fails with `lease_lost`, having presented nothing to Slack.
import { describe, expect, test } from 'vitest';
import { createLocalLock } from '../src/lock/local.js';
import type { Lock } from '../src/lock/types.js';
import { harness, refreshCalls, rejection } from './helpers/setup.js';

/** A lock whose renew (the lease check right before sending) takes `ms` to answer. */
function slowRenew(ms: number): Lock {
  const lock = createLocalLock();
  return {
    ...lock,
    acquire: (name, options) => lock.acquire(name, options),
    release: (lease) => lock.release(lease),
    async renew(lease, ttlMs) {
      await new Promise((resolve) => setTimeout(resolve, ms));
      return lock.renew(lease, ttlMs);
    },
  };
}

describe('the lease margin at the moment of sending', () => {
  test('a send whose turn comes after the lease margin is not made; the refresh fails with lease_lost', async () => {
    // The lease outlasts the request's timeout by 20 ms only; every lease check takes 60 ms.
    const h = await harness({ rotator: { lock: slowRenew(60), requestTimeoutMs: 2_000, lockTtlMs: 2_020 } });
    try {
      await h.installWith({ teamId: 'T1' }, 0);
      const error = await rejection(h.rotator.getToken({ teamId: 'T1' }));
      expect(error).toMatchObject({ name: 'RetryLaterError', code: 'lease_lost' });
      expect(String((error as Error).message)).toContain('lockTtlMs');
      expect(refreshCalls(h.slack), 'refresh requests Slack received').toBe(0);
      // Nothing was spent: with a lease long enough, the next call refreshes the chain.
      const healthy = h.another({ lockTtlMs: 5_000 });
      await expect(healthy.getToken({ teamId: 'T1' })).resolves.toMatch(/^xoxe\.xoxb-/);
      expect(refreshCalls(h.slack)).toBe(1);
    } finally {
      await h.close();
    }
  });

  test('the same slow lease check with a lease margin to spare sends once', async () => {
    const h = await harness({ rotator: { lock: slowRenew(60), requestTimeoutMs: 2_000, lockTtlMs: 5_000 } });
    try {
      await h.installWith({ teamId: 'T1' }, 0);
      await expect(h.rotator.getToken({ teamId: 'T1' })).resolves.toMatch(/^xoxe\.xoxb-/);
      expect(refreshCalls(h.slack)).toBe(1);
    } finally {
      await h.close();
    }
  });
});
