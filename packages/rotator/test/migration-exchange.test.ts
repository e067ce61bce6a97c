import { appendFileSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, expect, test } from 'vitest';
import { StorageError } from '../src/errors.js';
import { fingerprintToken } from '../src/migrate/journal.js';
import { migrateInstallations } from '../src/migrate/migrate.js';
import type { InstallationLike, MigrateOptions, MigrationProgress } from '../src/migrate/types.js';
import { callFake } from './fixtures/migration-population.js';
import { type Harness, harness, TOKEN_PATTERN } from './helpers/setup.js';

let h: Harness | undefined;
let dir: string | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  dir = undefined;
});

async function setup(slack: Parameters<typeof harness>[0] = {}) {
  const current = await harness(slack);
  h = current;
  dir = mkdtempSync(join(tmpdir(), 'slack-rotator-migration-'));
  const journal = join(dir, 'migration.journal');
  const bot = (teamId: string, token: string, user?: { id: string; token: string }): InstallationLike => ({
    team: { id: teamId },
    bot: { token, id: `B${teamId}`, userId: `UB${teamId}`, scopes: ['chat:write'] },
    ...(user === undefined ? {} : { user }),
  });
  const legacy = (teamId: string) => current.slack.createLegacyToken({ teamId, kind: 'bot' });
  const run = (installations: InstallationLike[], options: Partial<MigrateOptions> = {}) =>
    migrateInstallations({
      rotator: current.rotator,
      store: current.store,
      installations,
      journal,
      ratePerMinute: 100_000,
      logger: current.logger,
      ...options,
    });
  const exchangeCalls = () => current.slack.calls.filter((c) => c.method === 'oauth.v2.exchange');
  return { h: current, journal, bot, legacy, run, exchangeCalls };
}

test('legacy tokens become chains; refusals carry Slack’s code; a second run sends nothing', async () => {
  const { h, bot, legacy, run, exchangeCalls } = await setup();
  const revoked = legacy('T4');
  await callFake(h.slack, 'auth.revoke', {}, { bearer: revoked });
  const taken = legacy('T5');
  await callFake(h.slack, 'oauth.v2.exchange', { token: taken }, 'client');
  const userToken = h.slack.createLegacyToken({ teamId: 'T2', userId: 'U2', kind: 'user' });
  const installations = [
    bot('T1', legacy('T1')),
    bot('T2', legacy('T2'), { id: 'U2', token: userToken }),
    bot('T3', 'xoxb-3-not-a-real-token'),
    bot('T4', revoked),
    bot('T5', taken),
  ];
  const before = exchangeCalls().length;
  const first = await run(installations);
  expect(first).toMatchObject({ total: 6, exchanged: 3, imported: 0, failed: 3, stoppedBy: null });
  expect(first.failures.map((f) => [f.teamId, f.code, f.slackError, f.retryable])).toEqual([
    ['T3', 'invalid_token', 'invalid_token', false],
    ['T4', 'authorization_not_found', 'authorization_not_found', false],
    ['T5', 'token_already_exchanged', 'token_already_exchanged', false],
  ]);
  expect(exchangeCalls().length - before).toBe(6);
  const info = await h.rotator.getTokenInfo({ teamId: 'T1' });
  expect(info.token).toMatch(/^xoxe\.xoxb-/);
  expect(await h.rotator.getToken({ teamId: 'T2', chain: { userId: 'U2' } })).toMatch(/^xoxe\.xoxp-/);
  expect(h.slack.chainOf(info.token)?.chainId).toBe(
    h.slack.chainOf(installations[0]?.bot?.token as string)?.chainId,
  );

  const second = await run(installations);
  expect(second).toMatchObject({ total: 6, exchanged: 0, alreadyMigrated: 3, failed: 3 });
  expect(second.failures.map((f) => f.code)).toEqual(first.failures.map((f) => f.code));
  expect(exchangeCalls().length - before).toBe(6);
  expect(JSON.stringify([first, second])).not.toMatch(TOKEN_PATTERN);
});

