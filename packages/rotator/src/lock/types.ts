/** A held lock. Opaque to callers; pass it back to {@link Lock.renew} and {@link Lock.release}. */
export interface Lease {
  readonly name: string;
  /** A random id of this holder; only the holder's own lease can be renewed or released. */
  readonly owner: string;
  /** When the lease runs out, as estimated by the holder's clock (epoch ms). */
  readonly expiresAt: number;
}

export interface AcquireOptions {
  /** How long the lease lasts unless renewed (ms). */
  ttlMs: number;
  /** How long to wait for a held lock before failing with `LockTimeoutError` (ms). 0 = try once. */
  waitMs: number;
  /** Aborts the wait (the promise rejects with the signal's reason). */
  signal?: AbortSignal;
}

/**
 * A mutual-exclusion lock with leases. A lease that is neither renewed nor released runs out after
 * its TTL, so a holder that dies never blocks others for longer than that. The lock makes double
 * refreshes rare; it is not the safety fence — the record's `version` is (every write is a
 * compare-and-set).
 *
 * Pass a lock through the conformance suite `describeLock` of `slack-rotator/testing`.
 */
export interface Lock {
  /**
   * Takes the lock named `name`, waiting up to `waitMs` while another holder has it.
   * @throws LockTimeoutError (code `lock_timeout`) when the wait runs out.
   */
  acquire(name: string, options: AcquireOptions): Promise<Lease>;
  /**
   * Extends a lease that is still held by its owner to `ttlMs` from now. Returns `false`, changing
   * nothing, when the lease has run out or another holder has the lock.
   */
  renew(lease: Lease, ttlMs: number): Promise<boolean>;
  /** Releases the lease if (and only if) it is still this owner's. Never throws for a lost lease. */
  release(lease: Lease): Promise<void>;
  /**
   * Waits until the lock named `name` is free (released, or its lease ran out) without taking it.
   * Lets a waiter that only needs the holder's result re-read it instead of queueing for the lock.
   * It may also resolve while the lock is still held, when it hears that what the lock guards has
   * changed (the PostgreSQL and Redis stores wake their own lock's waiters when a compare-and-set
   * commits, under `refresh:<chainKey>`): callers re-check what they wait for, and wait again if
   * it is not there yet.
   * @throws LockTimeoutError (code `lock_timeout`) when the wait runs out.
   */
  wait?(name: string, options: { waitMs: number; signal?: AbortSignal }): Promise<void>;
  /** Releases what the lock opened itself. */
  close?(): Promise<void>;
}
