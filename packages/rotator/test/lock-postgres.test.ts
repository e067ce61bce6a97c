import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { Lease } from '../src/lock/types.js';
import { createPostgresLock, migrate, type PostgresLockOptions } from '../src/postgres.js';
import { describeLock } from '../src/testing/lock-suite.js';
import {
  countingPool,
  createTestDatabase,
  listeners,
  type TestDatabase,
  type TestPool,
  terminate,
  until,
  within,
} from './helpers/postgres.js';

let db: TestDatabase;
let main: TestPool;
let second: TestPool;

beforeAll(async () => {
  db = await createTestDatabase('lock');
  main = db.pool({ label: 'a' });
  second = db.pool({ label: 'b' });
});
afterAll(async () => {
  await db?.drop();
});

const NAME = 'refresh:1111.2222:T0000001:bot';
const DAY_MS = 86_400_000;
/** Longer than any test: a wait, lease or poll of this length never ends inside one. */
const NEVER_MS = 600_000;
const ACQUIRE_MARKER = 'WITH wanted AS';

/** A fresh schema with the tables migrated; dropped after the test. */
async function freshSchema(): Promise<{ schema: string; cleanup: () => Promise<void> }> {
  const schema = db.schema();
  await migrate(main, { schema });
  return { schema, cleanup: () => db.dropSchema(schema) };
}

for (const listen of [undefined, false] as const) {
  describeLock(
    { describe, test },
    {
      name: `postgres (two pools, ${listen === false ? 'polling' : 'LISTEN/NOTIFY'})`,
      async create() {
        const { schema, cleanup } = await freshSchema();
        const options = { schema, ...(listen === undefined ? {} : { listen }) };
        return {
          lock: createPostgresLock({ pool: main, ...options }),
          peer: createPostgresLock({ pool: second, ...options }),
          cleanup,
        };
      },
    },
  );
}

/** Runs `body` with fresh tables and closes the locks it makes. */
async function withLocks(
  body: (
    make: (options: Omit<PostgresLockOptions, 'schema'>) => ReturnType<typeof createPostgresLock>,
    schema: string,
  ) => Promise<void>,
): Promise<void> {
  const { schema, cleanup } = await freshSchema();
  const made: ReturnType<typeof createPostgresLock>[] = [];
  try {
    await body((options) => {
      const lock = createPostgresLock({ schema, ...options });
      made.push(lock);
      return lock;
    }, schema);
  } finally {
    await Promise.all(made.map((lock) => lock.close?.()));
    await cleanup();
  }
}

/** The lease row of a lock name, times as epoch ms of the server's clock. */
async function leaseRow(schema: string, name: string) {
  const { rows } = await main.query(
    `SELECT owner, extract(epoch FROM acquired_at) * 1000 AS acquired_at, extract(epoch FROM expires_at) * 1000 AS expires_at
     FROM "${schema}".slack_rotator_locks WHERE name = $1`,
    [name],
  );
  const row = rows[0] as { owner: string; acquired_at: string; expires_at: string } | undefined;
  return row === undefined
    ? undefined
    : { owner: row.owner, acquiredAt: Number(row.acquired_at), expiresAt: Number(row.expires_at) };
}

/** Tracks whether a promise has settled, without letting a rejection go unhandled. */
function track<T>(promise: Promise<T>): { promise: Promise<T>; settled: () => boolean } {
  let settled = false;
  promise.then(
    () => {
      settled = true;
    },
    () => {
      settled = true;
    },
  );
  return { promise, settled: () => settled };
}