test('an answer lost on the wire is never sent again; retryUncertain asks Slack once and confirms the loss', async () => {
  const { h, bot, legacy, run, exchangeCalls } = await setup();
  const token = legacy('T1');
  h.slack.injectFault('rotate_then_drop', { method: 'oauth.v2.exchange' });
  const first = await run([bot('T1', token)]);
  expect(first.failures).toMatchObject([{ teamId: 'T1', code: 'exchanged_answer_lost', retryable: false }]);
  expect(first.failures[0]?.slackError).toBeUndefined();
  expect(h.slack.chainOf(token)).toBeDefined();
  expect(await h.store.get(`${h.slack.clientId}:T1:bot`)).toBeUndefined();

  const second = await run([bot('T1', token)]);
  expect(second.failures.map((f) => f.code)).toEqual(['exchanged_answer_lost']);
  expect(exchangeCalls()).toHaveLength(1);

  const third = await run([bot('T1', token)], { retryUncertain: true });
  expect(third.failures).toMatchObject([
    { code: 'exchanged_answer_lost', slackError: 'token_already_exchanged' },
  ]);
  expect(exchangeCalls().map((c) => c.outcome)).toEqual([
    'fault:rotate_then_drop',
    'token_already_exchanged',
  ]);
  await run([bot('T1', token)], { retryUncertain: true });
  expect(exchangeCalls()).toHaveLength(2);
});

test('resuming: "exchanging" with the chain saved is done; without it, uncertain until retryUncertain', async () => {
  const { h, journal, bot, legacy, run, exchangeCalls } = await setup();
  const saved = legacy('T1');
  const unsent = legacy('T2');
  await h.rotator.exchangeLegacyToken(saved);
  const line = (token: string, teamId: string) =>
    `${JSON.stringify({ op: 'exchanging', fingerprint: fingerprintToken(token), chainKey: `${h.slack.clientId}:${teamId}:bot`, at: Date.now() })}\n`;
  appendFileSync(journal, line(saved, 'T1') + line(unsent, 'T2'));
  const calls = exchangeCalls().length;
  const first = await run([bot('T1', saved), bot('T2', unsent)]);
  expect(first).toMatchObject({ alreadyMigrated: 1, exchanged: 0 });
  expect(first.failures).toMatchObject([{ teamId: 'T2', code: 'exchanged_answer_lost' }]);
  expect(exchangeCalls()).toHaveLength(calls);
  expect(readFileSync(journal, 'utf8')).toContain('"op":"done"');

  const second = await run([bot('T1', saved), bot('T2', unsent)], { retryUncertain: true });
  expect(second).toMatchObject({ alreadyMigrated: 1, exchanged: 1, failed: 0 });
  expect(
    exchangeCalls()
      .slice(calls)
      .map((c) => c.outcome),
  ).toEqual(['ok']);
});

test('dryRun calls nothing, writes nothing, and says what a run would do', async () => {
  const { h, journal, bot, legacy, run } = await setup();
  const answer = h.slack.install({ teamId: 'T9' });
  const installations: InstallationLike[] = [
    bot('T1', legacy('T1')),
    bot('T2', legacy('T2')),
    {
      team: { id: 'T9' },
      bot: { token: answer.access_token, refreshToken: answer.refresh_token, expiresAt: 2e9 },
    },
  ];
  const calls = h.slack.calls.length;
  const report = await run(installations, { dryRun: true });
  expect(report).toMatchObject({ dryRun: true, total: 3, exchanged: 2, imported: 1, failed: 0 });
  expect(h.slack.calls.length).toBe(calls);
  expect((await h.store.list()).records).toEqual([]);
  expect(existsSync(journal)).toBe(false);
});

test('token_rotation_not_enabled stops the run after the first call, retryable', async () => {
  const { bot, legacy, run, exchangeCalls } = await setup({ slack: { rotationEnabled: false } });
  const report = await run([bot('T1', legacy('T1')), bot('T2', legacy('T2')), bot('T3', legacy('T3'))]);
  expect(report).toMatchObject({ stoppedBy: 'token_rotation_not_enabled', notAttempted: 2, failed: 1 });
  expect(report.failures).toMatchObject([
    {
      teamId: 'T1',
      code: 'token_rotation_not_enabled',
      slackError: 'token_rotation_not_enabled',
      retryable: true,
    },
  ]);
  expect(exchangeCalls()).toHaveLength(1);
});

