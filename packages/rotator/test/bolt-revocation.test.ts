import { App } from '@slack/bolt';
import { afterEach, describe, expect, test } from 'vitest';
import { createAuthorize, createRevocationHandlers, registerRevocationListeners } from '../src/bolt.js';
import {
  type EventPlace,
  eventCallback,
  installWithBotId,
  mention,
  postEvent,
  quietLogger,
  SIGNING_SECRET,
  startApp,
} from './bolt-helpers.js';
import { type Harness, harness } from './helpers/setup.js';

let h: Harness;
const stops: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const stop of stops.splice(0)) await stop();
  await h?.close();
});

/** A Bolt app with createAuthorize and the revocation listeners; counts the `app_mention` runs. */
async function boltApp() {
  const app = new App({
    signingSecret: SIGNING_SECRET,
    authorize: createAuthorize(h.rotator),
    clientOptions: { slackApiUrl: h.slack.url },
    processBeforeResponse: true,
    logger: quietLogger(),
  });
  registerRevocationListeners(app, h.rotator);
  const mentions = { runs: 0 };
  app.event('app_mention', async () => {
    mentions.runs += 1;
  });
  const server = await startApp(app);
  stops.push(server.stop);
  return { url: server.url, mentions };
}

const statusOf = async (chainKey: string) => {
  const record = await h.store.get(chainKey);
  return record && { status: record.status, lastErrorCode: record.lastErrorCode };
};

describe('revocation events through a real Bolt app', () => {
  test('tokens_revoked marks the named user chains, then app_uninstalled every chain; records are kept', async () => {
    h = await harness({ lifetimeMs: 60_000 });
    await installWithBotId(h.rotator, h.slack, { teamId: 'T1', userId: 'U1', userScopes: ['search:read'] });
    await installWithBotId(h.rotator, h.slack, { teamId: 'T2' });
    const { url, mentions } = await boltApp();
    const place: EventPlace = { teamId: 'T1', userId: 'U1' };
    const key = (suffix: string) => `${h.rotator.clientId}:${suffix}`;

    const revoked = eventCallback(place, { type: 'tokens_revoked', tokens: { oauth: ['U1'], bot: [] } });
    expect(await postEvent(url, revoked)).toBe(200);
    expect(await statusOf(key('T1:user:U1'))).toEqual({ status: 'revoked', lastErrorCode: 'tokens_revoked' });
    expect(await statusOf(key('T1:bot'))).toEqual({ status: 'active', lastErrorCode: null });
    await expect(h.another().getToken({ teamId: 'T1', chain: { userId: 'U1' } })).rejects.toMatchObject({
      code: 'chain_revoked',
    });
    expect(await postEvent(url, mention(place))).toBe(200);
    expect(mentions.runs).toBe(1);

    expect(await postEvent(url, eventCallback(place, { type: 'app_uninstalled' }))).toBe(200);
    expect(await statusOf(key('T1:bot'))).toEqual({ status: 'revoked', lastErrorCode: 'app_uninstalled' });
    expect(await statusOf(key('T1:user:U1'))).toMatchObject({ status: 'revoked' });
    expect(await statusOf(key('T2:bot'))).toMatchObject({ status: 'active' });
    await expect(h.another().getToken({ teamId: 'T1' })).rejects.toMatchObject({ code: 'chain_revoked' });

    // A re-install makes the chains active again.
    await installWithBotId(h.rotator, h.slack, { teamId: 'T1' });
    expect(await statusOf(key('T1:bot'))).toMatchObject({ status: 'active' });
  });

  test('tokens_revoked for the bot of an org-wide install marks the enterprise bot chain', async () => {
    h = await harness({ lifetimeMs: 60_000 });
    await installWithBotId(h.rotator, h.slack, { isEnterpriseInstall: true, enterpriseId: 'E1' });
    const { url, mentions } = await boltApp();
    const place = { teamId: 'T5', enterpriseId: 'E1', isEnterpriseInstall: true };
    const event = eventCallback(place, { type: 'tokens_revoked', tokens: { bot: ['U0BOT'] } });
    expect(await postEvent(url, event)).toBe(200);
    expect(await statusOf(`${h.rotator.clientId}:E1:bot`)).toMatchObject({ status: 'revoked' });
    // The rotator that handed the token out re-reads the store after cacheTtlMs; a fresh one at once.
    await expect(
      h.another().getToken({ enterpriseId: 'E1', isEnterpriseInstall: true }),
    ).rejects.toMatchObject({
      code: 'chain_revoked',
    });
    expect(mentions.runs).toBe(0);
  });

  test("handlers use the rotator's markRevoked; a Rotator-like object without it needs the store", async () => {
    h = await harness({ lifetimeMs: 60_000 });
    // A Rotator-like object without markRevoked needs the store to mark chains with.
    const without = Object.assign(Object.create(h.rotator), { markRevoked: undefined });
    expect(() => createRevocationHandlers(without)).toThrow(/^\[slack-rotator\] .*needs \{ store \}/);
    expect(() => createRevocationHandlers(without, { store: {} as never })).toThrow(TypeError);
    expect(typeof createRevocationHandlers(h.rotator).tokensRevoked).toBe('function');
    expect(() => registerRevocationListeners({} as never, h.rotator, { store: h.store })).toThrow(
      /needs a Bolt App/,
    );

    const calls: unknown[] = [];
    const capable = Object.assign(Object.create(h.rotator), {
      markRevoked: async (...args: unknown[]) => {
        calls.push(args);
        return 1;
      },
    });
    const handlers = createRevocationHandlers(capable);
    await handlers.tokensRevoked({
      event: { type: 'tokens_revoked', tokens: { oauth: ['U1', 'U2'], bot: ['UB'] } },
      context: { teamId: 'T1', enterpriseId: 'E1', isEnterpriseInstall: false },
    });
    await handlers.appUninstalled({ event: { type: 'app_uninstalled' }, context: { teamId: 'T1' } });
    expect(calls).toEqual([
      [
        { teamId: 'T1', enterpriseId: 'E1', isEnterpriseInstall: false },
        { chains: ['bot', { userId: 'U1' }, { userId: 'U2' }], reason: 'tokens_revoked' },
      ],
      [{ teamId: 'T1' }, { reason: 'app_uninstalled' }],
    ]);
  });
});
