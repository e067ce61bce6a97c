import pg from 'pg';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import {
  createPostgresStore,
  migrate,
  type PostgresClient,
  type PostgresPool,
  SCHEMA_VERSION,
} from '../src/postgres.js';
import { BASE_AT, sampleRecord } from '../src/testing/store-fixtures.js';
import { describeTokenStore } from '../src/testing/store-suite.js';
import { createTestDatabase, type TestDatabase, type TestPool, wrapPool } from './helpers/postgres.js';
import { assertNoTokens } from './helpers/setup.js';

let db: TestDatabase;
let main: TestPool;
let second: TestPool;

beforeAll(async () => {
  db = await createTestDatabase('store');
  main = db.pool({ label: 'a' });
  second = db.pool({ label: 'b' });
});
afterAll(async () => {
  await db?.drop();
});

describeTokenStore(
  { describe, test },
  {
    name: 'postgres (two pools, a schema per test)',
    async create() {
      const schema = db.schema();
      await migrate(main, { schema });
      return {
        store: createPostgresStore({ pool: main, schema }),
        peer: createPostgresStore({ pool: second, schema }),
        cleanup: () => db.dropSchema(schema),
      };
    },
  },
);

describeTokenStore(
  { describe, test },
  {
    name: 'postgres (search_path schema, table prefix)',
    async create() {
      await migrate(main, { tablePrefix: 'app_' });
      return {
        store: createPostgresStore({ pool: main, tablePrefix: 'app_' }),
        peer: createPostgresStore({ pool: second, tablePrefix: 'app_' }),
        cleanup: async () => {
          await db.admin.query('DROP TABLE app_chains, app_locks, app_schema_migrations');
        },
      };
    },
  },
);

/** A pool that records the SQL and values of every query it runs. */
function recording(pool: PostgresPool): PostgresPool & { queries: { text: string; values: unknown[] }[] } {
  const queries: { text: string; values: unknown[] }[] = [];
  const wrapped = wrapPool(pool, ({ text, values }, send) => {
    queries.push({ text, values: values ?? [] });
    return send();
  });
  return { ...wrapped, queries };
}

