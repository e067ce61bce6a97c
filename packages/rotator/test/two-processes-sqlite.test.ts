import { afterEach, expect, test } from 'vitest';
import type { FakeSlack } from '../src/testing/fake-slack.js';
import { refreshGrants, runFleet } from './helpers/processes.js';

let slack: FakeSlack | undefined;
afterEach(async () => {
  await slack?.close();
});

test('two OS processes sharing one SQLite file: refresh calls == rotations, no invalid_refresh_token', async () => {
  // Strict single-use refresh tokens: any double exchange would kill a chain at once.
  const run = await runFleet({
    processes: 2,
    teams: 3,
    durationMs: 7_000,
    lifetimeMs: 1_000,
    slack: { refreshGraceMs: 0 },
  });
  slack = run.slack;
  const refreshes = refreshGrants(slack);
  const rotations = slack.chains().reduce((sum, chain) => sum + chain.rotations, 0);
  expect(rotations).toBeGreaterThanOrEqual(30);
  expect(refreshes.length).toBe(rotations);
  expect(refreshes.filter((c) => c.outcome === 'invalid_refresh_token')).toHaveLength(0);
  expect(refreshes.filter((c) => c.duplicate)).toHaveLength(0);
  for (const result of run.results) {
    expect(result.failures).toEqual({});
    expect(result.ok).toBeGreaterThan(100);
  }
  for (const record of run.records.values()) {
    expect(record?.status).toBe('active');
    expect(slack.peekRefreshToken(record?.refreshToken as string)).toBe('active');
  }
}, 60_000);
