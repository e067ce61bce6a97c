import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createPostgresStore, migrate, type PostgresPool } from '../src/postgres.js';
import { BASE_AT, sampleRecord } from '../src/testing/store-fixtures.js';
import {
  assertPgBouncer,
  createTestDatabase,
  PGBOUNCER_PORT,
  type SentQuery,
  type TestDatabase,
  type TestPool,
  wrapPool,
} from './helpers/postgres.js';

// The adapters' statements go out named (prepared once per connection) unless `prepare: false`;
// what a named statement can run into: a migration that changes `SELECT *`'s columns, and PgBouncer
// in transaction pooling mode moving a connection to a server that never saw the name.
let db: TestDatabase;

beforeAll(async () => {
  await assertPgBouncer();
  db = await createTestDatabase('prepared');
});
afterAll(async () => {
  await db?.drop();
});

/** `pool`, recording each statement as it was asked for. */
function recorded(pool: PostgresPool): { pool: PostgresPool; sent: SentQuery[] } {
  const sent: SentQuery[] = [];
  return {
    sent,
    pool: wrapPool(pool, (query, send) => {
      sent.push(query);
      return send();
    }),
  };
}

/** The statements prepared on the one connection of `pool` (max 1), with how often each ran. */
async function prepared(pool: TestPool): Promise<{ name: string; statement: string; runs: number }[]> {
  const { rows } = await pool.query(
    `SELECT name, statement, (generic_plans + custom_plans)::int AS runs FROM pg_prepared_statements
      WHERE name LIKE 'sr\\_%' ORDER BY name`,
  );
  return rows as { name: string; statement: string; runs: number }[];
}

/** A test on its own schema, through one direct connection (so `pg_prepared_statements` sees its statements). */
async function withSchema(
  label: string,
  body: (pool: TestPool, schema: string) => Promise<void>,
): Promise<void> {
  const schema = db.schema();
  const pool = db.pool({ label, max: 1 });
  await migrate(pool, { schema });
  try {
    await body(pool, schema);
  } finally {
    await db.dropSchema(schema);
  }
}

