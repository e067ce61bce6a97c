import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, expect, test } from 'vitest';
import { migrateInstallations } from '../src/migrate/migrate.js';
import type { InstallationLike } from '../src/migrate/types.js';
import { installationOfAnswer } from './fixtures/migration-population.js';
import { type Harness, harness, refreshCalls } from './helpers/setup.js';

let h: Harness | undefined;
let dir: string | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  dir = undefined;
});

async function setup() {
  const current = await harness({ lifetimeMs: 60_000 });
  h = current;
  dir = mkdtempSync(join(tmpdir(), 'slack-rotator-migration-'));
  const journal = join(dir, 'migration.journal');
  const run = (installations: InstallationLike[]) =>
    migrateInstallations({
      rotator: current.rotator,
      store: current.store,
      installations,
      journal,
      logger: current.logger,
    });
  return { h: current, run };
}

test('chains that already rotate are saved as they are: same tokens, expiry, ids; no call to Slack', async () => {
  const { h, run } = await setup();
  const workspace = h.slack.install({ teamId: 'T1', withUserToken: true, userId: 'U1' });
  const orgWide = h.slack.install({ enterpriseId: 'E1', isEnterpriseInstall: true });
  const grid = h.slack.install({ teamId: 'T2', enterpriseId: 'E2' });
  const installations = [
    installationOfAnswer(workspace, 'BT1'),
    installationOfAnswer(orgWide, 'BE1'),
    installationOfAnswer(grid, 'BT2'),
  ];
  const calls = h.slack.calls.length;
  const report = await run(installations);
  expect(report).toMatchObject({ total: 4, imported: 4, exchanged: 0, failed: 0 });
  expect(h.slack.calls.length).toBe(calls);

  const bot = await h.store.get(`${h.slack.clientId}:T1:bot`);
  expect(bot).toMatchObject({
    accessToken: workspace.access_token,
    refreshToken: workspace.refresh_token,
    botId: 'BT1',
  });
  expect(bot?.botUserId).toBe(workspace.bot_user_id);
  expect(bot?.userId).toBe('U1');
  expect(Math.abs((bot?.expiresAt ?? 0) - (installations[0]?.bot?.expiresAt ?? 0) * 1000)).toBe(0);
  const user = await h.store.get(`${h.slack.clientId}:T1:user:U1`);
  expect(user?.refreshToken).toBe(workspace.authed_user.refresh_token);
  const org = await h.rotator.getTokenInfo({ enterpriseId: 'E1', isEnterpriseInstall: true });
  expect(org).toMatchObject({ token: orgWide.access_token, teamId: null, isEnterpriseInstall: true });
  expect((await h.rotator.getTokenInfo({ teamId: 'T2' })).enterpriseId).toBe('E2');
  // The imported refresh token is the live one: slack-rotator can refresh the chain.
  const refreshed = await h.rotator.refresh({ teamId: 'T1' }, { force: true });
  expect(refreshed.token).not.toBe(workspace.access_token);
  expect(refreshCalls(h.slack)).toBe(1);
});

test('a chain already in the store is never overwritten: re-running after a refresh keeps the new pair', async () => {
  const { h, run } = await setup();
  const answer = h.slack.install({ teamId: 'T1' });
  const installations = [installationOfAnswer(answer, 'BT1')];
  await run(installations);
  await h.rotator.refresh({ teamId: 'T1' }, { force: true });
  const after = await h.store.get(`${h.slack.clientId}:T1:bot`);
  const report = await run(installations);
  expect(report).toMatchObject({ imported: 0, alreadyMigrated: 1 });
  const again = await h.store.get(`${h.slack.clientId}:T1:bot`);
  expect(again?.version).toBe(after?.version);
  expect(h.slack.peekRefreshToken(again?.refreshToken as string)).toBe('active');
});

test('an unknown or past expiry is stored as due: the first use refreshes', async () => {
  const { h, run } = await setup();
  const answer = h.slack.install({ teamId: 'T1' });
  const installation = installationOfAnswer(answer, 'BT1');
  await run([{ ...installation, bot: { ...installation.bot, expiresAt: undefined } }]);
  const stored = await h.store.get(`${h.slack.clientId}:T1:bot`);
  expect(stored?.expiresAt).toBeLessThanOrEqual(Date.now());
  expect(await h.rotator.getToken({ teamId: 'T1' })).not.toBe(answer.access_token);
  expect(refreshCalls(h.slack)).toBe(1);
});

test('what cannot be migrated is reported by ids, never by token; duplicates are counted once', async () => {
  const { h, run } = await setup();
  const answer = h.slack.install({ teamId: 'T1' });
  const installation = installationOfAnswer(answer, 'BT1');
  const report = await run([
    installation,
    { ...installation },
    { team: { id: 'T2' }, bot: { token: 'xoxe.xoxb-1-without-its-refresh-token' } },
    { team: { id: 'T3' }, bot: { token: 'xapp-1-app-level' } },
    { bot: { token: 'xoxb-1-no-team' } },
    { team: { id: 'T4' }, user: { id: '', token: 'xoxp-4-no-user-id' } } as InstallationLike,
    { unreadable: true, source: 'somewhere.json[3]', reason: 'not an object' } as never,
  ]);
  expect(report).toMatchObject({ total: 1, imported: 1, duplicates: 1, failed: 5 });
  expect(report.failures.map((f) => [f.teamId, f.code])).toEqual([
    ['T2', 'unsupported_token'],
    ['T3', 'unsupported_token'],
    [null, 'invalid_installation'],
    ['T4', 'invalid_installation'],
    [null, 'unreadable_installation'],
  ]);
  expect(report.failures[0]?.message).toMatch(/refresh token/);
  expect(JSON.stringify(report)).not.toMatch(/xox|xapp-1/);
});
