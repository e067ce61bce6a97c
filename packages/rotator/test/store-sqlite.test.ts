import type { ChildProcess } from 'node:child_process';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { createSqliteStore, migrate, SCHEMA_VERSION, type SqliteDatabase } from '../src/sqlite.js';
import { sampleRecord } from '../src/testing/store-fixtures.js';
import { describeTokenStore } from '../src/testing/store-suite.js';
import {
  exited,
  spawnWorker,
  startTogether,
  type TempDatabase,
  tempDatabase,
} from './fixtures/sqlite-files.js';

describeTokenStore(
  { describe, test },
  {
    name: 'sqlite (two connections to one file)',
    create() {
      const files = tempDatabase();
      return {
        store: createSqliteStore({ database: files.open() }),
        peer: createSqliteStore({ database: files.open() }),
        cleanup: () => files.cleanup(),
      };
    },
  },
);

describeTokenStore(
  { describe, test },
  {
    name: 'sqlite (in memory, table prefix)',
    create() {
      const database = new Database(':memory:');
      return {
        store: createSqliteStore({ database, tablePrefix: 'app_' }),
        cleanup: () => void database.close(),
      };
    },
  },
);

describe('createSqliteStore', () => {
  let files: TempDatabase;
  const children: ChildProcess[] = [];
  beforeEach(() => {
    files = tempDatabase();
  });
  afterEach(async () => {
    for (const child of children.splice(0)) {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited(child);
    }
    files.cleanup();
  });

  test('a real better-sqlite3 Database satisfies SqliteDatabase', () => {
    const database: SqliteDatabase = files.open();
    expect(typeof database.transaction(() => 1).immediate).toBe('function');
  });

  test('sets WAL mode and a short busy_timeout on the connection', () => {
    const database = files.open();
    createSqliteStore({ database });
    expect(database.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(database.pragma('busy_timeout', { simple: true })).toBe(100);
    createSqliteStore({ database, busyTimeoutMs: 20 });
    expect(database.pragma('busy_timeout', { simple: true })).toBe(20);
  });

  test('migrations are idempotent: twice on one connection, and a second store on the same file', async () => {
    const first = files.open();
    expect(migrate(first)).toBe(SCHEMA_VERSION);
    expect(migrate(first)).toBe(SCHEMA_VERSION);
    const store = createSqliteStore({ database: first });
    const record = sampleRecord();
    await store.put(record);
    const second = createSqliteStore({ database: files.open() });
    expect((await second.get(record.chainKey))?.version).toBe(1);
    const versions = first
      .prepare('SELECT version FROM slack_rotator_schema_migrations ORDER BY version')
      .all();
    expect(versions).toEqual(Array.from({ length: SCHEMA_VERSION }, (_, i) => ({ version: i + 1 })));
    const tables = first
      .prepare("SELECT name FROM sqlite_master WHERE type IN ('table', 'index') ORDER BY name")
      .all();
    expect(tables.map((row) => (row as { name: string }).name)).toEqual([
      'slack_rotator_chains',
      'slack_rotator_chains_expires_at',
      'slack_rotator_chains_installation',
      'slack_rotator_locks',
      'slack_rotator_schema_migrations',
      'sqlite_autoindex_slack_rotator_chains_1',
      'sqlite_autoindex_slack_rotator_locks_1',
    ]);
  });

  test('refuses a schema newer than it knows', () => {
    const database = files.open();
    migrate(database);
    database.prepare('INSERT INTO slack_rotator_schema_migrations VALUES (?, ?)').run(SCHEMA_VERSION + 1, 0);
    expect(() => createSqliteStore({ database })).toThrow(
      expect.objectContaining({
        name: 'StorageError',
        code: 'store_failed',
        message: expect.stringMatching(/newer/),
      }),
    );
  });

  test('listing by expiry uses the (expires_at, chain_key) index', () => {
    const database = files.open();
    createSqliteStore({ database });
    const plan = database
      .prepare(
        'EXPLAIN QUERY PLAN SELECT * FROM slack_rotator_chains WHERE expires_at < ? AND (expires_at, chain_key) > (?, ?) ORDER BY expires_at, chain_key LIMIT ?',
      )
      .all(1, 0, '', 10) as { detail: string }[];
    expect(plan.map((row) => row.detail).join('\n')).toMatch(/slack_rotator_chains_expires_at/);
  });

  test('a stored row that breaks the record contract fails with record_invalid, naming no value', async () => {
    const database = files.open();
    const store = createSqliteStore({ database });
    const record = sampleRecord();
    await store.put(record);
    for (const [column, value] of [
      ['scopes', 'not json'],
      ['status', 'paused'],
      ['access_token', ''],
      ['expires_at', 'soon'],
    ] as const) {
      const saved = database.prepare(`SELECT ${column} AS value FROM slack_rotator_chains`).get() as {
        value: unknown;
      };
      database.prepare(`UPDATE slack_rotator_chains SET ${column} = ?`).run(value);
      const error = await store.get(record.chainKey).catch((caught: unknown) => caught);
      expect(error, column).toMatchObject({
        name: 'StorageError',
        code: 'record_invalid',
        chainKey: record.chainKey,
      });
      expect((error as Error).message.includes(record.refreshToken)).toBe(false);
      await expect(store.list()).rejects.toMatchObject({ code: 'record_invalid' });
      database.prepare(`UPDATE slack_rotator_chains SET ${column} = ?`).run(saved.value);
    }
    expect((await store.get(record.chainKey))?.version).toBe(1);
  });

  test('a failing database fails with store_failed, its cause kept and no token in the message', async () => {
    const database = files.open();
    const store = createSqliteStore({ database });
    database.exec('DROP TABLE slack_rotator_chains');
    const record = sampleRecord();
    const error = await store.put(record).catch((caught: unknown) => caught);
    expect(error).toMatchObject({ name: 'StorageError', code: 'store_failed', chainKey: record.chainKey });
    expect((error as Error).cause).toBeInstanceOf(Error);
    expect((error as Error).message).toMatch(/^\[slack-rotator\] SQLite put failed/);
    expect((error as Error).message.includes(record.accessToken)).toBe(false);
    await expect(store.list()).rejects.toMatchObject({ code: 'store_failed' });
  });

  test('a write waits asynchronously while another connection holds the write lock', async () => {
    const store = createSqliteStore({ database: files.open(), busyTimeoutMs: 10 });
    const blocker = files.open();
    blocker.exec('BEGIN IMMEDIATE');
    const writing = store.put(sampleRecord());
    let ticks = 0;
    const ticking = setInterval(() => {
      ticks += 1;
    }, 5);
    await new Promise((resolve) => setTimeout(resolve, 150));
    blocker.exec('COMMIT');
    const stored = await writing;
    clearInterval(ticking);
    expect(stored.version).toBe(1);
    expect(ticks, 'the event loop kept running while the write waited').toBeGreaterThan(0);
  });

  test('works on a connection that returns integers as bigints', async () => {
    const database = files.open();
    database.defaultSafeIntegers(true);
    const store = createSqliteStore({ database });
    const record = sampleRecord();
    await store.put(record);
    const stored = await store.compareAndSet(record.chainKey, 1, { refreshedAt: 5, updatedAt: 6 });
    expect(stored).toMatchObject({ version: 2, expiresAt: record.expiresAt, refreshedAt: 5 });
  });

  test('two OS processes incrementing through read-compareAndSet-retry lose no update', async () => {
    const store = createSqliteStore({ database: files.open() });
    const record = sampleRecord();
    await store.put(record);
    const workers = [1, 2, 3].map(() => spawnWorker('count', files.file, record.chainKey, '40'));
    children.push(...workers);
    await startTogether(workers);
    expect(await Promise.all(workers.map(exited))).toEqual([0, 0, 0]);
    const stored = await store.get(record.chainKey);
    expect(stored?.lastErrorCode).toBe('count:120');
    expect(stored?.version).toBe(121);
  });

  test('validates its options', () => {
    expect(() => createSqliteStore(undefined as never)).toThrow(/^\[slack-rotator\] options must be/);
    expect(() => createSqliteStore({ database: {} as never })).toThrow(
      /database must be a better-sqlite3 Database/,
    );
    const database = files.open();
    expect(() => createSqliteStore({ database, tablePrefix: 'bad-prefix' })).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }),
    );
    expect(() => createSqliteStore({ database, busyWaitMs: 1.5 })).toThrow(/busyWaitMs/);
    expect(() => createSqliteStore({ database, now: 'x' as never })).toThrow(/now/);
  });
});