describe('createPostgresStore and migrate', () => {
  test('a real pg.Pool and its clients satisfy PostgresPool and PostgresClient', async () => {
    const pool: PostgresPool = main;
    const client: PostgresClient = await main.connect();
    try {
      expect((await client.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
      expect(typeof client.on).toBe('function');
    } finally {
      client.release();
    }
    expect((await pool.query('SELECT $1::int AS n', [2])).rows).toEqual([{ n: 2 }]);
  });

  test('migrate is idempotent: versions, tables and indexes, and a store on top', async () => {
    const schema = db.schema();
    try {
      expect(await migrate(main, { schema })).toBe(SCHEMA_VERSION);
      const keyOf = async () =>
        (await main.query(`SELECT key FROM "${schema}".slack_rotator_message_key`)).rows.map((row) =>
          (row.key as Buffer).toString('hex'),
        );
      const [key] = await keyOf();
      expect(await migrate(second, { schema })).toBe(SCHEMA_VERSION);
      expect(key, 'the key of commit messages: 32 random bytes').toMatch(/^[0-9a-f]{64}$/);
      expect(await keyOf(), 'a second migration keeps the key').toEqual([key]);
      const versions = await main.query(
        `SELECT version FROM "${schema}".slack_rotator_schema_migrations ORDER BY version`,
      );
      expect(versions.rows).toEqual(Array.from({ length: SCHEMA_VERSION }, (_, i) => ({ version: i + 1 })));
      const objects = await main.query(
        `SELECT relname, relkind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE nspname = $1 ORDER BY relname`,
        [schema],
      );
      expect(objects.rows).toEqual([
        { relname: 'slack_rotator_chains', relkind: 'r' },
        { relname: 'slack_rotator_chains_expires_at', relkind: 'i' },
        { relname: 'slack_rotator_chains_installation', relkind: 'i' },
        { relname: 'slack_rotator_chains_pkey', relkind: 'i' },
        { relname: 'slack_rotator_locks', relkind: 'r' },
        { relname: 'slack_rotator_locks_pkey', relkind: 'i' },
        { relname: 'slack_rotator_message_key', relkind: 'r' },
        { relname: 'slack_rotator_message_key_pkey', relkind: 'i' },
        { relname: 'slack_rotator_schema_migrations', relkind: 'r' },
        { relname: 'slack_rotator_schema_migrations_pkey', relkind: 'i' },
      ]);
      const store = createPostgresStore({ pool: second, schema });
      expect((await store.put(sampleRecord())).version).toBe(1);
    } finally {
      await db.dropSchema(schema);
    }
  });

  test('concurrent migrations from two pools (as from two processes) all succeed and apply each version once', async () => {
    for (let round = 0; round < 3; round += 1) {
      const schema = db.schema();
      try {
        const results = await Promise.all(
          Array.from({ length: 6 }, (_, i) => migrate(i % 2 === 0 ? main : second, { schema })),
        );
        expect(results).toEqual(Array(6).fill(SCHEMA_VERSION));
        const versions = await main.query(
          `SELECT version, count(*)::int AS n FROM "${schema}".slack_rotator_schema_migrations GROUP BY version ORDER BY version`,
        );
        expect(versions.rows).toEqual(
          Array.from({ length: SCHEMA_VERSION }, (_, i) => ({ version: i + 1, n: 1 })),
        );
      } finally {
        await db.dropSchema(schema);
      }
    }
  });

  test('migrate refuses a schema newer than it knows, changing nothing', async () => {
    const schema = db.schema();
    try {
      await migrate(main, { schema });
      await main.query(`INSERT INTO "${schema}".slack_rotator_schema_migrations (version) VALUES ($1)`, [
        SCHEMA_VERSION + 1,
      ]);
      await expect(migrate(main, { schema })).rejects.toMatchObject({
        name: 'StorageError',
        code: 'store_failed',
        message: expect.stringMatching(/newer than this slack-rotator knows/),
      });
    } finally {
      await db.dropSchema(schema);
    }
  });

  test('a store whose tables were never migrated fails with store_failed and says to migrate', async () => {
    const store = createPostgresStore({ pool: main, schema: db.schema() });
    await expect(store.get('1111.2222:T1:bot')).rejects.toMatchObject({
      name: 'StorageError',
      code: 'store_failed',
      message: expect.stringMatching(/^\[slack-rotator\] PostgreSQL get failed \(42P01\); run migrate/),
    });
  });

  test('listing by expiry walks the (expires_at, chain_key) index, first page and next', async () => {
    const schema = db.schema();
    try {
      await migrate(main, { schema });
      await main.query(
        `INSERT INTO "${schema}".slack_rotator_chains (chain_key, client_id, installation_id,
           is_enterprise_install, kind, scopes, access_token, refresh_token, expires_at, version, status,
           created_at, updated_at)
         SELECT '1111.2222:T' || i || ':bot', '1111.2222', 'T' || i, false, 'bot', '{}', 'a' || i, 'r' || i,
           $1::float8 + i * 1000, 1, 'active', $1, $1
         FROM generate_series(1, 5000) AS i`,
        [BASE_AT],
      );
      await main.query(`ANALYZE "${schema}".slack_rotator_chains`);
      const pool = recording(main);
      const store = createPostgresStore({ pool, schema });
      const first = await store.list({ expiresBefore: BASE_AT + 2_000_000, limit: 10 });
      expect(first.records).toHaveLength(10);
      await store.list({ expiresBefore: BASE_AT + 2_000_000, limit: 10, cursor: first.cursor as string });
      expect(pool.queries).toHaveLength(2);
      for (const { text, values } of pool.queries) {
        const plan = await main.query(`EXPLAIN ${text}`, values);
        const lines = plan.rows.map((row) => row['QUERY PLAN']).join('\n');
        expect(lines).toMatch(/Index Scan using slack_rotator_chains_expires_at/);
        expect(lines).not.toMatch(/Seq Scan|Sort/);
      }
    } finally {
      await db.dropSchema(schema);
    }
  });

  test('a lone get is one statement; gets asked for together share a few, each answered with its own row', async () => {
    const schema = db.schema();
    await migrate(main, { schema });
    try {
      const writer = createPostgresStore({ pool: main, schema });
      const ids = Array.from({ length: 300 }, (_, i) => `T${String(i).padStart(7, '0')}`);
      const saved = await Promise.all(ids.map((id) => writer.put(sampleRecord(id))));
      const pool = recording(main);
      const store = createPostgresStore({ pool, schema });
      expect(await store.get(saved[7]?.chainKey as string)).toEqual(saved[7]);
      expect(pool.queries.length, 'statements for a lone get').toBe(1);

      pool.queries.length = 0;
      const missing = '1111.2222:T9999999:bot';
      const keys = [...saved.map((record) => record.chainKey), missing, saved[0]?.chainKey as string];
      const found = await Promise.all(keys.map((chainKey) => store.get(chainKey)));
      expect(found).toEqual([...saved, undefined, saved[0]]);
      // Asked for in one run of microtasks: 4 statements at once, then the rest, 16 keys at most each.
      expect(pool.queries.length, 'statements for 302 gets asked for together').toBe(Math.ceil(301 / 16));

      // Asked for while earlier reads run: at most 4 run at once, the rest go 16 at a time after them.
      pool.queries.length = 0;
      const spread: Promise<unknown>[] = [];
      for (const record of saved) {
        spread.push(store.get(record.chainKey));
        await Promise.resolve();
      }
      expect(await Promise.all(spread)).toEqual(saved);
      expect(pool.queries.length, 'statements for 300 gets asked for one by one').toBeLessThanOrEqual(
        4 + Math.ceil(296 / 16),
      );
    } finally {
      await db.dropSchema(schema);
    }
  });

  test('a failed batched read fails each of its gets with store_failed naming that chain; the next get works', async () => {
    const schema = db.schema();
    await migrate(main, { schema });
    try {
      const writer = createPostgresStore({ pool: main, schema });
      const records = await Promise.all(['T0000101', 'T0000102'].map((id) => writer.put(sampleRecord(id))));
      let failing = true;
      const flaky = wrapPool(main, (_, send) =>
        failing
          ? Promise.reject(Object.assign(new Error('terminating connection'), { code: '57P01' }))
          : send(),
      );
      const store = createPostgresStore({ pool: flaky, schema });
      const results = await Promise.allSettled(records.map((record) => store.get(record.chainKey)));
      results.forEach((result, i) => {
        expect(result.status).toBe('rejected');
        expect((result as PromiseRejectedResult).reason).toMatchObject({
          code: 'store_failed',
          chainKey: records[i]?.chainKey,
        });
      });
      failing = false;
      expect(await store.get(records[1]?.chainKey as string)).toEqual(records[1]);
    } finally {
      await db.dropSchema(schema);
    }
  });

  test('recordIntent sets and clears the intent without bumping the version; a CAS clears it too', async () => {
    const schema = db.schema();
    try {
      await migrate(main, { schema });
      const store = createPostgresStore({ pool: main, schema });
      const peer = createPostgresStore({ pool: second, schema });
      const record = sampleRecord();
      await store.put(record);
      const intent = {
        version: 1,
        fingerprint: 'sha256:abc',
        startedAt: BASE_AT + 0.5,
        deadlineAt: BASE_AT + 10,
      };
      expect(await store.recordIntent(record.chainKey, 1, intent)).toBe(true);
      expect(await peer.get(record.chainKey)).toMatchObject({ version: 1, refreshIntent: intent });
      expect(await store.recordIntent(record.chainKey, 2, null)).toBe(false);
      expect(await store.recordIntent('1111.2222:T404:bot', 1, null)).toBe(false);
      const columns = await main.query(
        `SELECT refresh_intent_version, refresh_intent_fingerprint FROM "${schema}".slack_rotator_chains`,
      );
      expect(columns.rows).toEqual([
        { refresh_intent_version: '1', refresh_intent_fingerprint: 'sha256:abc' },
      ]);
      const updated = await peer.compareAndSet(record.chainKey, 1, {
        refreshIntent: null,
        updatedAt: BASE_AT + 1,
      });
      expect(updated).toMatchObject({ version: 2, refreshIntent: null });
      expect(await store.recordIntent(record.chainKey, 1, intent)).toBe(false);
      expect((await store.get(record.chainKey))?.refreshIntent).toBeNull();
    } finally {
      await db.dropSchema(schema);
    }
  });

  test('a stored row that breaks the record contract fails with record_invalid, naming no value', async () => {
    const schema = db.schema();
    try {
      await migrate(main, { schema });
      const store = createPostgresStore({ pool: main, schema });
      const record = sampleRecord();
      await store.put(record);
      const table = `"${schema}".slack_rotator_chains`;
      for (const [column, value, field] of [
        ['status', 'paused', 'status'],
        ['access_token', '', 'accessToken'],
        ['refresh_intent_fingerprint', 'sha256:x', 'refreshIntent'],
        ['kind', 'robot', 'kind'],
      ] as const) {
        const saved = await main.query(`SELECT ${column} AS value FROM ${table}`);
        await main.query(`UPDATE ${table} SET ${column} = $1`, [value]);
        const error = await store.get(record.chainKey).catch((caught: unknown) => caught);
        expect(error, column).toMatchObject({
          name: 'StorageError',
          code: 'record_invalid',
          chainKey: record.chainKey,
          message: `[slack-rotator] the stored record has an invalid ${field}`,
        });
        await expect(store.list()).rejects.toMatchObject({ code: 'record_invalid' });
        await main.query(`UPDATE ${table} SET ${column} = $1`, [saved.rows[0]?.value]);
      }
      expect((await store.get(record.chainKey))?.version).toBe(1);
    } finally {
      await db.dropSchema(schema);
    }
  });

  test('a failing statement fails with store_failed; neither message nor cause holds a token', async () => {
    const schema = db.schema();
    try {
      await migrate(main, { schema });
      const store = createPostgresStore({ pool: main, schema });
      // The server's `detail` of a check violation quotes the whole row, tokens included.
      await main.query(
        `ALTER TABLE "${schema}".slack_rotator_chains ADD CONSTRAINT no_fakes CHECK (refresh_token NOT LIKE 'xoxe-1-fake%')`,
      );
      const record = sampleRecord();
      const error = await store.put(record).catch((caught: unknown) => caught);
      expect(error).toMatchObject({
        name: 'StorageError',
        code: 'store_failed',
        chainKey: record.chainKey,
        message: '[slack-rotator] PostgreSQL put failed (23514)',
      });
      expect((error as Error).cause).toMatchObject({ code: '23514', constraint: 'no_fakes' });
      expect((error as Error).cause).not.toHaveProperty('detail');
      assertNoTokens([], [error]);
      await main.query(`DROP TABLE "${schema}".slack_rotator_chains`);
      await expect(store.list()).rejects.toMatchObject({ code: 'store_failed', message: /\(42P01\)/ });
    } finally {
      await db.dropSchema(schema);
    }
  });

  test('an unreachable server fails with store_failed, keeping the connection error as the cause', async () => {
    const pool = new pg.Pool({
      host: '127.0.0.1',
      port: 1,
      user: 'postgres',
      connectionTimeoutMillis: 2_000,
    });
    try {
      const store = createPostgresStore({ pool, schema: 'x' });
      const error = await store.get('1111.2222:T1:bot').catch((caught: unknown) => caught);
      expect(error).toMatchObject({
        name: 'StorageError',
        code: 'store_failed',
        chainKey: '1111.2222:T1:bot',
      });
      expect((error as Error).cause).toMatchObject({ code: 'ECONNREFUSED' });
      await expect(migrate(pool)).rejects.toMatchObject({ code: 'store_failed' });
    } finally {
      await pool.end();
    }
  });

  test('instants round-trip exactly, fractions and large values included', async () => {
    const schema = db.schema();
    try {
      await migrate(main, { schema });
      const store = createPostgresStore({ pool: main, schema });
      const record = sampleRecord('T0000001', {
        expiresAt: BASE_AT + 0.25,
        refreshedAt: 8_640_000_000_000_000,
      });
      const stored = await store.put(record);
      expect(stored.expiresAt).toBe(BASE_AT + 0.25);
      expect((await store.get(record.chainKey))?.refreshedAt).toBe(8_640_000_000_000_000);
    } finally {
      await db.dropSchema(schema);
    }
  });

  test('validates its options', async () => {
    expect(() => createPostgresStore(undefined as never)).toThrow(/^\[slack-rotator\] options must be/);
    expect(() => createPostgresStore({ pool: {} as never })).toThrow(
      expect.objectContaining({
        code: 'ERR_INVALID_ARG_TYPE',
        message: expect.stringMatching(/pool must be/),
      }),
    );
    expect(() => createPostgresStore({ pool: main, tablePrefix: 'bad-prefix' })).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }),
    );
    expect(() => createPostgresStore({ pool: main, schema: 'x"; DROP' })).toThrow(/schema/);
    expect(() => createPostgresStore({ pool: main, listen: {} as never })).toThrow(/listen must be/);
    expect(() => createPostgresStore({ pool: main, lockPollMinMs: 0 })).toThrow(/pollMinMs/);
    expect(() => createPostgresStore({ pool: main, now: 'x' as never })).toThrow(/now/);
    expect(() => createPostgresStore({ pool: main, prepare: 'yes' as never })).toThrow(
      expect.objectContaining({
        code: 'ERR_INVALID_ARG_TYPE',
        message: expect.stringMatching(/prepare must be/),
      }),
    );
    await expect(migrate({} as never)).rejects.toThrow(/pool must be/);
    await expect(migrate(main, { tablePrefix: 'x y' })).rejects.toThrow(/tablePrefix/);
  });
});
