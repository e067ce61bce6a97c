import { randomUUID } from 'node:crypto';
import { invalidArgument } from '../errors.js';
import { createBatchedReads, createRereads } from '../store/postgres-batches.js';
import {
  checkPool,
  type PostgresLocation,
  type PostgresPool,
  postgresFailed,
  run,
  tablesFor,
  toNumber,
} from '../store/postgres-pool.js';
import { createReleaseListener, LISTENER_TAG, type ReleaseListener } from './postgres-listener.js';
import type { AcquireOptions, Lease, Lock } from './types.js';
import {
  checkAcquire,
  checkClock,
  checkLease,
  checkName,
  checkTtl,
  createScopes,
  type GuardedReads,
  lockTimeout,
} from './wait.js';

/** Options of {@link createPostgresLock}. */
export interface PostgresLockOptions extends PostgresLocation {
  /** Your `pg.Pool`: each acquire, renew and release is one short statement on it. */
  pool: PostgresPool;
  /**
   * Where waiters hear releases: a pool to check one dedicated connection out of, which then runs
   * `LISTEN` while anyone waits (and a few seconds after). Default: `pool`. Behind PgBouncer in
   * transaction pooling mode LISTEN does not work: pass a small pool connected to PostgreSQL
   * directly, or `false` to poll (capped backoff with jitter, never past the holder's expiry).
   */
  listen?: PostgresPool | false;
  /**
   * The holder's clock (epoch ms), used only for {@link Lease.expiresAt}, the holder's own estimate.
   * Whether a lease has run out is judged by the server's clock alone. Default `Date.now`.
   */
  now?: () => number;
  /** The first pause of a polling waiter (ms). Default 10. */
  pollMinMs?: number;
  /** The longest pause of a polling waiter (ms). Default 250. */
  pollMaxMs?: number;
  /**
   * While listening, the longest a waiter sleeps before looking again anyway (ms): a safety net for
   * a release unheard because the listening connection died without a word. Default 1000.
   */
  recheckMs?: number;
}

/** How long past a holder's expiry a waiter looks again, so that its look finds the lease run out. */
const EXPIRY_SLACK_MS = 2;
/** A NOTIFY payload holds under 8000 bytes; lock names are chain keys, far shorter. */
const MAX_NAME_BYTES = 4000;

/**
 * Lock attempts run at once, each a statement for one attempt or up to ATTEMPT_BATCH asked meanwhile
 * (sized like the store's reads, see READ_STATEMENTS in store/postgres.ts).
 */
const ATTEMPT_STATEMENTS = 4;
const ATTEMPT_BATCH = 16;

function checkMs(value: unknown, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    throw invalidArgument(`${name} must be a number > 0`);
  }
  return value;
}

/**
 * A lock on PostgreSQL: one lease row per name, `(name, owner, acquired_at, expires_at)`, judged by
 * the server's clock only (`clock_timestamp()`), never a worker's. Each call is one statement on a
 * pooled connection, so it works through PgBouncer in transaction pooling mode and holds no
 * connection between calls:
 *
 * - acquire: `INSERT … ON CONFLICT (name) DO UPDATE SET owner = …, expires_at = now + ttl WHERE
 *   expires_at <= now`, which also returns the holder's remaining time when the lock is held;
 * - renew: `UPDATE … WHERE name = $1 AND owner = $2 AND expires_at > now`;
 * - release: `DELETE … WHERE name = $1 AND owner = $2`, with `pg_notify` in the same statement
 *   (committed without waiting for the WAL flush: a release lost in a crash is a lease that runs
 *   out).
 *
 * A holder whose process or connection dies, or that stalls past its lease, blocks the others until
 * the lease runs out, no longer; its later renew returns `false` and its release deletes nothing.
 * Waiters hold no connection: they sleep until a NOTIFY of a release (heard on one shared LISTEN
 * connection per lock, see `listen`), the holder's expiry as the server reported it, `recheckMs`,
 * or the end of their wait. The lock of a `createPostgresStore` also hears the store's commits: its
 * compare-and-set notifies the chain's refresh lock name, and `wait` returns on it even while the
 * lease is held, so a waiter re-reads the holder's pair at once. Without a listening connection they poll with capped backoff and
 * jitter, never sleeping past the holder's expiry. The table is created by `migrate`.
 *
 * @example
 * const lock = createPostgresLock({ pool }); // or store.lock of createPostgresStore
 * @throws TypeError (`ERR_INVALID_ARG_TYPE` / `ERR_INVALID_ARG_VALUE`) for invalid options.
 */
export function createPostgresLock(options: PostgresLockOptions): Lock {
  return createPairedPostgresLock(options).lock;
}

