import assert from 'node:assert/strict';
import type { LockCaseFixture } from './lock-cases.js';
import { pause, rejectsWithCode, type SuiteCase } from './suite.js';

const NAME = '1111.2222:T0000009:bot';
const LONG_MS = 30_000;

/**
 * The optional `wait` of a lock (wait for a busy lock to be free without taking it). Each case
 * passes trivially for a lock without `wait`: the engine then queues on `acquire` instead.
 */
export const waitCases: readonly SuiteCase<LockCaseFixture>[] = [
  {
    name: 'wait resolves when the holder releases, and leaves the lock free for anyone',
    async run({ lock, peer }) {
      if (peer.wait === undefined) return;
      const held = await lock.acquire(NAME, { ttlMs: LONG_MS, waitMs: 0 });
      let resolved = false;
      const waiting = peer.wait(NAME, { waitMs: 10_000 }).then(() => {
        resolved = true;
      });
      await pause(50);
      assert.equal(resolved, false, 'wait resolved while the lock was held');
      await lock.release(held);
      await waiting;
      // wait took nothing: the lock is free at once.
      const next = await lock.acquire(NAME, { ttlMs: LONG_MS, waitMs: 0 });
      await lock.release(next);
    },
  },
  {
    name: 'wait resolves at once for a free lock, and when an abandoned lease runs out',
    async run({ lock, peer, ttlMs }) {
      if (peer.wait === undefined) return;
      await peer.wait(NAME, { waitMs: 0 });
      await lock.acquire(NAME, { ttlMs, waitMs: 0 });
      await peer.wait(NAME, { waitMs: 10_000 });
      const next = await peer.acquire(NAME, { ttlMs: LONG_MS, waitMs: 0 });
      await peer.release(next);
    },
  },
  {
    name: 'wait fails with lock_timeout while the holder keeps the lock',
    async run({ lock, peer }) {
      if (peer.wait === undefined) return;
      const held = await lock.acquire(NAME, { ttlMs: LONG_MS, waitMs: 0 });
      await rejectsWithCode(peer.wait(NAME, { waitMs: 100 }), 'lock_timeout');
      await lock.release(held);
    },
  },
  {
    name: "an aborted wait rejects with the signal's reason, at once when aborted before",
    async run({ lock, peer }) {
      if (peer.wait === undefined) return;
      const held = await lock.acquire(NAME, { ttlMs: LONG_MS, waitMs: 0 });
      const controller = new AbortController();
      const reason = new Error('shutting down');
      const waiting = peer.wait(NAME, { waitMs: LONG_MS, signal: controller.signal });
      await pause(50);
      controller.abort(reason);
      await assert.rejects(waiting, (error) => error === reason);
      await assert.rejects(
        peer.wait(NAME, { waitMs: LONG_MS, signal: controller.signal }),
        (error) => error === reason,
      );
      await lock.release(held);
    },
  },
];
