import assert from 'node:assert/strict';
import type { Lease, Lock } from '../lock/types.js';
import { pause, rejectsWithCode, type SuiteCase } from './suite.js';

/** What each lock conformance case gets. */
export interface LockCaseFixture {
  lock: Lock;
  /** A second client of the same lock (the `lock` itself when the adapter has no such thing). */
  peer: Lock;
  /** The short TTL of the expiry cases (ms). */
  ttlMs: number;
}

type LockCase = SuiteCase<LockCaseFixture>;

/** A TTL no case outlives. */
const LONG_MS = 30_000;
const NAME = '1111.2222:T0000001:bot';

function assertLease(lease: Lease, name: string): void {
  assert.equal(lease.name, name);
  assert.equal(typeof lease.owner, 'string');
  assert.ok(lease.owner.length > 0, 'a lease has an owner');
  assert.ok(Number.isFinite(lease.expiresAt), 'a lease has a finite expiresAt');
}

/** Asserts that nobody can take `name` right now (a try-once acquisition fails). */
async function assertHeld(lock: Lock, name: string, what: string): Promise<void> {
  try {
    await rejectsWithCode(lock.acquire(name, { ttlMs: LONG_MS, waitMs: 0 }), 'lock_timeout');
  } catch (error) {
    if (error instanceof assert.AssertionError) error.message = `${what}: ${error.message}`;
    throw error;
  }
}

/** Asserts that `name` is free now, by taking and releasing it. */
async function assertFree(lock: Lock, name: string): Promise<void> {
  const lease = await lock.acquire(name, { ttlMs: LONG_MS, waitMs: 0 });
  await lock.release(lease);
}

/** Acquisition: exclusion, waiting, timeouts, abort. */
export const acquireCases: readonly LockCase[] = [
  {
    name: 'acquire of a free lock returns a lease of that name',
    async run({ lock }) {
      const lease = await lock.acquire(NAME, { ttlMs: LONG_MS, waitMs: 0 });
      assertLease(lease, NAME);
      await assertHeld(lock, NAME, 'a lock just acquired');
    },
  },
  {
    name: 'concurrent acquirers hold the lock one at a time, and all get it',
    async run({ lock, peer }) {
      let holders = 0;
      let most = 0;
      let served = 0;
      const acquirers = 12;
      await Promise.all(
        Array.from({ length: acquirers }, async (_, i) => {
          const client = i % 2 === 0 ? lock : peer;
          const lease = await client.acquire(NAME, { ttlMs: LONG_MS, waitMs: LONG_MS });
          holders += 1;
          most = Math.max(most, holders);
          await pause(3);
          holders -= 1;
          served += 1;
          await client.release(lease);
        }),
      );
      assert.equal(most, 1, `at most one holder at a time, saw ${most}`);
      assert.equal(served, acquirers);
    },
  },
  {
    name: 'locks of different names do not exclude each other',
    async run({ lock, peer }) {
      const first = await lock.acquire(`${NAME}:a`, { ttlMs: LONG_MS, waitMs: 0 });
      const second = await peer.acquire(`${NAME}:b`, { ttlMs: LONG_MS, waitMs: 0 });
      assertLease(second, `${NAME}:b`);
      assert.notEqual(first.owner, second.owner);
    },
  },
  {
    name: 'waitMs 0 tries once: a held lock fails at once with LockTimeoutError (lock_timeout)',
    async run({ lock, peer }) {
      await lock.acquire(NAME, { ttlMs: LONG_MS, waitMs: 0 });
      const error = await rejectsWithCode(peer.acquire(NAME, { ttlMs: LONG_MS, waitMs: 0 }), 'lock_timeout');
      assert.equal((error as Error).name, 'LockTimeoutError');
    },
  },
  {
    name: 'a wait that runs out fails with LockTimeoutError (lock_timeout)',
    async run({ lock, peer }) {
      await lock.acquire(NAME, { ttlMs: LONG_MS, waitMs: 0 });
      const error = await rejectsWithCode(peer.acquire(NAME, { ttlMs: LONG_MS, waitMs: 60 }), 'lock_timeout');
      assert.equal((error as Error).name, 'LockTimeoutError');
    },
  },
  {
    name: 'a waiter gets the lock when the holder releases it',
    async run({ lock, peer }) {
      const held = await lock.acquire(NAME, { ttlMs: LONG_MS, waitMs: 0 });
      const waiting = peer.acquire(NAME, { ttlMs: LONG_MS, waitMs: LONG_MS });
      await pause(20);
      await lock.release(held);
      const lease = await waiting;
      assertLease(lease, NAME);
      assert.notEqual(lease.owner, held.owner);
      await assertHeld(lock, NAME, 'after the waiter took over');
    },
  },
  {
    name: "an aborted wait rejects with the signal's reason and takes nothing",
    async run({ lock, peer }) {
      const held = await lock.acquire(NAME, { ttlMs: LONG_MS, waitMs: 0 });
      const controller = new AbortController();
      const reason = new Error('shutting down');
      const waiting = peer.acquire(NAME, { ttlMs: LONG_MS, waitMs: LONG_MS, signal: controller.signal });
      await pause(20);
      controller.abort(reason);
      await assert.rejects(waiting, (error) => error === reason);
      await lock.release(held);
      await assertFree(peer, NAME);
      await assert.rejects(
        lock.acquire(NAME, { ttlMs: LONG_MS, waitMs: LONG_MS, signal: controller.signal }),
        (error) => error === reason,
      );
    },
  },
];