test('exchanges are spaced by ratePerMinute; a 429 is waited out and the token exchanged', async () => {
  const { h, bot, legacy, run, exchangeCalls } = await setup();
  h.slack.injectFault('rate_limited', { method: 'oauth.v2.exchange', retryAfterSeconds: 0 });
  const report = await run([bot('T1', legacy('T1')), bot('T2', legacy('T2')), bot('T3', legacy('T3'))], {
    ratePerMinute: 600,
    rateLimitWaitMs: 50,
  });
  expect(report).toMatchObject({ exchanged: 3, failed: 0 });
  const calls = exchangeCalls();
  expect(calls.map((c) => c.outcome)).toEqual(['fault:rate_limited', 'ok', 'ok', 'ok']);
  for (let i = 1; i < calls.length; i++) {
    expect((calls[i]?.at ?? 0) - (calls[i - 1]?.at ?? 0)).toBeGreaterThanOrEqual(45);
  }
});

test('429s beyond rateLimitRetries: reported ratelimited, retryable, and a later run exchanges it', async () => {
  const { h, bot, legacy, run } = await setup();
  const installations = [bot('T1', legacy('T1'))];
  h.slack.injectFault('rate_limited', { method: 'oauth.v2.exchange', count: 2, retryAfterSeconds: 0 });
  const first = await run(installations, { rateLimitRetries: 1, rateLimitWaitMs: 10 });
  expect(first.failures).toMatchObject([{ code: 'ratelimited', retryable: true }]);
  expect((await run(installations)).exchanged).toBe(1);
});

test('onProgress after each chain, without tokens; an abort stops between chains', async () => {
  const { bot, legacy, run, exchangeCalls } = await setup();
  const installations = ['T1', 'T2', 'T3', 'T4'].map((t) => bot(t, legacy(t)));
  const seen: MigrationProgress[] = [];
  const controller = new AbortController();
  const report = await run(installations, {
    signal: controller.signal,
    onProgress: (progress) => {
      seen.push(progress);
      if (progress.processed === 2) controller.abort();
    },
  });
  expect(seen.map((p) => [p.processed, p.total, p.outcome, p.exchanged])).toEqual([
    [1, 4, 'exchanged', 1],
    [2, 4, 'exchanged', 2],
  ]);
  expect(seen[1]?.chain).toEqual({
    teamId: 'T2',
    enterpriseId: null,
    isEnterpriseInstall: false,
    chain: 'bot',
  });
  expect(report).toMatchObject({ stoppedBy: 'aborted', notAttempted: 2, exchanged: 2 });
  expect(exchangeCalls()).toHaveLength(2);
  expect(JSON.stringify(seen)).not.toMatch(TOKEN_PATTERN);
});

test('a failing store stops the run (store_failed) before anything is sent', async () => {
  const { h, bot, legacy, run, exchangeCalls } = await setup();
  const store = {
    get: async () => {
      throw new StorageError('store_failed', '[slack-rotator] down');
    },
  };
  const report = await run([bot('T1', legacy('T1')), bot('T2', legacy('T2'))], { store });
  expect(report).toMatchObject({ stoppedBy: 'store_failed', notAttempted: 1, failed: 1 });
  expect(report.failures[0]?.code).toBe('store_failed');
  expect(exchangeCalls()).toHaveLength(0);
  expect(h.logger.lines.some((l) => l.level === 'error')).toBe(true);
});

test('invalid options are TypeErrors with a Node-style code and the [slack-rotator] prefix', async () => {
  const { h, journal } = await setup();
  const good = { rotator: h.rotator, store: h.store, installations: [], journal };
  const cases: unknown[] = [
    undefined,
    { ...good, rotator: {} },
    { ...good, store: undefined },
    { ...good, installations: 3 },
    { ...good, journal: '' },
    { ...good, ratePerMinute: 0 },
    { ...good, rateLimitRetries: 1.5 },
    { ...good, onProgress: 'yes' },
  ];
  for (const options of cases) {
    const error = await migrateInstallations(options as MigrateOptions).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(TypeError);
    expect((error as { code: string }).code).toMatch(/^ERR_INVALID_ARG_(VALUE|TYPE)$/);
    expect((error as Error).message).toMatch(/^\[slack-rotator\] /);
  }
});
