/**
 * openBackends on each kind of store, on real servers, with the fake Slack: open, save an
 * installation through the rotator, read it back, ping; the server gone makes ping fail naming the
 * part; close is idempotent.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { createFakeSlack, type FakeSlack } from 'slack-rotator/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../../rotator/test/helpers/postgres.js';
import {
  deletePrefix,
  type OwnServer,
  openClient,
  randomPrefix,
  startServer,
} from '../../rotator/test/helpers/redis.js';
import { openBackends } from '../src/backends.js';
import { loadConfig } from '../src/config.js';
import type { Backends } from '../src/types.js';
import { rejection } from './helpers/rejection.js';

const silent = pino({ level: 'silent' });
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function fakeSlack(): Promise<FakeSlack> {
  const slack = await createFakeSlack({ appId: 'A0TEST' });
  cleanups.push(() => slack.close());
  return slack;
}

function configFor(slack: FakeSlack, env: Record<string, string>) {
  return loadConfig({
    env: {
      SLACK_CLIENT_ID: slack.clientId,
      SLACK_CLIENT_SECRET: slack.clientSecret,
      SLACK_API_URL: slack.url,
      SLACK_ROTATOR_LOG_LEVEL: 'silent',
      ...env,
    },
  });
}

async function open(config: ReturnType<typeof loadConfig>, migrate?: boolean): Promise<Backends> {
  const backends = await openBackends(config, {
    logger: silent,
    ...(migrate === undefined ? {} : { migrate }),
  });
  cleanups.push(() => backends.close());
  return backends;
}

/** Saves an installation through the rotator and reads its token back three ways. */
async function roundTrip(backends: Backends, slack: FakeSlack): Promise<{ token: string; chainKey: string }> {
  const rotator = backends.apps[0]?.rotator;
  if (rotator === undefined) throw new Error('no app');
  const saved = await rotator.saveInstallation(slack.install({ teamId: 'T0BACKEND' }));
  const chainKey = saved.chains[0]?.chainKey as string;
  const token = await rotator.getToken({ teamId: 'T0BACKEND' });
  expect(token.startsWith('xoxe.xoxb-')).toBe(true); // no token in a failure message
  expect((await backends.store.get(chainKey))?.accessToken === token).toBe(true);
  const page = await backends.store.list({});
  expect(page.records.map((r) => r.chainKey)).toEqual([chainKey]);
  return { token, chainKey };
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

describe('openBackends on SQLite (the embedded default)', () => {
  it('creates the folder, migrates, round-trips an installation encrypted at rest, pings; close twice', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'slack-rotator-backends-'));
    cleanups.push(async () => rmSync(dir, { recursive: true, force: true }));
    const slack = await fakeSlack();
    const key = randomBytes(32).toString('base64');
    const config = configFor(slack, {
      SLACK_ROTATOR_STORE: `sqlite:${join(dir, 'nested', 'deeper', 'tokens.db')}`,
      SLACK_ROTATOR_ENCRYPTION_KEYS: `k1:${key}`,
    });
    const backends = await open(config);
    const { token, chainKey } = await roundTrip(backends, slack);
    await backends.ping();
    expect(backends.lock).toBeDefined();
    await backends.state.createApiKey({
      id: 'key_1',
      name: 'ci',
      digest: 'a'.repeat(64),
      installations: '*',
      createdAt: 1,
      revokedAt: null,
    });

    // Another connection to the file sees ciphertext only.
    const raw = new Database(join(dir, 'nested', 'deeper', 'tokens.db'), { readonly: true });
    const row = raw
      .prepare('SELECT access_token, refresh_token FROM slack_rotator_chains WHERE chain_key = ?')
      .get(chainKey) as { access_token: string; refresh_token: string };
    const keys = raw.prepare('SELECT count(*) AS n FROM slack_rotator_api_keys').get() as { n: number };
    raw.close();
    expect(row.access_token.startsWith('enc:v1:k1:')).toBe(true);
    expect(row.refresh_token.startsWith('enc:v1:k1:')).toBe(true);
    expect(row.access_token).not.toContain(token);
    expect(keys.n).toBe(1);

    await backends.close();
    await backends.close();
    const error = await rejection(backends.ping());
    expect(error.code).toBe('backend_unavailable');
    expect(error.message).toMatch(/^store unreachable \(sqlite:\/.+\/tokens\.db\): /);
  });

  it('reopens the same file and finds what was saved', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'slack-rotator-backends-'));
    cleanups.push(async () => rmSync(dir, { recursive: true, force: true }));
    const slack = await fakeSlack();
    const config = configFor(slack, { SLACK_ROTATOR_STORE: join(dir, 'tokens.db') });
    const first = await openBackends(config, { logger: silent });
    const { token } = await roundTrip(first, slack);
    await first.close();
    const second = await open(config);
    expect(await second.apps[0]?.rotator.getToken({ teamId: 'T0BACKEND' })).toBe(token);
  });
});