/**
 * What the store's compare-and-set needs to release a lease of its own lock in the same statement.
 * @internal
 */
export interface PairedLeases {
  /** The lock's table. */
  table: string;
  /** Whether this lock gave out `lease`. */
  owns(lease: Lease): boolean;
  /** The store deleted `lease` with a commit: its release has nothing left to do. */
  releasedWithCommit(lease: Lease): void;
}

/**
 * The lock and its listener, for the PostgreSQL store it belongs to: the store's compare-and-set
 * notifies the lock's channel, and a waiter woken by that message re-reads the record on the
 * listening connection (`listener.takeHeard` / `listener.query`).
 * @internal
 */
export function createPairedPostgresLock(
  options: PostgresLockOptions,
  /** Called each time the listening connection starts listening (the store loads its message key). */
  onListening?: () => void,
  /** The store's reads, for an attempt that follows one (see `acquire`). */
  reads?: GuardedReads,
): {
  lock: Lock;
  listener: ReleaseListener;
  leases: PairedLeases;
} {
  if (options === null || typeof options !== 'object') {
    throw invalidArgument('options must be an object with a pool', 'ERR_INVALID_ARG_TYPE');
  }
  const pool = checkPool(options.pool);
  const listenPool = options.listen === false ? undefined : checkPool(options.listen ?? pool, 'listen');
  const now = checkClock(options.now);
  const pollMinMs = checkMs(options.pollMinMs, 'pollMinMs', 10);
  const pollMaxMs = checkMs(options.pollMaxMs, 'pollMaxMs', 250);
  if (pollMaxMs < pollMinMs) throw invalidArgument('pollMaxMs must be >= pollMinMs');
  const recheckMs = checkMs(options.recheckMs, 'recheckMs', 1_000);
  const { locks: table, channel } = tablesFor(options);
  // What a commit's message carries is kept for a name this process found held (its caller is about
  // to wait on it: `tried`, below) or whose record it read and may be about to try (`reads`).
  const listener = createReleaseListener(
    listenPool,
    channel,
    (name) => tried.has(name) || reads?.has(name) === true,
    onListening,
  );
  const { scoped, closeScopes } = createScopes();

  const ttl = `$3::float8 * interval '1 millisecond'`;
  // Takes free or run-out leases, many attempts at once ($1 names, $2 owners, $3 TTLs in ms); for
  // each attempt that failed, reports how long the holder has left, by the server's clock. A name
  // asked for twice goes to one owner. ON CONFLICT DO UPDATE would lock a held row even when its
  // WHERE fails: a transaction id, WAL and a flushed commit for every failed attempt. DO NOTHING
  // plus an UPDATE of a run-out lease writes nothing when the lock is held.
  const acquireSql = `WITH wanted AS (
      SELECT * FROM unnest($1::text[], $2::text[], $3::float8[]) AS w(name, owner, ttl_ms)
    ), taken AS (
      INSERT INTO ${table} (name, owner, acquired_at, expires_at)
      SELECT DISTINCT ON (name) name, owner, clock_timestamp(), clock_timestamp() + ttl_ms * interval '1 millisecond'
        FROM wanted
      ON CONFLICT (name) DO NOTHING
      RETURNING name, owner
    ), retaken AS (
      UPDATE ${table} AS l SET owner = w.owner, acquired_at = clock_timestamp(),
        expires_at = clock_timestamp() + w.ttl_ms * interval '1 millisecond'
      FROM wanted w
      WHERE l.name = w.name AND l.expires_at <= clock_timestamp()
      RETURNING l.name, l.owner
    )
    SELECT w.owner,
      EXISTS (SELECT 1 FROM taken t WHERE t.name = w.name AND t.owner = w.owner)
        OR EXISTS (SELECT 1 FROM retaken r WHERE r.name = w.name AND r.owner = w.owner) AS taken,
      (SELECT extract(epoch FROM h.expires_at - clock_timestamp())::float8 * 1000
         FROM ${table} h WHERE h.name = w.name) AS holder_remaining_ms
    FROM wanted w`;
  const renewSql = `UPDATE ${table} SET expires_at = clock_timestamp() + ${ttl}
    WHERE name = $1 AND owner = $2 AND expires_at > clock_timestamp()`;
  const holderSql = `SELECT extract(epoch FROM expires_at - clock_timestamp())::float8 * 1000 AS holder_remaining_ms
    FROM ${table} WHERE name = $1`;
  // A waiter's look at the lease goes on the listening connection, batched with the other waiters'
  // looks meanwhile (when the connection comes up, every waiter looks at once): through the pool it
  // queued behind every statement of a busy process (2 s in a storm run) while the commit it waited
  // for had already been heard.
  const looks = createRereads(
    (names) =>
      listener.query(
        `${LISTENER_TAG} SELECT name, extract(epoch FROM expires_at - clock_timestamp())::float8 * 1000 AS holder_remaining_ms
          FROM ${table} WHERE name = ANY($1::text[])`,
        [names],
      ),
    { keyOf: (row) => row.name },
  );
  const look = async (name: string): Promise<unknown> => {
    const batched = await looks.read(name);
    if (batched !== undefined) return batched.row?.holder_remaining_ms;
    return (await run(pool, 'lock wait', holderSql, [name])).rows[0]?.holder_remaining_ms;
  };
  // PostgreSQL lets one notifying transaction commit at a time, cluster-wide, and holds that turn
  // through the commit's WAL flush. A release need not be durable (a release lost in a crash is a
  // lease that runs out), so it commits without waiting for the flush and keeps its turn short: the
  // turn then goes to the compare-and-sets that notify, which must be durable.
  const releaseSql = `WITH released AS (DELETE FROM ${table} WHERE name = $1 AND owner = $2 RETURNING name)
    SELECT pg_notify($3, name), set_config('synchronous_commit', 'off', true) FROM released`;

  // When this process last tried each lock and found it held (performance.now(), as the attempt was
  // sent): a message about the name after that means the holder committed or released meanwhile.
  // The holder's remaining time it was answered with comes along.
  const tried = new Map<string, { sentAt: number; holderRemainingMs: number | undefined }>();
  // The leases this lock gave out, and those the store's compare-and-set released along with the
  // commit (see `PairedLeases`): their release sends nothing.
  const issued = new WeakSet<Lease>();
  const releasedWithCommit = new WeakSet<Lease>();
  // Attempts go out like the store's reads: a lone one at once, and in a burst (every chain due at
  // once: each process tries every lock) those asked for meanwhile together, one statement each
  // (8,000 statements became about 500 in the storm benchmark). Keyed by owner, unique per call.
  const asked = new Map<string, { name: string; ttlMs: number }>();
  const attempts = createBatchedReads(
    (owners) => {
      const wanted = owners.map((owner) => asked.get(owner) as { name: string; ttlMs: number });
      return pool.query(acquireSql, [wanted.map((w) => w.name), owners, wanted.map((w) => w.ttlMs)]);
    },
    { concurrency: ATTEMPT_STATEMENTS, maxBatch: ATTEMPT_BATCH, keyOf: (row) => row.owner },
  );
  const attempt = async (name: string, owner: string, ttlMs: number) => {
    // Both taken as the attempt is asked for, before it is sent: a message heard after `sentAt` is
    // then surely after the attempt, and the lease's `expiresAt` is an estimate on the early side.
    const startedAt = now();
    const sentAt = performance.now();
    asked.set(owner, { name, ttlMs });
    let row: Record<string, unknown>;
    try {
      row = (await attempts.read(owner)).row ?? {};
    } catch (error) {
      throw postgresFailed('lock acquire', error, name);
    } finally {
      asked.delete(owner);
    }
    if (row.taken === true) {
      tried.delete(name);
      const lease = Object.freeze({ name, owner, expiresAt: startedAt + ttlMs });
      issued.add(lease);
      return { lease };
    }
    const remaining = toNumber(row.holder_remaining_ms);
    const holderRemainingMs = typeof remaining === 'number' ? Math.max(0, remaining) : undefined;
    if (tried.size >= 10_000) tried.clear();
    tried.set(name, { sentAt, holderRemainingMs });
    return { holderRemainingMs };
  };

  const lock: Lock = {
    async acquire(name: string, acquireOptions: AcquireOptions): Promise<Lease> {
      checkAcquire(name, acquireOptions);
      if (Buffer.byteLength(name) > MAX_NAME_BYTES) {
        throw invalidArgument(`a lock name must be at most ${MAX_NAME_BYTES} bytes`);
      }
      const { ttlMs, waitMs, signal: userSignal } = acquireOptions;
      return scoped(userSignal, async (scope) => {
        if (scope.aborted) throw scope.reason;
        const owner = randomUUID();
        const deadline = performance.now() + waitMs;
        // A try that follows the caller's read of the record, after this process heard a commit or
        // release of the name: what the caller read is out of date. It answers "held", as if it had
        // found the holder, and the wait that follows returns at once to the caller's re-read (of
        // the record the message carried). In a storm a process that falls behind would otherwise
        // take the lock after the holder's commit freed it, and hold it, with its peers waiting,
        // only to find the new pair; it sends no statement now.
        const readAt = waitMs === 0 ? reads?.take(name) : undefined;
        if (readAt !== undefined && listener.heardSince(name, readAt)) {
          if (tried.size >= 10_000) tried.clear();
          tried.set(name, { sentAt: readAt, holderRemainingMs: undefined });
          throw lockTimeout(name, waitMs);
        }
        // An uncontended acquire is one statement; a waiter watches for releases before looking again.
        const first = await attempt(name, owner, ttlMs);
        if (first.lease !== undefined) return first.lease;
        if (waitMs === 0) throw lockTimeout(name, waitMs);
        const watch = listener.watch(name);
        let pause = pollMinMs;
        try {
          for (;;) {
            if (scope.aborted) throw scope.reason;
            watch.arm();
            const result = await attempt(name, owner, ttlMs);
            if (result.lease !== undefined) return result.lease;
            const remaining = deadline - performance.now();
            if (remaining <= 0) throw lockTimeout(name, waitMs);
            let ms = Math.min(
              remaining,
              result.holderRemainingMs === undefined ? pollMaxMs : result.holderRemainingMs + EXPIRY_SLACK_MS,
            );
            if (listener.listening) ms = Math.min(ms, recheckMs);
            else {
              ms = Math.min(ms, pause * (0.5 + Math.random() / 2));
              pause = Math.min(pause * 2, pollMaxMs);
            }
            await watch.sleep(ms, scope);
          }
        } finally {
          watch.stop();
        }
      });
    },

    async wait(name: string, waitOptions: { waitMs: number; signal?: AbortSignal }): Promise<void> {
      checkName(name);
      const { waitMs, signal: userSignal } = waitOptions;
      return scoped(userSignal, async (scope) => {
        const deadline = performance.now() + waitMs;
        const failed = tried.get(name);
        tried.delete(name);
        const watch = listener.watch(name);
        // Listening since before that attempt was sent: a commit or release after it is a message
        // this process hears, so the attempt's answer stands in for a first look. Sparing that
        // statement matters in a storm, where it queues for a pooled connection.
        const since = listener.listeningSince;
        let known =
          failed !== undefined && since !== undefined && since <= failed.sentAt
            ? failed.holderRemainingMs
            : undefined;
        let pause = pollMinMs;
        try {
          for (;;) {
            if (scope.aborted) throw scope.reason;
            watch.arm();
            // The holder committed or released after this process found the lock held, before this
            // wait started watching: the caller re-reads now rather than at the next message.
            if (failed !== undefined && listener.heardSince(name, failed.sentAt)) return;
            const holderMs = known ?? toNumber(await look(name));
            known = undefined;
            if (typeof holderMs !== 'number' || holderMs <= 0) return;
            const remaining = deadline - performance.now();
            if (remaining <= 0) throw lockTimeout(name, waitMs);
            let ms = Math.min(remaining, holderMs + EXPIRY_SLACK_MS);
            if (listener.listening) ms = Math.min(ms, recheckMs);
            else {
              ms = Math.min(ms, pause * (0.5 + Math.random() / 2));
              pause = Math.min(pause * 2, pollMaxMs);
            }
            // A message about this name (the holder's release, or its commit to the chain when the
            // store notifies) ends the wait: the caller re-reads what it waits for, even if the lease
            // is still held. The connection coming up or going down wakes every waiter to look again
            // (a message may have gone unheard), so a reconnect never strands one.
            if ((await watch.sleep(ms, scope)) === 'heard') return;
          }
        } finally {
          watch.stop();
        }
      });
    },

    async renew(lease: Lease, ttlMs: number): Promise<boolean> {
      checkLease(lease);
      checkTtl(ttlMs);
      const { rowCount } = await run(pool, 'lock renew', renewSql, [lease.name, lease.owner, ttlMs]);
      return rowCount === 1;
    },

    async release(lease: Lease): Promise<void> {
      checkLease(lease);
      if (releasedWithCommit.has(lease)) {
        releasedWithCommit.delete(lease);
        return;
      }
      // Through the pool, not on the listening connection: a release waits for PostgreSQL's notify
      // turn behind the compare-and-sets' commits, and the woken waiters' re-reads must not queue
      // behind it there. Waiters wake at the commit; the release matters to the holder and to
      // waiters of a holder that stored nothing.
      const values = [lease.name, lease.owner, channel];
      await run(pool, 'lock release', releaseSql, values);
    },

    async close(): Promise<void> {
      closeScopes();
      looks.clear();
      listener.close();
    },
  };
  const leases: PairedLeases = {
    table,
    owns: (lease) => issued.has(lease),
    releasedWithCommit: (lease) => {
      releasedWithCommit.add(lease);
    },
  };
  return { lock, listener, leases };
}
