import type { TokenRecord } from 'slack-rotator';
import { createFakeSlack, type FakeSlack } from 'slack-rotator/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../../rotator/test/helpers/postgres.js';
import { openBackends } from '../src/backends.js';
import { loadConfig } from '../src/config.js';
import { createLogger } from '../src/logger.js';
import { sweepOnce } from '../src/sweeper/sweep.js';
import type { Backends } from '../src/types.js';

const MINUTE = 60_000;
let db: TestDatabase;
let slack: FakeSlack;
let backends: Backends;

beforeAll(async () => {
  db = await createTestDatabase('sweep_once');
  slack = await createFakeSlack({ clientId: 'once-client', clientSecret: 'once-secret' });
  const config = loadConfig({
    env: {
      SLACK_CLIENT_ID: slack.clientId,
      SLACK_CLIENT_SECRET: slack.clientSecret,
      SLACK_API_URL: slack.url,
      SLACK_ROTATOR_STORE: `postgres://postgres@127.0.0.1:5432/${db.name}`,
    },
  });
  backends = await openBackends(config, { logger: createLogger({ logLevel: 'silent' }), migrate: true });
});

afterAll(async () => {
  await backends?.close();
  await slack?.close();
  await db?.drop();
});

/** Saves an install of the fake Slack, then rewrites its timing fields. */
async function chain(teamId: string, timing: Pick<TokenRecord, 'createdAt' | 'refreshedAt' | 'expiresAt'>) {
  const rotator = backends.apps[0]?.rotator;
  if (rotator === undefined) throw new Error('no app');
  const saved = await rotator.saveInstallation(slack.install({ teamId }));
  const key = saved.chains[0]?.chainKey as string;
  const record = (await backends.store.get(key)) as TokenRecord;
  const { version: _version, ...rest } = record;
  await backends.store.put({ ...rest, ...timing });
  return record.accessToken;
}

describe('sweepOnce', () => {
  it('refreshes the chains in the refresh window that the token limit allows, and nothing else', async () => {
    const now = Date.now();
    await chain('TDUE', {
      createdAt: now - 2 * 24 * 60 * MINUTE,
      refreshedAt: now - 710 * MINUTE,
      expiresAt: now + 10 * MINUTE,
    });
    await chain('TFRESH', { createdAt: now, refreshedAt: null, expiresAt: now + 720 * MINUTE });
    // Refreshed 5 minutes into a 15-minute token: a refresh now would make a third active token.
    await chain('TYOUNG', {
      createdAt: now - 10 * MINUTE,
      refreshedAt: now - 5 * MINUTE,
      expiresAt: now + 10 * MINUTE,
    });

    const result = await sweepOnce(backends, {
      logger: createLogger({ logLevel: 'silent' }),
      intervalMs: 1000,
    });

    expect(result).toEqual({ checked: 3, refreshed: 1, failed: 0 });
    const refreshes = slack.calls.filter((call) => call.grantType === 'refresh_token');
    expect(refreshes).toHaveLength(1);
    expect(refreshes[0]?.outcome).toBe('ok');
    expect(slack.chains().find((c) => c.teamId === 'TDUE')?.rotations).toBe(1);
  });

  it('skips a chain revoked after the listing: no call, not a failure', async () => {
    const now = Date.now();
    const timing = { createdAt: now - 2 * 24 * 60 * MINUTE, refreshedAt: now - 700 * MINUTE };
    await chain('TRACE1', { ...timing, expiresAt: now + 5 * MINUTE });
    await chain('TRACE2', { ...timing, expiresAt: now + 6 * MINUTE });
    const key = (teamId: string) => `${slack.clientId}:${teamId}:bot`;
    // Hold TRACE1's refresh lock, so the sweep stops there with TRACE2 already listed behind it.
    const lock = backends.store.lock;
    if (lock === undefined) throw new Error('the PostgreSQL store has a lock');
    const held = await lock.acquire(`refresh:${key('TRACE1')}`, { ttlMs: 30_000, waitMs: 0 });
    const calls = slack.calls.length;
    const sweeping = sweepOnce(backends, {
      logger: createLogger({ logLevel: 'silent' }),
      intervalMs: 1000,
      concurrency: 1,
    });
    const claimed = async () => {
      const { rows } = await db.admin.query('SELECT 1 FROM slack_rotator_locks WHERE name = $1', [
        `sweep:${key('TRACE1')}`,
      ]);
      return rows.length > 0;
    };
    while (!(await claimed())) await new Promise((resolve) => setTimeout(resolve, 20));
    const rotator = backends.apps[0]?.rotator;
    await rotator?.markRevoked({ enterpriseId: null, teamId: 'TRACE2', isEnterpriseInstall: false });
    await lock.release(held);

    expect(await sweeping).toMatchObject({ refreshed: 1, failed: 0 });
    const refreshed = slack.calls.slice(calls).filter((call) => call.grantType === 'refresh_token');
    expect(refreshed).toHaveLength(1);
    expect(slack.chains().find((c) => c.teamId === 'TRACE2')?.rotations).toBe(0);
  });

  it('names a bad option', async () => {
    await expect(
      sweepOnce(backends, { logger: createLogger({ logLevel: 'silent' }), budgetPerMinute: 0 }),
    ).rejects.toMatchObject({ code: 'invalid_config', message: expect.stringContaining('budgetPerMinute') });
  });
});