describe('openBackends on PostgreSQL', () => {
  let database: TestDatabase | undefined;
  const url = (db: TestDatabase) => `postgres://postgres@127.0.0.1:5432/${db.name}`;
  async function testDatabase(): Promise<TestDatabase> {
    const db = await createTestDatabase('backends');
    database = db;
    cleanups.push(() => db.drop());
    return db;
  }

  it('refuses an unmigrated database, naming `slack-rotator migrate`; with migrate it round-trips', async () => {
    const db = await testDatabase();
    const slack = await fakeSlack();
    const config = configFor(slack, { SLACK_ROTATOR_STORE: url(db) });
    const refused = await rejection(openBackends(config, { logger: silent }));
    expect(refused.code).toBe('invalid_config');
    expect(refused.message).toContain('has no slack-rotator schema: run `slack-rotator migrate`');

    const backends = await open(config, true);
    await roundTrip(backends, slack);
    await backends.ping();
    // Migrated once, it opens without migrate.
    const again = await open(config);
    await again.ping();
    expect(
      await again.store.get((await backends.store.list({})).records[0]?.chainKey as string),
    ).toBeDefined();
  });

  it('fails ping naming the store when its database is dropped; close twice is fine', async () => {
    const db = await testDatabase();
    const slack = await fakeSlack();
    const backends = await open(configFor(slack, { SLACK_ROTATOR_STORE: url(db) }), true);
    await backends.ping();
    const admin = await createTestDatabase('backends_admin');
    cleanups.push(() => admin.drop());
    await admin.admin.query(`DROP DATABASE "${db.name}" WITH (FORCE)`);
    const error = await rejection(backends.ping());
    expect(error.code).toBe('backend_unavailable');
    expect(error.message.startsWith(`store unreachable (postgres://127.0.0.1:5432/${db.name}): `)).toBe(true);
    await backends.close();
    await backends.close();
    expect(database).toBe(db);
  });

  it('behind PgBouncer, the lock LISTENs on SLACK_ROTATOR_STORE_LISTEN, straight to PostgreSQL', async () => {
    const db = await testDatabase();
    const slack = await fakeSlack();
    const config = configFor(slack, {
      SLACK_ROTATOR_STORE: `postgres://postgres@127.0.0.1:6432/${db.name}`,
      SLACK_ROTATOR_STORE_LISTEN: url(db),
    });
    const backends = await open(config, true);
    await roundTrip(backends, slack);
    const { lock } = backends;
    if (lock === undefined || lock.wait === undefined) throw new Error('the PostgreSQL lock waits');
    const lease = await lock.acquire('refresh:listen-test', { ttlMs: 30_000, waitMs: 0 });
    const waited = lock.wait('refresh:listen-test', { waitMs: 20_000 });
    const listening = async () => {
      const { rows } = await db.admin.query(
        // Its last statement is LISTEN, or a waiters' batched look (led by the listener's tag).
        `SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1
           AND application_name = 'slack-rotator-listen' AND (query LIKE 'LISTEN %' OR query LIKE $2)`,
        [db.name, '/* slack-rotator listener */%'],
      );
      return (rows[0] as { n: number }).n;
    };
    for (let i = 0; i < 100 && (await listening()) === 0; i++) await new Promise((r) => setTimeout(r, 50));
    expect(await listening()).toBe(1);
    await lock.release(lease);
    await waited;
    await backends.close();
  });

  it('fails to open a closed port with backend_unavailable, without the password', async () => {
    const slack = await fakeSlack();
    const config = configFor(slack, {
      SLACK_ROTATOR_STORE: `postgres://postgres:hunter2-secret@127.0.0.1:${await closedPort()}/x`,
    });
    const error = await rejection(openBackends(config, { logger: silent, migrate: true }));
    expect(error.code).toBe('backend_unavailable');
    expect(error.message).toMatch(/^store unreachable \(postgres:\/\/127\.0\.0\.1:\d+\/x\): /);
    expect(error.message).not.toContain('hunter2');
  });

  it('pairs a PostgreSQL store with a Redis lock and names the lock when Redis goes', async () => {
    const db = await testDatabase();
    const redis: OwnServer = await startServer();
    cleanups.push(() => redis.stop());
    const slack = await fakeSlack();
    const prefix = randomPrefix();
    const backends = await open(
      configFor(slack, {
        SLACK_ROTATOR_STORE: url(db),
        SLACK_ROTATOR_LOCK: `redis://127.0.0.1:${redis.port}?prefix=${prefix}`,
      }),
      true,
    );
    await roundTrip(backends, slack);
    const lease = await backends.lock?.acquire('probe', { ttlMs: 10_000, waitMs: 0 });
    const own = new Redis({ port: redis.port });
    expect(await own.keys(`${prefix}:*`)).toEqual([`${prefix}:lock:{probe}`]);
    own.disconnect();
    if (lease !== undefined) await backends.lock?.release(lease);
    await backends.ping();
    await redis.kill();
    const error = await rejection(backends.ping());
    expect(error.code).toBe('backend_unavailable');
    expect(error.message).toMatch(/^lock unreachable \(redis:\/\/127\.0\.0\.1:\d+\): /);
    await backends.close();
    await backends.close();
  });
});

