import { randomUUID } from 'node:crypto';
import { invalidArgument } from '../errors.js';
import type { AcquireOptions, Lease, Lock } from './types.js';
import { checkAcquire, checkClock, checkLease, checkTtl, lockClosed, lockTimeout } from './wait.js';

/** Options of {@link createLocalLock}. */
export interface LocalLockOptions {
  /** The clock leases are judged by (epoch ms). Default `Date.now`. */
  now?: () => number;
}

interface Holder {
  owner: string;
  expiresAt: number;
  timer: ReturnType<typeof setTimeout> | undefined;
}

interface Waiter {
  ttlMs: number;
  grant(lease: Lease): void;
  fail(reason: unknown): void;
}

/**
 * An in-process lock: excludes callers within one Node.js process only (use the store's own lock,
 * e.g. `createSqliteLock`, when several processes share a store). Waiters are served first come,
 * first served, woken by `release` or by the holder's lease running out — no polling.
 *
 * With an injected `now`, expiry is judged by that clock, but waiters are woken by real timers set
 * for the remaining TTL; a fake clock that jumps ahead is noticed at the next acquire, renew,
 * release or timer.
 *
 * @example
 * const lock = createLocalLock();
 * const lease = await lock.acquire('A1:T1:bot', { ttlMs: 30_000, waitMs: 10_000 });
 * try { … } finally { await lock.release(lease); }
 * @throws TypeError (`ERR_INVALID_ARG_TYPE`) when `now` is not a function.
 */
export function createLocalLock(options: LocalLockOptions = {}): Lock {
  if (options === null || typeof options !== 'object') {
    throw invalidArgument('options must be an object', 'ERR_INVALID_ARG_TYPE');
  }
  const now = checkClock(options.now);
  const holders = new Map<string, Holder>();
  const queues = new Map<string, Waiter[]>();
  let closed = false;

  function isFree(name: string): boolean {
    const holder = holders.get(name);
    return holder === undefined || holder.expiresAt <= now();
  }

  function drop(name: string, holder: Holder): void {
    clearTimeout(holder.timer);
    if (holders.get(name) === holder) holders.delete(name);
  }

  function watchExpiry(name: string, holder: Holder): void {
    clearTimeout(holder.timer);
    holder.timer = setTimeout(
      () => {
        if (holders.get(name) !== holder) return;
        // An injected clock may disagree with the timer; wait for the clock then.
        if (holder.expiresAt > now()) watchExpiry(name, holder);
        else {
          drop(name, holder);
          dispatch(name);
        }
      },
      Math.max(0, holder.expiresAt - now()) + 1,
    );
    // A lease alone must not keep the process alive; a waiter's own timer does.
    holder.timer.unref?.();
  }

  function grant(name: string, ttlMs: number): Lease {
    const previous = holders.get(name);
    if (previous !== undefined) drop(name, previous);
    const holder: Holder = { owner: randomUUID(), expiresAt: now() + ttlMs, timer: undefined };
    holders.set(name, holder);
    watchExpiry(name, holder);
    return Object.freeze({ name, owner: holder.owner, expiresAt: holder.expiresAt });
  }

  function dispatch(name: string): void {
    const queue = queues.get(name);
    while (queue !== undefined && queue.length > 0 && isFree(name)) {
      const waiter = queue.shift() as Waiter;
      waiter.grant(grant(name, waiter.ttlMs));
    }
    if (queue?.length === 0) queues.delete(name);
  }

  function enqueue(
    name: string,
    ttlMs: number,
    waitMs: number,
    signal: AbortSignal | undefined,
  ): Promise<Lease> {
    return new Promise<Lease>((resolve, reject) => {
      const queue = queues.get(name) ?? [];
      queues.set(name, queue);
      const leave = () => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        const index = queue.indexOf(waiter);
        if (index !== -1) queue.splice(index, 1);
        if (queue.length === 0 && queues.get(name) === queue) queues.delete(name);
      };
      const waiter: Waiter = {
        ttlMs,
        grant(lease) {
          leave();
          resolve(lease);
        },
        fail(reason) {
          leave();
          reject(reason);
        },
      };
      const onAbort = () => waiter.fail(signal?.reason);
      const timer = setTimeout(() => waiter.fail(lockTimeout(name, waitMs)), waitMs);
      signal?.addEventListener('abort', onAbort, { once: true });
      queue.push(waiter);
    });
  }

  return {
    async acquire(name: string, acquireOptions: AcquireOptions): Promise<Lease> {
      checkAcquire(name, acquireOptions);
      const { ttlMs, waitMs, signal } = acquireOptions;
      if (closed) throw lockClosed();
      if (signal?.aborted) throw signal.reason;
      // A lease that ran out before its timer fired: serve the queue before this newcomer.
      if (isFree(name)) dispatch(name);
      if (isFree(name) && !queues.has(name)) return grant(name, ttlMs);
      if (waitMs === 0) throw lockTimeout(name, waitMs);
      return enqueue(name, ttlMs, waitMs, signal);
    },

    async renew(lease: Lease, ttlMs: number): Promise<boolean> {
      checkLease(lease);
      checkTtl(ttlMs);
      const holder = holders.get(lease.name);
      if (holder === undefined || holder.owner !== lease.owner) return false;
      if (holder.expiresAt <= now()) {
        drop(lease.name, holder);
        dispatch(lease.name);
        return false;
      }
      holder.expiresAt = now() + ttlMs;
      watchExpiry(lease.name, holder);
      return true;
    },

    async release(lease: Lease): Promise<void> {
      checkLease(lease);
      const holder = holders.get(lease.name);
      if (holder === undefined || holder.owner !== lease.owner) return;
      drop(lease.name, holder);
      dispatch(lease.name);
    },

    async close(): Promise<void> {
      closed = true;
      for (const queue of queues.values()) {
        for (const waiter of [...queue]) waiter.fail(lockClosed());
      }
      for (const [name, holder] of holders) drop(name, holder);
    },
  };
}
