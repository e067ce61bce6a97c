import Fastify, { type FastifyInstance } from 'fastify';
import {
  ConfigurationError,
  ReauthorizationRequiredError,
  RetryLaterError,
  StorageError,
} from 'slack-rotator';
import { createPostgresStore, migrate } from 'slack-rotator/postgres';
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import { createTestDatabase, type TestDatabase, type TestPool } from '../../rotator/test/helpers/postgres.js';
import { TOKEN_PATTERN } from '../../rotator/test/helpers/setup.js';
import { outcomeOf } from '../src/observability/metrics.js';
import { createObservability, type Observability } from '../src/observability/observability.js';
import { registerObservabilityRoutes } from '../src/observability/routes.js';
import { createFleet, type Fleet, parseMetrics } from './observability-fixture.js';

let db: TestDatabase;
let pool: TestPool;
beforeAll(async () => {
  db = await createTestDatabase('metrics');
  pool = db.pool();
});
afterAll(async () => {
  await db?.drop();
});

let fleet: Fleet | undefined;
let obs: Observability | undefined;
let app: FastifyInstance | undefined;
afterEach(async () => {
  obs?.close();
  await app?.close();
  await fleet?.close();
  fleet = obs = app = undefined;
});

async function setUp(
  options: { cacheMs?: number; now?: () => number; slack?: { refreshGraceMs?: number } } = {},
) {
  const schema = db.schema();
  await migrate(pool, { schema });
  const store = createPostgresStore({ pool, schema });
  fleet = await createFleet({ store, rotator: { ambiguousRetryDelaysMs: [] }, slack: options.slack ?? {} });
  obs = createObservability(
    { store, apps: fleet.apps, now: Date.now },
    { cacheMs: options.cacheMs ?? 0, maxStaleMs: 0, ...(options.now ? { now: options.now } : {}) },
  );
  app = Fastify();
  registerObservabilityRoutes(app, obs);
  return fleet;
}

async function scrape() {
  const response = await (app as FastifyInstance).inject({ method: 'GET', url: '/metrics' });
  expect(response.statusCode).toBe(200);
  expect(response.headers['content-type']).toBe('text/plain; version=0.0.4; charset=utf-8');
  return { text: response.body, series: parseMetrics(response.body) };
}

