import type { TokenRecord } from 'slack-rotator';
import { describe, expect, it } from 'vitest';
import {
  createBacklogScan,
  isDue,
  mayRefresh,
  mayRefreshFrom,
  type PlannerSettings,
  timingOf,
} from '../src/sweeper/planner.js';

const HOUR = 3_600_000;
const L = 12 * HOUR;
const T0 = 1_700_000_000_000;

function record(fields: Partial<TokenRecord> = {}): TokenRecord {
  return {
    chainKey: 'cid:T1:bot',
    clientId: 'cid',
    installationId: 'T1',
    enterpriseId: null,
    teamId: 'T1',
    isEnterpriseInstall: false,
    kind: 'bot',
    userId: null,
    appId: null,
    botId: null,
    botUserId: null,
    scopes: [],
    accessToken: 'xoxe.xoxb-a',
    refreshToken: 'xoxe-1-r',
    expiresAt: T0 + L,
    fallbackRefreshToken: null,
    refreshIntent: null,
    version: 1,
    status: 'active',
    lastErrorCode: null,
    refreshedAt: null,
    createdAt: T0,
    updatedAt: T0,
    ...fields,
  };
}

const settings: PlannerSettings = {
  slotMs: 200,
  throughputFactor: 1.1,
  marginMs: 3 * 60_000,
  refreshWindowMs: HOUR,
  fallbackLifetimeMs: L,
};

describe('the sweeper planner', () => {
  it('derives issue time, lifetime and deadline from the record', () => {
    expect(timingOf(record(), L)).toEqual({ issuedAt: T0, lifetimeMs: L, deadlineAt: T0 + 0.9 * L });
    const refreshed = record({ refreshedAt: T0 + HOUR, expiresAt: T0 + HOUR + 2 * HOUR });
    expect(timingOf(refreshed, L)).toMatchObject({ lifetimeMs: 2 * HOUR, deadlineAt: T0 + 2.8 * HOUR });
    // An import saved days after Slack issued the token: not a believable lifetime, Slack's is assumed.
    const imported = record({ createdAt: T0 + 5 * L, expiresAt: T0 + L });
    expect(timingOf(imported, L)).toMatchObject({ issuedAt: T0, lifetimeMs: L });
  });

  it('refreshes an installed token any time, a second token only once the installed one expired', () => {
    expect(mayRefresh(record(), T0 + 1, L)).toBe(true);
    // First refresh early (1 h after install): the installed token lives until T0 + L.
    const second = record({ refreshedAt: T0 + HOUR, expiresAt: T0 + HOUR + L, version: 2 });
    expect(mayRefresh(second, T0 + 7 * HOUR, L)).toBe(false); // half-life reached, installed still valid
    expect(mayRefresh(second, T0 + L - 1, L)).toBe(false);
    expect(mayRefresh(second, T0 + L, L)).toBe(true);
    expect(mayRefreshFrom(second, L)).toBe(T0 + L);
  });

  it('refreshes a later token only once it is half its lifetime old', () => {
    const later = record({ createdAt: T0 - 3 * L, refreshedAt: T0, expiresAt: T0 + L, version: 9 });
    expect(mayRefresh(later, T0 + L / 2 - 1, L)).toBe(false);
    expect(mayRefresh(later, T0 + L / 2, L)).toBe(true);
  });

  it('never lets a chain have three active tokens, whatever the refresh times it allows', () => {
    // A chain refreshed at random moments, but only when mayRefresh allows it: at every refresh the
    // token before the current one must have expired (issued at least a lifetime ago).
    let seed = 7;
    const random = () => {
      seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    for (let run = 0; run < 200; run++) {
      const issued = [T0];
      let current = record();
      let now = T0;
      for (let step = 0; step < 40; step++) {
        now += random() * 0.4 * L;
        if (!mayRefresh(current, now, L)) continue;
        const previous = issued.at(-2);
        if (previous !== undefined) expect(now - previous).toBeGreaterThanOrEqual(L);
        issued.push(now);
        current = { ...current, refreshedAt: now, expiresAt: now + L, version: current.version + 1 };
      }
      expect(issued.length).toBeGreaterThan(2);
    }
  });

  it('finds the backlog: with N chains due together, work starts N slots (and the margin) before the deadline', () => {
    const n = 1000;
    const chains = Array.from({ length: n }, (_, i) => record({ chainKey: `cid:T${i}:bot` }));
    const deadline = T0 + 0.9 * L;
    const start = deadline - n * settings.slotMs * settings.throughputFactor - settings.marginMs;
    const before = createBacklogScan(settings, start - 1);
    for (const chain of chains) before.add(chain);
    expect(before.horizon).toBeUndefined();
    expect(before.earliestStartAt).toBeCloseTo(start, 3);
    const after = createBacklogScan(settings, start);
    for (const chain of chains) after.add(chain);
    expect(after.horizon).toEqual({ expiresAt: T0 + L });
    expect(isDue(chains[0] as TokenRecord, start, settings, after.horizon)).toBe(true);
    expect(isDue(chains[0] as TokenRecord, start, settings, before.horizon)).toBe(false);
  });

  it('marks a chain in the refresh window due, but not one the token limit protects', () => {
    const inWindow = record({ createdAt: T0 - 2 * L, refreshedAt: T0, expiresAt: T0 + L });
    expect(isDue(inWindow, T0 + L - HOUR / 2, settings, undefined)).toBe(true);
    expect(isDue(inWindow, T0 + L - 2 * HOUR, settings, undefined)).toBe(false);
    // A second token whose installed predecessor is still valid: due by the window, not allowed yet.
    const second = record({ createdAt: T0, refreshedAt: T0 + 10 * 60_000, expiresAt: T0 + 10 * 60_000 + L });
    expect(isDue(second, T0 + L - 30 * 60_000, settings, { expiresAt: Number.MAX_SAFE_INTEGER })).toBe(false);
  });
});
