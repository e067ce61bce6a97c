/**
 * End to end: `serve` with the sweeper enabled refreshes chains that are due before anyone asks,
 * and stops it on SIGTERM; with it disabled nothing is refreshed behind the clients' backs.
 */
import { afterEach, expect, test } from 'vitest';
import { type BrokerFixture, createBrokerFixture, refreshCalls } from './helpers/broker-fixture.js';

let f: BrokerFixture | undefined;
afterEach(async () => {
  const leaks = f?.outputLeaks() ?? [];
  await f?.close();
  f = undefined;
  expect(leaks).toEqual([]);
});

/** Saves installations as if Slack had answered almost 12 h ago: 2 min left, due for refresh. */
async function installDue(fixture: BrokerFixture, teams: string[]): Promise<void> {
  const rotator = fixture.backends.apps[0]?.rotator;
  if (rotator === undefined) throw new Error('no app');
  for (const teamId of teams) {
    await rotator.saveInstallation(fixture.slack.install({ teamId }), {
      issuedAt: Date.now() - (43_200 - 120) * 1000,
    });
  }
}

test('with the sweeper on, due chains are refreshed without a request, and SIGTERM stops it', async () => {
  f = await createBrokerFixture();
  const fixture = f;
  await installDue(f, ['T1', 'T2', 'T3']);
  const server = await f.start({ SLACK_ROTATOR_SWEEP: 'true', SLACK_ROTATOR_SWEEP_INTERVAL_MS: '200' });
  const teams = ['T1', 'T2', 'T3'];
  const records = () =>
    Promise.all(teams.map((t) => fixture.backends.store.get(`${fixture.slack.clientId}:${t}:bot`)));
  const refreshed = async () =>
    (await records()).every((r) => (r?.expiresAt ?? 0) > Date.now() + 11 * 3_600_000);
  const deadline = Date.now() + 20_000;
  while (!(await refreshed()) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  expect(await refreshed()).toBe(true);
  expect(refreshCalls(f)).toBe(3);
  for (const record of await records()) {
    expect(f.slack.peekAccessToken(record?.accessToken as string)).toBe('active');
  }
  expect(await server.stop('SIGTERM')).toBe(0);
  expect(server.output()).not.toMatch(/xox[a-z]?[.-]|srk_/);
});

test('with the sweeper off, an idle server refreshes nothing (the control for the test above)', async () => {
  f = await createBrokerFixture();
  await installDue(f, ['T1']);
  const server = await f.start({ SLACK_ROTATOR_SWEEP: 'false' });
  // The same wait the other test needs at most, shortened: the server is up and idle.
  await new Promise((r) => setTimeout(r, 1_000));
  expect(refreshCalls(f)).toBe(0);
  expect(await server.stop('SIGTERM')).toBe(0);
});