/** `renew` and `release`, including the failures that happen mid-refresh. */
export const leaseCases: readonly LockCase[] = [
  {
    name: 'renew extends a held lease past its first TTL',
    async run({ lock, peer, ttlMs }) {
      const lease = await lock.acquire(NAME, { ttlMs, waitMs: 0 });
      assert.equal(await lock.renew(lease, LONG_MS), true);
      await pause(ttlMs * 2);
      await assertHeld(peer, NAME, 'a renewed lease past its first TTL');
      assert.equal(await lock.renew(lease, LONG_MS), true, 'a held lease renews again');
    },
  },
  {
    name: 'release frees the lock; renew of a released lease returns false; a second release is harmless',
    async run({ lock, peer }) {
      const lease = await lock.acquire(NAME, { ttlMs: LONG_MS, waitMs: 0 });
      await lock.release(lease);
      assert.equal(await lock.renew(lease, LONG_MS), false);
      await lock.release(lease);
      await assertFree(peer, NAME);
    },
  },
  {
    name: 'a lease that ran out can be taken at once',
    async run({ lock, peer, ttlMs }) {
      await lock.acquire(NAME, { ttlMs, waitMs: 0 });
      await pause(ttlMs * 2);
      assertLease(await peer.acquire(NAME, { ttlMs: LONG_MS, waitMs: 0 }), NAME);
    },
  },
  {
    name: "release of a lease another holder took over leaves the new holder's lease intact",
    async run({ lock, peer, ttlMs }) {
      const old = await lock.acquire(NAME, { ttlMs, waitMs: 0 });
      await pause(ttlMs * 2);
      const current = await peer.acquire(NAME, { ttlMs: LONG_MS, waitMs: 0 });
      assert.equal(await lock.renew(old, LONG_MS), false, 'the lost lease does not renew');
      await lock.release(old);
      await assertHeld(lock, NAME, 'after the old holder released its lost lease');
      assert.equal(await peer.renew(current, LONG_MS), true, "the new holder's lease is still its own");
    },
  },
  {
    name: 'a holder that dies mid-refresh (never renews or releases): another acquirer gets the lock after the TTL',
    async run({ lock, peer, ttlMs }) {
      const abandoned = await lock.acquire(NAME, { ttlMs, waitMs: 0 });
      const lease = await peer.acquire(NAME, { ttlMs: LONG_MS, waitMs: LONG_MS });
      assertLease(lease, NAME);
      assert.notEqual(lease.owner, abandoned.owner);
      assert.equal(await peer.renew(lease, LONG_MS), true);
    },
  },
  {
    name: 'a lease that expires mid-refresh: a waiter takes over; the old holder can neither renew nor release it',
    async run({ lock, peer, ttlMs }) {
      const old = await lock.acquire(NAME, { ttlMs, waitMs: 0 });
      assert.equal(await lock.renew(old, ttlMs), true, 'renewed once while the refresh runs');
      const waiter = peer.acquire(NAME, { ttlMs: LONG_MS, waitMs: LONG_MS });
      // The "refresh" outlasts the lease and no renewal comes.
      const current = await waiter;
      assert.notEqual(current.owner, old.owner);
      assert.equal(await lock.renew(old, LONG_MS), false, 'the expired holder cannot renew');
      await lock.release(old);
      await assertHeld(lock, NAME, "after the expired holder's release");
      await peer.release(current);
      await assertFree(lock, NAME);
    },
  },
];
