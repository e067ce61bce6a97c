import { invalidArgument, LockTimeoutError, RotatorError } from '../errors.js';
import type { AcquireOptions, Lease } from './types.js';

/**
 * Resolves after `ms`, or rejects with `signal.reason` as soon as `signal` aborts.
 * The timer keeps the process alive, like any pending wait.
 */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** Checks the arguments of `Lock.acquire`. */
export function checkAcquire(name: string, options: AcquireOptions): void {
  checkName(name);
  if (options === null || typeof options !== 'object') {
    throw invalidArgument('acquire options must be an object with ttlMs and waitMs', 'ERR_INVALID_ARG_TYPE');
  }
  checkTtl(options.ttlMs);
  if (typeof options.waitMs !== 'number' || !(options.waitMs >= 0) || !Number.isFinite(options.waitMs)) {
    throw invalidArgument('waitMs must be a finite number >= 0');
  }
  if (options.signal !== undefined && !(options.signal instanceof AbortSignal)) {
    throw invalidArgument('signal must be an AbortSignal', 'ERR_INVALID_ARG_TYPE');
  }
}

/** Checks a lock name. */
export function checkName(name: string): void {
  if (typeof name !== 'string' || name === '') {
    throw invalidArgument('a lock name must be a non-empty string', 'ERR_INVALID_ARG_TYPE');
  }
}

/** Checks a lease TTL. */
export function checkTtl(ttlMs: number): void {
  if (typeof ttlMs !== 'number' || !(ttlMs > 0) || !Number.isFinite(ttlMs)) {
    throw invalidArgument('ttlMs must be a finite number > 0');
  }
}

/** Checks a lease given back to `renew` or `release`. */
export function checkLease(lease: Lease): void {
  if (lease === null || typeof lease !== 'object' || typeof lease.owner !== 'string') {
    throw invalidArgument('lease must be a lease returned by acquire', 'ERR_INVALID_ARG_TYPE');
  }
  checkName(lease.name);
}

/**
 * The error of an acquisition whose wait ran out. Lock names are chain keys, never tokens.
 *
 * A try (`waitMs` 0) that finds the lock held gets one without a stack: that is an answer, not a
 * fault, and in a storm every process but one gets it for every chain, where capturing the stack
 * cost more than the attempt's own work.
 */
export function lockTimeout(name: string, waitMs: number): LockTimeoutError {
  const create = () =>
    new LockTimeoutError(
      'lock_timeout',
      `[slack-rotator] lock "${name}" is held; gave up after ${waitMs} ms`,
    );
  if (waitMs > 0) return create();
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    return create();
  } finally {
    Error.stackTraceLimit = limit;
  }
}

/** The error that waiters of a closed lock get. */
export function lockClosed(): RotatorError {
  return new RotatorError('closed', '[slack-rotator] the lock was closed');
}

/** Checks an optional clock option. */
export function checkClock(now: unknown): () => number {
  if (now === undefined) return Date.now;
  if (typeof now !== 'function') throw invalidArgument('now must be a function', 'ERR_INVALID_ARG_TYPE');
  return now as () => number;
}

/**
 * What a pending acquire or wait can be stopped by: the lock's `close()` or the caller's signal.
 * A plain object rather than an `AbortSignal`: creating an `AbortController` and adding and removing
 * an abort listener cost 8 µs a wait (measured), in a storm more than the rest of a woken
 * waiter's own work.
 */
export interface Scope {
  readonly aborted: boolean;
  /** Why it was stopped (a `closed` error, or the caller's signal's reason). */
  readonly reason: unknown;
  /**
   * Calls `listener` once if the scope stops while it is set (one at a time: a scope's one sleep).
   * Returns what unsets it.
   */
  onAbort(listener: (reason: unknown) => void): () => void;
}

class PendingScope implements Scope {
  aborted = false;
  reason: unknown;
  private listener: ((reason: unknown) => void) | undefined;
  onAbort(listener: (reason: unknown) => void): () => void {
    this.listener = listener;
    return () => {
      if (this.listener === listener) this.listener = undefined;
    };
  }
  abort(reason: unknown): void {
    if (this.aborted) return;
    this.aborted = true;
    this.reason = reason;
    const listener = this.listener;
    this.listener = undefined;
    listener?.(reason);
  }
}

/**
 * One scope per pending acquire or wait, all stopped by `closeScopes()`: no listener per sleeping
 * waiter piles up on one shared signal (EventTarget adds and removes listeners in O(listeners), which
 * a storm of waiters makes quadratic).
 */
export function createScopes() {
  const pending = new Set<PendingScope>();
  let closed = false;
  return {
    /** Runs `fn` with a scope stopped by the caller's `userSignal` or by `closeScopes()`. */
    async scoped<T>(userSignal: AbortSignal | undefined, fn: (scope: Scope) => Promise<T>): Promise<T> {
      const scope = new PendingScope();
      if (closed) scope.abort(lockClosed());
      const onUserAbort = () => scope.abort(userSignal?.reason);
      if (userSignal?.aborted) onUserAbort();
      else userSignal?.addEventListener('abort', onUserAbort, { once: true });
      pending.add(scope);
      try {
        return await fn(scope);
      } finally {
        pending.delete(scope);
        userSignal?.removeEventListener('abort', onUserAbort);
      }
    },
    closeScopes(): void {
      closed = true;
      for (const scope of pending) scope.abort(lockClosed());
      pending.clear();
    },
    isClosed: () => closed,
  };
}

/**
 * What a store tells its own lock about its reads of the records the lock guards: when this
 * process last asked to read what each lock name guards (`performance.now()`), until the lock's
 * next try of that name. A paired lock that heard a commit or release of the name since answers
 * that try "held" without asking (see the PostgreSQL and Redis locks' `acquire`).
 * @internal
 */
export interface GuardedReads {
  /** When this process last asked to read what lock `name` guards; once (the entry is removed). */
  take(name: string): number | undefined;
  /** Whether such a read waits for its first try of the lock. */
  has(name: string): boolean;
}

/** {@link GuardedReads} kept by a store, which notes each read as it is asked for. @internal */
export function createGuardedReads(max = 10_000): GuardedReads & { note(name: string): void } {
  const readAt = new Map<string, number>();
  return {
    note(name) {
      if (readAt.size >= max) readAt.clear();
      readAt.delete(name);
      readAt.set(name, performance.now());
    },
    take(name) {
      const at = readAt.get(name);
      readAt.delete(name);
      return at;
    },
    has: (name) => readAt.has(name),
  };
}