describe('/metrics after real refreshes against the fake Slack (PostgreSQL store)', () => {
  test('counters by outcome, histograms, lost rotations, chains by status, soonest expiry; no token anywhere', async () => {
    const frozen = Date.now();
    const f = await setUp({ now: () => frozen, slack: { refreshGraceMs: 0 } });
    await f.install('T1', 0);
    await f.install('T2', 3 * 3600_000, { userToken: true, userId: 'U2' });
    await f.install('T3', 0);
    await f.install('T4', 0);

    // T1: a due chain refreshed.
    await f.rotator.getToken({ teamId: 'T1' });
    // T3: a dead refresh token → re-authorization.
    const t3 = await f.store.get(`${f.slack.clientId}:T3:bot`);
    f.slack.revokeChain(t3?.refreshToken as string);
    await expect(f.rotator.getToken({ teamId: 'T3' })).rejects.toBeInstanceOf(ReauthorizationRequiredError);
    // T4: an answer lost after Slack rotated (retry later), then the refusal that reveals it.
    f.slack.injectFault('rotate_then_drop');
    await expect(f.rotator.refresh({ teamId: 'T4' })).rejects.toBeInstanceOf(RetryLaterError);
    await expect(f.rotator.refresh({ teamId: 'T4' })).rejects.toMatchObject({ code: 'lost_rotation' });

    const { text, series } = await scrape();
    expect(series.get('slack_rotator_refreshes_total{outcome="refreshed"}')).toBe(1);
    expect(series.get('slack_rotator_refreshes_total{outcome="reauthorize"}')).toBe(2);
    expect(series.get('slack_rotator_refreshes_total{outcome="retry_later"}')).toBe(1);
    expect(series.get('slack_rotator_refreshes_total{outcome="configuration"}')).toBe(0);
    expect(series.get('slack_rotator_lost_rotations_total')).toBe(1);
    expect(series.get('slack_rotator_refresh_duration_seconds_count')).toBe(1);
    // Every refresh that reached Slack took the lock once: T1, T3, T4 twice.
    expect(series.get('slack_rotator_lock_wait_seconds_count')).toBe(4);
    expect(series.get('slack_rotator_lock_wait_seconds_bucket{le="+Inf"}')).toBe(4);

    expect(series.get('slack_rotator_chains{status="active"}')).toBe(3);
    expect(series.get('slack_rotator_chains{status="reauthorization_required"}')).toBe(2);
    expect(series.get('slack_rotator_chains{status="revoked"}')).toBe(0);
    expect(series.get('slack_rotator_chain_scan_success')).toBe(1);
    const active = (await f.store.list({ status: 'active' })).records;
    const soonest = Math.min(...active.map((r) => r.expiresAt));
    expect(series.get('slack_rotator_min_seconds_until_expiry')).toBeCloseTo((soonest - frozen) / 1000, 6);
    // The soonest is T2's (3 h left), not the freshly refreshed T1 (6 h).
    expect(series.get('slack_rotator_min_seconds_until_expiry')).toBeLessThan(3 * 3600 + 1);
    expect(series.has('process_cpu_user_seconds_total')).toBe(true);
    expect(series.has('nodejs_heap_size_used_bytes')).toBe(true);

    expect(TOKEN_PATTERN.test(text)).toBe(false);
    for (const secret of await f.storedSecrets()) expect(text.includes(secret)).toBe(false);
    expect(text).not.toContain('T1');
  });

  test('a lost compare-and-set counts a CAS conflict and a lost race recovered', async () => {
    const f = await setUp({ slack: { refreshGraceMs: 60_000 } });
    await f.install('T1', 0);
    const { createLocalLock } = await import('slack-rotator');
    const peer = f.another({ lock: createLocalLock() });
    let raced = false;
    const racer = f.another({
      fetch: async (url, init) => {
        if (String(url).endsWith('oauth.v2.access') && !raced) {
          raced = true;
          await peer.refresh({ teamId: 'T1' }, { force: true });
        }
        return fetch(url, init);
      },
    });
    // Observe the racing rotator as the server's own app.
    obs?.close();
    obs = createObservability(
      {
        store: f.store,
        apps: [{ config: (f.apps[0] as Fleet['apps'][0]).config, rotator: racer }],
        now: Date.now,
      },
      { cacheMs: 0, maxStaleMs: 0 },
    );
    app = Fastify();
    registerObservabilityRoutes(app, obs);
    await racer.getToken({ teamId: 'T1' });
    const { series } = await scrape();
    expect(series.get('slack_rotator_cas_conflicts_total{operation="commit"}')).toBe(1);
    expect(series.get('slack_rotator_lost_races_recovered_total{how="adopted_winner"}')).toBe(1);
    expect(series.get('slack_rotator_refreshes_total{outcome="refreshed"}')).toBe(1);
    const events = obs.activity.recent().map((a) => `${a.kind}/${a.outcome}`);
    expect(events).toEqual(['refreshed/refreshed', 'race-recovered/adopted_winner', 'cas-conflict/commit']);
  });

  test('chain gauges are cached between scrapes, and NaN without an active chain', async () => {
    const f = await setUp({ cacheMs: 60_000 });
    let { series } = await scrape();
    expect(series.get('slack_rotator_chains{status="active"}')).toBe(0);
    expect(Number.isNaN(series.get('slack_rotator_min_seconds_until_expiry'))).toBe(true);
    await f.install('T1', 3600_000);
    ({ series } = await scrape());
    expect(series.get('slack_rotator_chains{status="active"}')).toBe(0);
  });

  test('past cacheMs, a stale pass is served at once while a new one runs', async () => {
    const f = await setUp();
    obs?.close();
    obs = createObservability(
      { store: f.store, apps: f.apps, now: Date.now },
      { cacheMs: 0, maxStaleMs: 60_000 },
    );
    app = Fastify();
    registerObservabilityRoutes(app, obs);
    expect((await scrape()).series.get('slack_rotator_chains{status="active"}')).toBe(0);
    await f.install('T1', 3600_000);
    expect((await scrape()).series.get('slack_rotator_chains{status="active"}')).toBe(0);
    await expect
      .poll(async () => (await scrape()).series.get('slack_rotator_chains{status="active"}'))
      .toBe(1);
  });

  test('a store that cannot be read: the scrape still answers, with chain_scan_success 0', async () => {
    const f = await setUp();
    await f.install('T1', 3600_000);
    const broken = createObservability(
      {
        store: createPostgresStore({ pool, schema: 'no_such_schema' }),
        apps: f.apps,
        now: Date.now,
      },
      { cacheMs: 0, maxStaleMs: 0 },
    );
    const other = Fastify();
    registerObservabilityRoutes(other, broken);
    const response = await other.inject({ method: 'GET', url: '/metrics' });
    broken.close();
    await other.close();
    expect(response.statusCode).toBe(200);
    const series = parseMetrics(response.body);
    expect(series.get('slack_rotator_chain_scan_success')).toBe(0);
    expect(series.has('slack_rotator_chains{status="active"}')).toBe(false);
  });

  test('the outcome class comes from the error class, never from Slack text', () => {
    expect(outcomeOf(new RetryLaterError('rate_limited', 'x', { chainKey: 'k' }))).toBe('retry_later');
    expect(outcomeOf(new ConfigurationError('invalid_client', 'x', { chainKey: 'k' }))).toBe('configuration');
    expect(outcomeOf(new StorageError('store_failed', 'x', { chainKey: 'k' }))).toBe('storage');
    expect(outcomeOf(new ReauthorizationRequiredError('lost_rotation', 'x', { chainKey: 'k' }))).toBe(
      'reauthorize',
    );
  });
});
