/**
 * The same cases against the SQLite, PostgreSQL and Redis server state, each on a real server with
 * its own database file, database or key prefix.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { Redis } from 'ioredis';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  assertPgBouncer,
  createTestDatabase,
  PGBOUNCER_PORT,
  POSTGRES_PORT,
  type TestDatabase,
} from '../../rotator/test/helpers/postgres.js';
import { deletePrefix, openClient, randomPrefix } from '../../rotator/test/helpers/redis.js';
import { createPostgresState, postgresStateMigrated } from '../src/state/postgres.js';
import { createRedisState } from '../src/state/redis.js';
import { createSqliteState } from '../src/state/sqlite.js';
import type { ApiKeyRecord, ServerState } from '../src/types.js';
import { rejection } from './helpers/rejection.js';

/** Two states on one backing system through two separate connections, plus one that can't reach it. */
interface Pair {
  first: ServerState;
  second: ServerState;
  unreachable(): Promise<ServerState>;
  cleanup(): Promise<void>;
}

async function closedPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address !== null ? address.port : 0));
    });
  });
}

let pgDatabase: TestDatabase;
beforeAll(async () => {
  await assertPgBouncer();
  pgDatabase = await createTestDatabase('state');
});
afterAll(async () => {
  await pgDatabase?.drop();
});

/** Each pair gets its own database; both states connect through `port` (PostgreSQL or PgBouncer). */
async function openPostgres(port: number): Promise<Pair> {
  const db = await createTestDatabase('state');
  const lost: pg.Pool[] = [];
  return {
    first: createPostgresState({ pool: db.pool({ label: 'a', port }) }),
    second: createPostgresState({ pool: db.pool({ label: 'b', port }) }),
    async unreachable() {
      const gone = new pg.Pool({ host: '127.0.0.1', port: await closedPort(), user: 'postgres' });
      lost.push(gone);
      return createPostgresState({ pool: gone });
    },
    async cleanup() {
      await Promise.all(lost.map((p) => p.end()));
      await db.drop();
    },
  };
}

const backends: [string, () => Promise<Pair>][] = [
  [
    'sqlite',
    async () => {
      const dir = mkdtempSync(join(tmpdir(), 'slack-rotator-state-'));
      const file = join(dir, 'tokens.db');
      const a = new Database(file);
      const b = new Database(file);
      a.pragma('journal_mode = WAL');
      return {
        first: createSqliteState({ database: a }),
        second: createSqliteState({ database: b }),
        async unreachable() {
          const gone = new Database(join(dir, 'gone.db'));
          gone.close();
          return createSqliteState({ database: gone });
        },
        async cleanup() {
          a.close();
          b.close();
          rmSync(dir, { recursive: true, force: true });
        },
      };
    },
  ],
  ['postgres', () => openPostgres(POSTGRES_PORT)],
  // Transaction pooling: no session state, no named prepared statements may be relied on.
  ['postgres through PgBouncer', () => openPostgres(PGBOUNCER_PORT)],
  [
    'redis',
    async () => {
      const prefix = `${randomPrefix()}:`;
      const a = openClient();
      const b = openClient();
      const lost: Redis[] = [];
      return {
        first: createRedisState({ client: a, prefix }),
        second: createRedisState({ client: b, prefix }),
        async unreachable() {
          const gone = new Redis({ port: await closedPort(), maxRetriesPerRequest: 0, lazyConnect: true });
          gone.on('error', () => undefined);
          gone.connect().catch(() => undefined);
          lost.push(gone);
          return createRedisState({ client: gone, prefix });
        },
        async cleanup() {
          await deletePrefix(a, prefix.slice(0, -1));
          a.disconnect();
          b.disconnect();
          for (const gone of lost) gone.disconnect();
        },
      };
    },
  ],
];

function apiKey(overrides: Partial<ApiKeyRecord> = {}): ApiKeyRecord & { secret: string } {
  const secret = `srk_${randomBytes(32).toString('base64url')}`;
  return {
    id: `key_${randomBytes(6).toString('hex')}`,
    name: 'ci',
    digest: createHash('sha256').update(secret).digest('hex'),
    installations: ['T1', 'A1:T2'],
    createdAt: 1_767_225_600_000,
    revokedAt: null,
    secret,
    ...overrides,
  };
}

const record = ({ secret: _secret, ...rest }: ApiKeyRecord & { secret: string }): ApiKeyRecord => rest;

