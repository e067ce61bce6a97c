import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createPostgresLock, createPostgresStore, migrate, SCHEMA_VERSION } from '../src/postgres.js';
import { describeLock } from '../src/testing/lock-suite.js';
import { describeTokenStore } from '../src/testing/store-suite.js';
import {
  assertPgBouncer,
  createTestDatabase,
  listeners,
  PGBOUNCER_PORT,
  type TestDatabase,
  type TestPool,
  until,
  within,
} from './helpers/postgres.js';

// Everything here goes through PgBouncer in transaction pooling mode (scripts/services.sh starts
// it): consecutive statements of one pool connection may run on different server connections, and
// session state (SET, session advisory locks, LISTEN) does not carry over.
let db: TestDatabase;
let bouncerA: TestPool;
let bouncerB: TestPool;
/** A direct connection for LISTEN, which PgBouncer's transaction pooling cannot carry. */
let direct: TestPool;

beforeAll(async () => {
  await assertPgBouncer();
  db = await createTestDatabase('bouncer');
  bouncerA = db.pool({ label: 'bouncer_a', port: PGBOUNCER_PORT });
  bouncerB = db.pool({ label: 'bouncer_b', port: PGBOUNCER_PORT });
  direct = db.pool({ label: 'direct', max: 2 });
});
afterAll(async () => {
  await db?.drop();
});

/** A fresh schema migrated through PgBouncer; dropped after the test. */
async function freshSchema(): Promise<{ schema: string; cleanup: () => Promise<void> }> {
  const schema = db.schema();
  await migrate(bouncerA, { schema });
  return { schema, cleanup: () => db.dropSchema(schema) };
}

describeTokenStore(
  { describe, test },
  {
    name: 'postgres through PgBouncer (transaction pooling, lock polling)',
    async create() {
      const { schema, cleanup } = await freshSchema();
      return {
        store: createPostgresStore({ pool: bouncerA, schema, listen: false }),
        peer: createPostgresStore({ pool: bouncerB, schema, listen: false }),
        cleanup,
      };
    },
  },
);

for (const listen of ['polling', 'LISTEN on a direct connection'] as const) {
  describeLock(
    { describe, test },
    {
      name: `postgres through PgBouncer (transaction pooling, ${listen})`,
      async create() {
        const { schema, cleanup } = await freshSchema();
        const options = { schema, listen: listen === 'polling' ? (false as const) : direct };
        return {
          lock: createPostgresLock({ pool: bouncerA, ...options }),
          peer: createPostgresLock({ pool: bouncerB, ...options }),
          cleanup,
        };
      },
    },
  );
}

describe('PostgreSQL adapters through PgBouncer', () => {
  test('concurrent migrations through PgBouncer apply each version once', async () => {
    const schema = db.schema();
    try {
      const results = await Promise.all(
        Array.from({ length: 6 }, (_, i) => migrate(i % 2 === 0 ? bouncerA : bouncerB, { schema })),
      );
      expect(results).toEqual(Array(6).fill(SCHEMA_VERSION));
      const { rows } = await direct.query(
        `SELECT version, count(*)::int AS n FROM "${schema}".slack_rotator_schema_migrations GROUP BY version ORDER BY version`,
      );
      expect(rows).toEqual(Array.from({ length: SCHEMA_VERSION }, (_, i) => ({ version: i + 1, n: 1 })));
    } finally {
      await db.dropSchema(schema);
    }
  });

  test('statements through PgBouncer, LISTEN direct: a release through PgBouncer wakes the waiter by NOTIFY', async () => {
    const { schema, cleanup } = await freshSchema();
    const slow = { pollMinMs: 600_000, pollMaxMs: 600_000, recheckMs: 600_000 };
    const holder = createPostgresLock({ pool: bouncerA, schema, listen: false, ...slow });
    const waiter = createPostgresLock({ pool: bouncerB, schema, listen: direct, ...slow });
    try {
      const held = await holder.acquire('k', { ttlMs: 600_000, waitMs: 0 });
      const waiting = waiter.acquire('k', { ttlMs: 600_000, waitMs: 600_000 });
      await until(async () => (await listeners(db.admin, direct.applicationName)).length === 1, 'it listens');
      await holder.release(held);
      const lease = await within(waiting, 20_000, 'the release did not wake the waiter');
      expect(lease.owner).not.toBe(held.owner);
    } finally {
      await Promise.all([holder.close?.(), waiter.close?.()]);
      await cleanup();
    }
  });
});
