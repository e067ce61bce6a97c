import assert from 'node:assert/strict';
import { refreshLockName } from '../lock/names.js';
import type { Lock } from '../lock/types.js';
import { createRotator } from '../manager.js';
import type { RotatorOptions } from '../options.js';
import type { Rotator } from '../rotator.js';
import { createFakeSlack, type FakeSlack, type FakeSlackOptions } from './fake-slack.js';
import type { StoreCaseFixture } from './store-fixtures.js';
import { pause, type SuiteCase } from './suite.js';

const LIFETIME_MS = 60_000;

interface Race {
  slack: FakeSlack;
  a: Rotator;
  b: Rotator;
  chainKey: string;
  close(): Promise<void>;
}

/**
 * Two rotators — one on the fixture's store, one on its peer, each with that store's own lock — and
 * a fake Slack with one installed chain that is already due.
 */
async function race(
  fixture: StoreCaseFixture,
  slackOptions: FakeSlackOptions,
  overrides: { a?: Partial<RotatorOptions>; b?: Partial<RotatorOptions> } = {},
): Promise<Race> {
  const slack = await createFakeSlack({
    expiresInSeconds: LIFETIME_MS / 1000,
    accessTokenLifetimeMs: LIFETIME_MS,
    ...slackOptions,
  });
  const options = (store: StoreCaseFixture['store']): RotatorOptions => ({
    clientId: slack.clientId,
    clientSecret: slack.clientSecret,
    store,
    slackApiUrl: slack.url,
    tokenLifetimeMs: LIFETIME_MS,
    refreshWindowMs: LIFETIME_MS / 4,
    refreshJitterMs: 0,
    requestTimeoutMs: 2_000,
    ambiguousRetryDelaysMs: [20, 50],
  });
  const a = createRotator({ ...options(fixture.store), ...overrides.a });
  const b = createRotator({ ...options(fixture.peer), ...overrides.b });
  const response = slack.install({ teamId: 'T0RACE' });
  // Saved as if Slack had answered a full lifetime ago: the chain is due (and expired) now.
  const saved = await a.saveInstallation(response, { issuedAt: Date.now() - LIFETIME_MS });
  return {
    slack,
    a,
    b,
    chainKey: saved.chains[0]?.chainKey as string,
    async close() {
      await Promise.all([a.close(), b.close()]);
      await slack.close();
    },
  };
}

const refreshCalls = (slack: FakeSlack) => slack.calls.filter((c) => c.grantType === 'refresh_token');

/**
 * A holder cut off from its lock once it has taken a lease: leases of `ttlMs`, and its renewals
 * never arrive (a partition, or a paused process), though it believes they did.
 */
function partitionedLock(inner: Lock, ttlMs: number): Lock {
  return {
    acquire: (name, options) => inner.acquire(name, { ...options, ttlMs }),
    renew: async () => true,
    release: (lease) => inner.release(lease),
  };
}

/** Rotator-level races over one store: the cases that matter for Slack's single-use tokens. */
export const rotatorCases: readonly SuiteCase<StoreCaseFixture>[] = [
  {
    name: 'two rotators racing one refresh make one refresh at Slack and serve the same token',
    async run(fixture) {
      const r = await race(fixture, { latencyMs: 30, refreshGraceMs: 0 });
      try {
        const calls = Array.from({ length: 20 }, (_, i) =>
          (i % 2 === 0 ? r.a : r.b).getToken({ teamId: 'T0RACE' }),
        );
        const tokens = await Promise.all(calls);
        assert.equal(refreshCalls(r.slack).length, 1, 'exactly one refresh call at Slack');
        assert.equal(new Set(tokens).size, 1, 'every caller got the same token');
        const record = await fixture.store.get(r.chainKey);
        assert.ok(
          record !== undefined && tokens[0] === record.accessToken,
          'the served token is the stored one',
        );
        assert.equal(r.slack.peekRefreshToken(record.refreshToken), 'active');
      } finally {
        await r.close();
      }
    },
  },
  {
    name: 'a lock holder that dies mid-refresh blocks others only until its lease runs out',
    async run(fixture) {
      const r = await race(fixture, { refreshGraceMs: 0 }, { b: { lockTtlMs: 2_500, lockWaitMs: 5_000 } });
      try {
        const lock = fixture.peer.lock;
        if (lock === undefined) return;
        // The dead holder took the chain's refresh lock and will never release it.
        await lock.acquire(refreshLockName(r.chainKey), { ttlMs: 200, waitMs: 0 });
        const token = await r.b.getToken({ teamId: 'T0RACE' });
        assert.equal(refreshCalls(r.slack).length, 1);
        assert.equal(r.slack.peekAccessToken(token), 'active');
        const record = await fixture.store.get(r.chainKey);
        assert.equal(record?.status, 'active');
      } finally {
        await r.close();
      }
    },
  },
  {
    name: 'a lease that expires mid-refresh cannot clobber: the pairs are kept and the chain survives',
    async run(fixture) {
      const inner = fixture.store.lock;
      if (inner === undefined) return;
      const r = await race(
        fixture,
        { latencyMs: 600, refreshGraceMs: 1_000, siblingSurvivor: 'last' },
        { a: { lock: partitionedLock(inner, 150) }, b: { lockWaitMs: 5_000 } },
      );
      try {
        const before = await fixture.store.get(r.chainKey);
        assert.ok(before !== undefined);
        // A sends, then its renewals stop reaching the lock; its lease runs out while Slack's answer
        // is slow, so B takes the lock and presents the same refresh token: a double exchange.
        const a = r.a.refresh({ teamId: 'T0RACE' }, { force: true });
        await pause(50);
        const b = r.b.getToken({ teamId: 'T0RACE' }, { minValidityMs: 40_000 });
        await Promise.allSettled([a, b]);
        assert.equal(refreshCalls(r.slack).length, 2, 'the double exchange happened');
        const after = await fixture.store.get(r.chainKey);
        assert.ok(after !== undefined);
        assert.equal(after.status, 'active');
        assert.ok(after.version > before.version, 'a new pair was stored');
        assert.ok(after.fallbackRefreshToken !== null, "the loser's pair was kept as the sibling");
        // Whichever sibling Slack keeps, the stored pair or its kept sibling still works.
        await pause(1_100);
        const info = await r.a.refresh({ teamId: 'T0RACE' }, { force: true });
        assert.equal(r.slack.peekAccessToken(info.token), 'active');
        // Slack kept the last-issued sibling: the stored first one was refused, the kept one worked.
        const outcomes = refreshCalls(r.slack).map((c) => c.outcome);
        assert.deepEqual(outcomes.slice(2), ['invalid_refresh_token', 'ok']);
        const final = await fixture.store.get(r.chainKey);
        assert.equal(final?.status, 'active');
        assert.equal(r.slack.peekRefreshToken(final?.refreshToken as string), 'active');
      } finally {
        await r.close();
      }
    },
  },
];