describe.each(backends)('server state on %s', (_kind, open) => {
  async function withPair(test: (pair: Pair) => Promise<void>): Promise<void> {
    const pair = await open();
    try {
      await pair.first.migrate();
      await pair.second.migrate(); // idempotent, from another connection
      await test(pair);
    } finally {
      await pair.cleanup();
    }
  }

  it('creates, lists, finds and revokes API keys; a revoked key is not found', () =>
    withPair(async ({ first, second }) => {
      const scoped = apiKey({ createdAt: 1_000 });
      const all = apiKey({ installations: '*', name: 'admin', createdAt: 2_000 });
      const none = apiKey({ installations: [], createdAt: 3_000 });
      for (const key of [scoped, all, none]) await first.createApiKey(record(key));

      expect(await second.listApiKeys()).toEqual([record(scoped), record(all), record(none)]);
      expect(await second.findApiKey(all.digest)).toEqual(record(all));
      expect(await second.findApiKey('0'.repeat(64))).toBeUndefined();

      expect(await second.revokeApiKey(scoped.id, 5_000)).toBe(true);
      expect(await first.revokeApiKey(scoped.id, 6_000)).toBe(false);
      expect(await first.revokeApiKey('key_unknown', 6_000)).toBe(false);
      expect(await first.findApiKey(scoped.digest)).toBeUndefined();
      expect(await first.findApiKey(none.digest)).toEqual(record(none));
      expect((await first.listApiKeys()).map((k) => [k.id, k.revokedAt])).toEqual([
        [scoped.id, 5_000],
        [all.id, null],
        [none.id, null],
      ]);
    }));

  it('refuses a duplicate id or digest and an invalid record', () =>
    withPair(async ({ first }) => {
      const key = apiKey();
      await first.createApiKey(record(key));
      expect((await rejection(first.createApiKey(record({ ...key, digest: 'f'.repeat(64) })))).code).toBe(
        'invalid_request',
      );
      expect((await rejection(first.createApiKey(record({ ...key, id: 'key_other' })))).code).toBe(
        'invalid_request',
      );
      const bad = await rejection(first.createApiKey(record({ ...key, id: 'key_x', digest: key.secret })));
      expect(bad.message).toBe('API key record: digest must be a lowercase hex SHA-256');
      expect(bad.message).not.toContain(key.secret);
      expect(await first.listApiKeys()).toHaveLength(1);
    }));

  it('reserves slots GCRA-style: from now when idle, else after the last reservation', () =>
    withPair(async ({ first, second }) => {
      const now = 1_767_225_600_000;
      expect(await first.reserveSlots('sweep', 3, 200, now)).toBe(now);
      expect(await second.reserveSlots('sweep', 1, 200, now + 100)).toBe(now + 600);
      expect(await first.reserveSlots('other', 1, 200, now + 100)).toBe(now + 100);
      // Idle for long: the budget does not bank unused slots.
      expect(await first.reserveSlots('sweep', 2, 200, now + 60_000)).toBe(now + 60_000);
      // A fractional interval is rounded up per reservation: never more than the budget.
      expect(await first.reserveSlots('seven', 1, 60_000 / 7, now)).toBe(now);
      expect(await first.reserveSlots('seven', 1, 60_000 / 7, now)).toBe(now + 8572);
      expect((await rejection(first.reserveSlots('sweep', 0, 200, now))).code).toBe('invalid_request');
    }));

  it('gives two clients reserving concurrently non-overlapping slots (2 × 50 calls)', () =>
    withPair(async ({ first, second }) => {
      const now = 1_767_225_600_000;
      const intervalMs = 100;
      const calls = Array.from({ length: 100 }, (_, i) => ({
        state: i % 2 === 0 ? first : second,
        count: 1 + (i % 3),
      }));
      const starts = await Promise.all(
        calls.map(async ({ state, count }) => ({
          start: await state.reserveSlots('race', count, intervalMs, now),
          count,
        })),
      );
      starts.sort((a, b) => a.start - b.start);
      let expected = now;
      for (const { start, count } of starts) {
        expect(start).toBe(expected); // back to back: no overlap, no gap
        expected = start + count * intervalMs;
      }
      const total = calls.reduce((sum, c) => sum + c.count, 0);
      expect(await first.reserveSlots('race', 1, intervalMs, now)).toBe(now + total * intervalMs);
    }));

  it('pings, and fails the ping with backend_unavailable when the server is unreachable or the state closed', () =>
    withPair(async ({ first, unreachable }) => {
      await first.ping();
      const gone = await unreachable();
      const error = await rejection(gone.ping());
      expect(error.code).toBe('backend_unavailable');
      expect(error.message).toMatch(/^state unreachable \((sqlite|postgres|redis)\): ping failed: /);
      await first.close();
      expect((await rejection(first.ping())).code).toBe('backend_unavailable');
      expect((await rejection(first.listApiKeys())).code).toBe('backend_unavailable');
    }));
});

describe('PostgreSQL state schema check', () => {
  it('tells a migrated database from a bare one', async () => {
    const schema = pgDatabase.schema();
    await pgDatabase.admin.query(`CREATE SCHEMA "${schema}"`);
    const pool = new pg.Pool({
      host: '127.0.0.1',
      user: 'postgres',
      database: pgDatabase.name,
      options: `-c search_path=${schema}`,
    });
    try {
      expect(await postgresStateMigrated(pool)).toBe(false);
      await createPostgresState({ pool }).migrate();
      expect(await postgresStateMigrated(pool)).toBe(true);
    } finally {
      await pool.end();
      await pgDatabase.dropSchema(schema);
    }
  });
});