describe('createPostgresLock', () => {
  test('each call is one statement; the lease row is judged by the server: expires_at = acquired_at + ttl', async () => {
    await withLocks(async (make, schema) => {
      const pool = countingPool(main, ACQUIRE_MARKER);
      const lock = make({ pool });
      const lease = await lock.acquire(NAME, { ttlMs: 1_500, waitMs: 0 });
      expect(pool.statements).toHaveLength(1);
      const row = await leaseRow(schema, NAME);
      expect(row?.owner).toBe(lease.owner);
      expect((row?.expiresAt ?? 0) - (row?.acquiredAt ?? 0)).toBeCloseTo(1_500, 0);
      expect(await lock.renew(lease, 60_000)).toBe(true);
      expect(((await leaseRow(schema, NAME))?.expiresAt ?? 0) - (row?.acquiredAt ?? 0)).toBeGreaterThan(
        59_000,
      );
      await lock.release(lease);
      expect(pool.statements).toHaveLength(3);
      expect(await leaseRow(schema, NAME)).toBeUndefined();
      const open = await main.query(
        "SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = $1 AND state LIKE 'idle in transaction%'",
        [main.applicationName],
      );
      expect(open.rows[0]).toEqual({ n: 0 });
    });
  });

  test("a holder whose connections are terminated mid-hold: another acquirer gets the lock when the lease runs out, by the server's clock", async () => {
    await withLocks(async (make, schema) => {
      const holderPool = db.pool({ label: 'holder' });
      const holder = make({ pool: holderPool, listen: false });
      const other = make({ pool: second });
      const lease = await holder.acquire(NAME, { ttlMs: 500, waitMs: 0 });
      const held = await leaseRow(schema, NAME);
      expect(await terminate(db.admin, holderPool.applicationName)).toBeGreaterThan(0);
      const taken = await other.acquire(NAME, { ttlMs: NEVER_MS, waitMs: 30_000 });
      const now = await leaseRow(schema, NAME);
      expect(now?.owner).toBe(taken.owner);
      expect(now?.acquiredAt).toBeGreaterThanOrEqual(held?.expiresAt as number);
      // The old holder's pool reconnects; its lease is gone.
      expect(await holder.renew(lease, NEVER_MS)).toBe(false);
      await holder.release(lease);
      expect((await leaseRow(schema, NAME))?.owner).toBe(taken.owner);
      expect(holderPool.errors.length).toBeGreaterThan(0);
    });
  });

  test('a stalled holder past its lease is taken over; its renew returns false and its release leaves the new holder be', async () => {
    await withLocks(async (make, schema) => {
      const stalled = make({ pool: main });
      const other = make({ pool: second });
      const old = await stalled.acquire(NAME, { ttlMs: 300, waitMs: 0 });
      const current = await other.acquire(NAME, { ttlMs: NEVER_MS, waitMs: 30_000 });
      expect(await stalled.renew(old, NEVER_MS)).toBe(false);
      await stalled.release(old);
      expect((await leaseRow(schema, NAME))?.owner).toBe(current.owner);
      await expect(stalled.acquire(NAME, { ttlMs: 1_000, waitMs: 0 })).rejects.toMatchObject({
        code: 'lock_timeout',
      });
      expect(await other.renew(current, NEVER_MS)).toBe(true);
    });
  });

  test('attempts asked for together share statements: one owner per name, a run-out lease retaken, the rest held', async () => {
    await withLocks(async (make, schema) => {
      const other = make({ pool: second });
      const held = await other.acquire(`${NAME}:held`, { ttlMs: NEVER_MS, waitMs: 0 });
      await other.acquire(`${NAME}:run-out`, { ttlMs: 50, waitMs: 0 });
      await new Promise((resolve) => setTimeout(resolve, 100));
      const pool = countingPool(main, ACQUIRE_MARKER);
      const lock = make({ pool });
      const names = [
        ...Array.from({ length: 120 }, (_, i) => `${NAME}:${i}`),
        `${NAME}:held`,
        `${NAME}:run-out`,
        `${NAME}:twice`,
        `${NAME}:twice`,
      ];
      const results = await Promise.allSettled(
        names.map((name) => lock.acquire(name, { ttlMs: NEVER_MS, waitMs: 0 })),
      );
      expect(pool.statements.length, 'statements for 124 attempts').toBeLessThanOrEqual(
        Math.ceil(124 / 16) + 1,
      );
      const taken = (name: string) =>
        results.filter(
          (r, i) => names[i] === name && r.status === 'fulfilled',
        ) as PromiseFulfilledResult<Lease>[];
      for (let i = 0; i < 120; i++) expect(taken(`${NAME}:${i}`), `${NAME}:${i}`).toHaveLength(1);
      expect(taken(`${NAME}:held`)).toHaveLength(0);
      expect(taken(`${NAME}:run-out`)).toHaveLength(1);
      expect(taken(`${NAME}:twice`), 'one of the two attempts at one name').toHaveLength(1);
      expect(
        results.filter((r) => r.status === 'rejected').map((r) => (r as PromiseRejectedResult).reason.code),
      ).toEqual(['lock_timeout', 'lock_timeout']);
      for (const name of [`${NAME}:7`, `${NAME}:run-out`, `${NAME}:twice`]) {
        expect((await leaseRow(schema, name))?.owner).toBe(taken(name)[0]?.value.owner);
      }
      expect((await leaseRow(schema, `${NAME}:held`))?.owner).toBe(held.owner);
    });
  });

  test("skewed worker clocks do not matter: leases follow the server's clock; expiresAt is the holder's own estimate", async () => {
    await withLocks(async (make) => {
      const ahead = make({ pool: main, now: () => Date.now() + DAY_MS });
      const behind = make({ pool: second, now: () => Date.now() - DAY_MS });
      // Held by a worker a day behind: by a clock-judged lease it ran out a day ago.
      const held = await behind.acquire(`${NAME}:a`, { ttlMs: NEVER_MS, waitMs: 0 });
      expect(held.expiresAt).toBeLessThan(Date.now() - DAY_MS + NEVER_MS + 1_000);
      await expect(ahead.acquire(`${NAME}:a`, { ttlMs: NEVER_MS, waitMs: 0 })).rejects.toMatchObject({
        code: 'lock_timeout',
      });
      // Held by a worker a day ahead: by a clock-judged lease it would last a day.
      const short = await ahead.acquire(`${NAME}:b`, { ttlMs: 200, waitMs: 0 });
      expect(short.expiresAt).toBeGreaterThan(Date.now() + DAY_MS - 1_000);
      const taken = await behind.acquire(`${NAME}:b`, { ttlMs: NEVER_MS, waitMs: 30_000 });
      expect(await ahead.renew(short, NEVER_MS)).toBe(false);
      expect(await behind.renew(taken, NEVER_MS)).toBe(true);
    });
  });

  test('a waiter wakes on the NOTIFY of a release, long before any poll or the lease could have woken it', async () => {
    await withLocks(async (make) => {
      const slow = { pollMinMs: NEVER_MS, pollMaxMs: NEVER_MS, recheckMs: NEVER_MS };
      const holder = make({ pool: main, ...slow });
      const pool = countingPool(second, ACQUIRE_MARKER);
      const waiter = make({ pool, listen: second, ...slow });
      // A first wait starts the waiter's listening connection (it stays a few seconds after).
      const first = await holder.acquire(NAME, { ttlMs: NEVER_MS, waitMs: 0 });
      const warmUp = waiter.acquire(NAME, { ttlMs: NEVER_MS, waitMs: NEVER_MS });
      await until(async () => (await listeners(db.admin, second.applicationName)).length === 1, 'it listens');
      await holder.release(first);
      await waiter.release(await within(warmUp, 20_000, 'the first release did not wake the waiter'));

      const held = await holder.acquire(NAME, { ttlMs: NEVER_MS, waitMs: 0 });
      const before = pool.completed();
      const waiting = track(waiter.acquire(NAME, { ttlMs: NEVER_MS, waitMs: NEVER_MS }));
      // Its first look and its look after it started watching, then it sleeps.
      await until(() => pool.completed() >= before + 2, 'the waiter looked twice');
      await holder.release(held);
      const lease = await within(waiting.promise, 20_000, 'the release did not wake the waiter');
      expect(lease.owner).not.toBe(held.owner);
      expect(pool.completed()).toBe(before + 3);
    });
  });

  test('without a listening connection the same waiter is not woken by a release (it polls)', async () => {
    await withLocks(async (make) => {
      const slow = { pollMinMs: NEVER_MS, pollMaxMs: NEVER_MS, recheckMs: NEVER_MS };
      const holder = make({ pool: main, ...slow });
      const pool = countingPool(second, ACQUIRE_MARKER);
      const waiter = make({ pool, listen: false, ...slow });
      const held = await holder.acquire(NAME, { ttlMs: NEVER_MS, waitMs: 0 });
      const controller = new AbortController();
      const waiting = track(
        waiter.acquire(NAME, { ttlMs: NEVER_MS, waitMs: NEVER_MS, signal: controller.signal }),
      );
      await until(() => pool.completed() >= 2, 'the waiter looked twice');
      await holder.release(held);
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(waiting.settled()).toBe(false);
      controller.abort(new Error('stop'));
      await expect(waiting.promise).rejects.toThrow('stop');
    });
  });

  test('a listening connection that is terminated is replaced, and its waiters still wake on release', async () => {
    await withLocks(async (make) => {
      const slow = { pollMinMs: NEVER_MS, pollMaxMs: NEVER_MS, recheckMs: NEVER_MS };
      const listenPool = db.pool({ label: 'listen' });
      const holder = make({ pool: main, ...slow });
      const waiter = make({ pool: second, listen: listenPool, ...slow });
      const held = await holder.acquire(NAME, { ttlMs: NEVER_MS, waitMs: 0 });
      const waiting = waiter.acquire(NAME, { ttlMs: NEVER_MS, waitMs: NEVER_MS });
      let first: number[] = [];
      await until(async () => {
        first = await listeners(db.admin, listenPool.applicationName);
        return first.length === 1;
      }, 'it listens');
      expect(await terminate(db.admin, listenPool.applicationName)).toBe(1);
      await until(async () => {
        const now = await listeners(db.admin, listenPool.applicationName);
        return now.length === 1 && now[0] !== first[0];
      }, 'it listens on a new connection');
      await holder.release(held);
      const lease = await within(waiting, 20_000, 'the release did not wake the waiter');
      expect(lease.owner).not.toBe(held.owner);
    });
  });

  test('waiters hold no pool connection: with a pool of 2 (one listening), 8 waiters leave room for other queries', async () => {
    await withLocks(async (make) => {
      const small = db.pool({ label: 'small', max: 2 });
      const holder = make({ pool: main });
      const lock = make({ pool: small });
      const held = await holder.acquire(NAME, { ttlMs: NEVER_MS, waitMs: 0 });
      const owners: string[] = [];
      const waiters = Array.from({ length: 8 }, async () => {
        const lease = await lock.acquire(NAME, { ttlMs: NEVER_MS, waitMs: 30_000 });
        owners.push(lease.owner);
        await lock.release(lease);
      });
      await until(async () => (await listeners(db.admin, small.applicationName)).length === 1, 'it listens');
      expect((await small.query('SELECT 42 AS answer')).rows).toEqual([{ answer: 42 }]);
      await holder.release(held);
      await Promise.all(waiters);
      expect(new Set(owners).size).toBe(8);
    });
  });

  test('close rejects a waiter with code closed', async () => {
    await withLocks(async (make) => {
      const lock = make({ pool: main });
      await lock.acquire(NAME, { ttlMs: NEVER_MS, waitMs: 0 });
      const waiting = lock.acquire(NAME, { ttlMs: NEVER_MS, waitMs: NEVER_MS });
      await new Promise((resolve) => setTimeout(resolve, 50));
      await lock.close?.();
      await expect(waiting).rejects.toMatchObject({ code: 'closed' });
    });
  });

  test('validates its options and arguments', async () => {
    expect(() => createPostgresLock({} as never)).toThrow(/^\[slack-rotator\] pool must be a pg Pool/);
    expect(() => createPostgresLock({ pool: main, tablePrefix: 'x; DROP' })).toThrow(/tablePrefix/);
    expect(() => createPostgresLock({ pool: main, pollMinMs: 50, pollMaxMs: 10 })).toThrow(/pollMaxMs/);
    expect(() => createPostgresLock({ pool: main, listen: 'yes' as never })).toThrow(/listen must be/);
    expect(() => createPostgresLock({ pool: main, recheckMs: -1 })).toThrow(/recheckMs/);
    const lock = createPostgresLock({ pool: main });
    await expect(lock.acquire('x'.repeat(5_000), { ttlMs: 1_000, waitMs: 0 })).rejects.toThrow(
      /at most 4000 bytes/,
    );
    await expect(lock.acquire(NAME, { ttlMs: 0, waitMs: 0 })).rejects.toThrow(/ttlMs/);
  });
});
