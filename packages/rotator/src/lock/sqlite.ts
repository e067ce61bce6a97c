import { randomUUID } from 'node:crypto';
import { invalidArgument } from '../errors.js';
import {
  type BusyOptions,
  checkPositiveMs,
  type SqliteDatabase,
  toNumber,
  withBusyRetry,
} from '../store/sqlite-database.js';
import { openSchema } from '../store/sqlite-schema.js';
import type { AcquireOptions, Lease, Lock } from './types.js';
import { checkAcquire, checkClock, checkLease, checkTtl, lockClosed, lockTimeout, sleep } from './wait.js';

/** Options of {@link createSqliteLock}. */
export interface SqliteLockOptions extends BusyOptions {
  /** Your better-sqlite3 `Database`; every process that must be excluded opens the same file. */
  database: SqliteDatabase;
  /** Prefix of the table names (letters, digits, `_`). Default `slack_rotator_`. */
  tablePrefix?: string;
  /**
   * The clock written into and compared with the lease rows (epoch ms). Default `Date.now`. Every
   * process sharing the file must use the same machine's clock — which SQLite's single host gives.
   */
  now?: () => number;
  /** The first pause of a waiter between two looks at a held lock (ms). Default 5. */
  pollMinMs?: number;
  /** The longest pause of a waiter between two looks at a held lock (ms). Default 100. */
  pollMaxMs?: number;
}

/** How long past a holder's expiry a waiter looks again, so its look finds the lease run out. */
const EXPIRY_SLACK_MS = 2;

/**
 * A lock shared by every process that opens the same SQLite file: one lease row per lock name
 * (owner, acquired_at, expires_at), taken in a short `BEGIN IMMEDIATE` transaction that commits
 * before `acquire` returns — no transaction ever spans an `await`. A lease that is not renewed runs
 * out by the time written in its row, so a holder that dies (even by SIGKILL) blocks the others
 * for at most its TTL. Waiters look again with capped exponential backoff and jitter, never
 * sleeping past the holder's expiry. `renew` succeeds only for the owner of a lease that has not run
 * out; `release` deletes the row only if this owner still holds it.
 *
 * Runs the schema migration (idempotent) and sets WAL mode and a short `busy_timeout` on the
 * connection. `createSqliteStore` exposes one as `store.lock`.
 *
 * @example
 * const lock = createSqliteLock({ database: new Database('tokens.db') });
 * @throws TypeError (`ERR_INVALID_ARG_TYPE` / `ERR_INVALID_ARG_VALUE`) for invalid options.
 * @throws StorageError (`store_failed`) when the database cannot be set up.
 */
export function createSqliteLock(options: SqliteLockOptions): Lock {
  if (options === null || typeof options !== 'object') {
    throw invalidArgument('options must be an object with a database', 'ERR_INVALID_ARG_TYPE');
  }
  const now = checkClock(options.now);
  const pollMinMs = checkPositiveMs(options.pollMinMs, 'pollMinMs', 5);
  const pollMaxMs = checkPositiveMs(options.pollMaxMs, 'pollMaxMs', 100);
  if (pollMaxMs < pollMinMs) throw invalidArgument('pollMaxMs must be >= pollMinMs');
  const { database: db } = options;
  const { tables, busy } = openSchema(db, options);
  const closing = new AbortController();

  const select = db.prepare(`SELECT owner, expires_at FROM ${tables.locks} WHERE name = ?`);
  const upsert = db.prepare(
    `INSERT INTO ${tables.locks} (name, owner, acquired_at, expires_at) VALUES (?, ?, ?, ?)
     ON CONFLICT (name) DO UPDATE SET
       owner = excluded.owner, acquired_at = excluded.acquired_at, expires_at = excluded.expires_at`,
  );
  const extend = db.prepare(
    `UPDATE ${tables.locks} SET expires_at = ? WHERE name = ? AND owner = ? AND expires_at > ?`,
  );
  const remove = db.prepare(`DELETE FROM ${tables.locks} WHERE name = ? AND owner = ?`);

  // Synchronous from BEGIN IMMEDIATE to COMMIT: the write lock is held for microseconds.
  const take = db.transaction((name: string, owner: string, ttlMs: number): Lease | number => {
    const at = now();
    const row = select.get(name) as { owner: unknown; expires_at: unknown } | undefined;
    const holderExpiresAt = Number(toNumber(row?.expires_at));
    if (row !== undefined && holderExpiresAt > at) return holderExpiresAt;
    upsert.run(name, owner, at, at + ttlMs);
    return Object.freeze({ name, owner, expiresAt: at + ttlMs });
  });

  return {
    async acquire(name: string, acquireOptions: AcquireOptions): Promise<Lease> {
      checkAcquire(name, acquireOptions);
      const { ttlMs, waitMs, signal: userSignal } = acquireOptions;
      const signal =
        userSignal === undefined ? closing.signal : AbortSignal.any([userSignal, closing.signal]);
      const owner = randomUUID();
      const deadline = performance.now() + waitMs;
      let pause = pollMinMs;
      for (;;) {
        if (signal.aborted) throw signal.reason;
        const result = await withBusyRetry('lock acquire', busy.busyWaitMs, () =>
          take.immediate(name, owner, ttlMs),
        );
        if (typeof result !== 'number') return result;
        const remaining = deadline - performance.now();
        if (remaining <= 0) throw lockTimeout(name, waitMs);
        const untilExpiry = Math.max(0, result - now()) + EXPIRY_SLACK_MS;
        await sleep(Math.min(remaining, untilExpiry, pause * (0.5 + Math.random() / 2)), signal);
        pause = Math.min(pause * 2, pollMaxMs);
      }
    },

    async renew(lease: Lease, ttlMs: number): Promise<boolean> {
      checkLease(lease);
      checkTtl(ttlMs);
      const changes = await withBusyRetry('lock renew', busy.busyWaitMs, () => {
        const at = now();
        return extend.run(at + ttlMs, lease.name, lease.owner, at).changes;
      });
      return changes === 1;
    },

    async release(lease: Lease): Promise<void> {
      checkLease(lease);
      await withBusyRetry('lock release', busy.busyWaitMs, () => remove.run(lease.name, lease.owner));
    },

    async close(): Promise<void> {
      closing.abort(lockClosed());
    },
  };
}