describe('named statements (prepare)', () => {
  test('by default a lone read is prepared once per connection and run by name after that; the rest goes as text', async () => {
    await withSchema('one', async (pool, schema) => {
      const { pool: watched, sent } = recorded(pool);
      const store = createPostgresStore({ pool: watched, schema, listen: false });
      const record = await store.put(sampleRecord('T0000001'));
      const other = await store.put(sampleRecord('T0000011'));
      for (let i = 0; i < 3; i++) expect((await store.get(record.chainKey))?.version).toBe(1);
      // Two at once: one batch, `= ANY($1)`.
      const both = await Promise.all([store.get(record.chainKey), store.get(other.chainKey)]);
      expect(both.map((r) => r?.chainKey)).toEqual([record.chainKey, other.chainKey]);
      const next = await store.compareAndSet(record.chainKey, 1, {
        accessToken: 'xoxe.xoxb-next',
        updatedAt: BASE_AT + 1_000,
      });
      expect(next?.version).toBe(2);
      const lease = await store.lock.acquire('refresh:one', { ttlMs: 10_000, waitMs: 0 });
      expect(await store.lock.renew(lease, 10_000)).toBe(true);
      await store.lock.release(lease);

      const namedAs = (part: string) =>
        sent.filter((query) => query.text.includes(part)).map((query) => query.name !== undefined);
      expect(namedAs('WHERE chain_key = $1'), 'a lone read, by name').toEqual([true, true, true]);
      expect(namedAs('chain_key = ANY'), 'a batch, as text').toEqual([false]);
      expect(namedAs('INSERT INTO'), 'put and the lock attempt, as text').toEqual([false, false, false]);
      expect(namedAs('version = version + 1'), 'compare-and-set, as text').toEqual([false]);
      expect(namedAs('SET expires_at'), 'renew, as text').toEqual([false]);
      expect(namedAs('DELETE FROM'), 'release, as text').toEqual([false]);

      const statements = await prepared(pool);
      const reads = statements.filter((s) => s.statement.includes('WHERE chain_key = $1'));
      expect(
        reads.map((s) => s.runs),
        'one read statement, run three times',
      ).toEqual([3]);
      // No text was prepared twice.
      expect(new Set(statements.map((s) => s.statement)).size).toBe(statements.length);
      await store.close();
    });
  });

  test('a lone read prepared on an empty table still looks rows up by key once the table has grown; batches are never prepared', async () => {
    await withSchema('grown', async (pool, schema) => {
      const store = createPostgresStore({ pool, schema, listen: false });
      // Past PostgreSQL's five custom plans: the sixth run settles on a plan made for this (empty,
      // never analyzed) table, kept for every later run.
      for (let i = 0; i < 8; i++) expect(await store.get(`A1:T${i}:bot`)).toBeUndefined();
      await Promise.all([store.get('A1:T1:bot'), store.get('A1:T2:bot')]);
      await db.admin.query(
        `INSERT INTO "${schema}".slack_rotator_chains (chain_key, client_id, installation_id, is_enterprise_install,
         kind, scopes, access_token, refresh_token, expires_at, version, status, created_at, updated_at)
       SELECT 'A1:G' || i || ':bot', 'A1', 'G' || i, false, 'bot', '{}', 'a', 'r', 1, 1, 'active', 1, 1
         FROM generate_series(1, 5000) AS i`,
      );
      const statements = await prepared(pool);
      expect(statements.filter((s) => /= ANY|unnest/.test(s.statement))).toEqual([]);
      const read = statements.find((s) => s.statement.includes('WHERE chain_key = $1'));
      expect(read?.runs).toBeGreaterThanOrEqual(8);
      const { rows } = await pool.query(`EXPLAIN EXECUTE ${read?.name}('A1:G7:bot')`);
      expect(rows.map((row) => row['QUERY PLAN']).join('\n')).toMatch(/Index Scan/);
      await store.close();
    });
  });

  test('prepare: false sends every statement as text, and prepares nothing', async () => {
    await withSchema('plain', async (pool, schema) => {
      const { pool: watched, sent } = recorded(pool);
      const store = createPostgresStore({ pool: watched, schema, listen: false, prepare: false });
      const record = await store.put(sampleRecord('T0000002'));
      await store.get(record.chainKey);

      expect(sent.length).toBeGreaterThan(0);
      expect(sent.filter((query) => query.name !== undefined)).toEqual([]);
      expect(await prepared(pool)).toEqual([]);
      await store.close();
    });
  });

  test('a column added since a statement was prepared: the next call prepares it again and works', async () => {
    await withSchema('altered', async (pool, schema) => {
      const store = createPostgresStore({ pool, schema, listen: false });
      const record = await store.put(sampleRecord('T0000003'));
      expect((await store.get(record.chainKey))?.version).toBe(1);
      // A later migration adds a column: `SELECT *` of the prepared read now has another result
      // type, which PostgreSQL refuses to run ("cached plan must not change result type").
      await db.admin.query(`ALTER TABLE "${schema}".slack_rotator_chains ADD COLUMN later_field integer`);

      const again = await store.get(record.chainKey);
      expect(again?.chainKey).toBe(record.chainKey);
      const next = await store.compareAndSet(record.chainKey, 1, {
        accessToken: 'xoxe.xoxb-next',
        updatedAt: BASE_AT + 1_000,
      });
      expect(next?.version).toBe(2);
      await store.close();
    });
  });

  test('through PgBouncer (transaction pooling), a name missing on the next server turns names off; nothing fails', async () => {
    const schema = db.schema();
    // One client connection through PgBouncer: each statement may run on another server connection.
    const bouncer = db.pool({ label: 'bouncer_one', port: PGBOUNCER_PORT, max: 1 });
    const blocker = db.pool({ label: 'bouncer_blocker', port: PGBOUNCER_PORT, max: 4 });
    await migrate(bouncer, { schema });
    try {
      const { pool: watched, sent } = recorded(bouncer);
      const store = createPostgresStore({ pool: watched, schema, listen: false });
      const record = await store.put(sampleRecord('T0000004'));
      expect((await store.get(record.chainKey))?.version).toBe(1);
      // PgBouncer hands out the server connection used last first: held by others meanwhile, the
      // store's next statements run on servers that never prepared its names.
      const held = Promise.all(Array.from({ length: 4 }, () => blocker.query('SELECT pg_sleep(0.5)')));
      await new Promise((resolve) => setTimeout(resolve, 100));
      for (let i = 0; i < 3; i++) expect((await store.get(record.chainKey))?.version).toBe(1);
      const next = await store.compareAndSet(record.chainKey, 1, {
        accessToken: 'xoxe.xoxb-next',
        updatedAt: BASE_AT + 1_000,
      });
      expect(next?.version).toBe(2);
      await held;

      const reads = sent.filter((query) => query.text.includes('WHERE chain_key = $1'));
      expect(reads[0]?.name, 'the first read went named').toBeDefined();
      const firstPlain = reads.findIndex((query) => query.name === undefined);
      expect(firstPlain, 'a read went again without a name').toBeGreaterThan(0);
      const at = sent.indexOf(reads[firstPlain] as SentQuery);
      expect(sent[at - 1], 'right after it failed named').toBe(reads[firstPlain - 1]);
      expect(
        sent.slice(at).filter((query) => query.name !== undefined),
        'names are off from then on',
      ).toEqual([]);
      await store.close();
    } finally {
      await db.dropSchema(schema);
    }
  });
});