describe('openBackends on Redis', () => {
  it('round-trips under its own prefix, pings; fails ping naming the store when Redis dies', async () => {
    const redis = await startServer();
    cleanups.push(() => redis.stop());
    const slack = await fakeSlack();
    const prefix = randomPrefix();
    const backends = await open(
      configFor(slack, { SLACK_ROTATOR_STORE: `redis://127.0.0.1:${redis.port}/0?prefix=${prefix}` }),
    );
    await roundTrip(backends, slack);
    await backends.state.reserveSlots('sweep', 1, 200, 1_000);
    await backends.ping();
    await redis.kill();
    const error = await rejection(backends.ping());
    expect(error.code).toBe('backend_unavailable');
    expect(error.message).toMatch(/^store unreachable \(redis:\/\/127\.0\.0\.1:\d+\/0\): /);
    await backends.close();
    await backends.close();
  });

  it('keeps every key under the prefix on the shared server', async () => {
    const slack = await fakeSlack();
    const prefix = randomPrefix();
    const client = openClient();
    cleanups.push(async () => {
      await deletePrefix(client, prefix);
      client.disconnect();
    });
    const backends = await open(
      configFor(slack, { SLACK_ROTATOR_STORE: `redis://127.0.0.1:6379?prefix=${prefix}` }),
    );
    await roundTrip(backends, slack);
    await backends.state.reserveSlots('sweep', 1, 200, 1_000);
    await backends.state.createApiKey({
      id: 'key_1',
      name: 'ci',
      digest: 'b'.repeat(64),
      installations: ['T0BACKEND'],
      createdAt: 1,
      revokedAt: null,
    });
    const keys = await client.keys(`${prefix}*`);
    expect(keys.length).toBeGreaterThan(3);
    expect(keys.every((k) => k.startsWith(`${prefix}:`))).toBe(true);
  });
});
