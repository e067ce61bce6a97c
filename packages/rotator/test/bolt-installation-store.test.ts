import { App } from '@slack/bolt';
import oauth from '@slack/oauth';
import { afterEach, describe, expect, test } from 'vitest';
import { createInstallationStore, type OAuthInstallationStore } from '../src/bolt.js';
import {
  BURST_HARNESS,
  bursts,
  type EventPlace,
  expectHealthyChains,
  formRefreshCalls,
  HANDLER_MARGIN_MS,
  installThroughBolt,
  installWithBotId,
  mention,
  postEvent,
  quietLogger,
  SIGNING_SECRET,
  STATE_SECRET,
  slackErrorCode,
  startApp,
} from './bolt-helpers.js';
import { type Harness, harness, refreshCalls, TOKEN_PATTERN } from './helpers/setup.js';

let h: Harness;
const stops: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const stop of stops.splice(0)) await stop();
  await h?.close();
});

/** An InstallProvider on the fake Slack (client credentials as form fields, as @slack/oauth sends them). */
function installProvider(installationStore: OAuthInstallationStore) {
  return new oauth.InstallProvider({
    clientId: h.slack.clientId,
    clientSecret: h.slack.clientSecret,
    stateSecret: STATE_SECRET,
    installationStore,
    clientOptions: { slackApiUrl: h.slack.url },
    logger: quietLogger(),
  });
}

describe("createInstallationStore with Bolt's built-in OAuth", () => {
  test('teams installed through the real OAuth flow; bursts across many rotations; InstallProvider never refreshes', async () => {
    h = await harness(BURST_HARNESS);
    const app = new App({
      signingSecret: SIGNING_SECRET,
      clientId: h.slack.clientId,
      clientSecret: h.slack.clientSecret,
      stateSecret: STATE_SECRET,
      scopes: ['chat:write', 'app_mentions:read'],
      installationStore: createInstallationStore(h.rotator, { minValidityMs: HANDLER_MARGIN_MS }),
      installerOptions: { clientOptions: { slackApiUrl: h.slack.url } },
      clientOptions: { slackApiUrl: h.slack.url },
      processBeforeResponse: true,
      logger: quietLogger(),
    });
    const handled = { posted: 0, failures: [] as string[] };
    app.event('app_mention', async ({ event, client }) => {
      try {
        const answer = await client.chat.postMessage({ channel: event.channel, text: 'pong' });
        if (answer.ok) handled.posted += 1;
        else handled.failures.push(String(answer.error));
      } catch (error) {
        handled.failures.push(slackErrorCode(error));
      }
    });
    const { url, stop } = await startApp(app);
    stops.push(stop);

    const places: EventPlace[] = [];
    for (let i = 0; i < 10; i++) {
      const teamId = `T${i}`;
      await installThroughBolt(url, h.slack, { teamId, botUserId: `U0BOT${i}` });
      const info = await h.rotator.getTokenInfo({ teamId });
      expect(info.botId).toMatch(/^B/); // from InstallProvider's auth.test, kept by storeInstallation
      places.push({ teamId, userId: 'U0ACTOR', botUserId: `U0BOT${i}` });
    }

    const result = await bursts({
      places,
      perTeam: 8,
      durationMs: 6_000,
      intervalMs: 500,
      send: (place) => postEvent(url, mention(place)),
    });

    expect(result.statuses).toEqual({ 200: result.sent });
    expect(handled.failures).toEqual([]);
    expect(handled.posted).toBe(result.sent);
    expect(formRefreshCalls(h.slack)).toBe(0);
    const chains = await expectHealthyChains(h.slack, h.store, h.rotator.clientId);
    const rotations = chains.reduce((sum, chain) => sum + chain.rotations, 0);
    expect(refreshCalls(h.slack)).toBe(rotations);
    for (const chain of chains) expect(chain.rotations).toBeGreaterThanOrEqual(2);
  });

  test('a bare InstallProvider never refreshes a token with less than 2 h left; with a refresh token it would', async () => {
    h = await harness({ lifetimeMs: 2_000 });
    await installWithBotId(h.rotator, h.slack, { teamId: 'T1' });
    const store = createInstallationStore(h.rotator);
    const provider = installProvider(store);
    for (let i = 0; i < 5; i++) {
      const result = await provider.authorize({
        teamId: 'T1',
        enterpriseId: undefined,
        isEnterpriseInstall: false,
      });
      expect(h.slack.peekAccessToken(result.botToken ?? '')).toBe('active');
      expect(result.botRefreshToken === undefined && result.userRefreshToken === undefined).toBe(true);
      await new Promise((resolve) => setTimeout(resolve, 300));
    }
    expect(formRefreshCalls(h.slack)).toBe(0);

    // The control: the same provider, given the refresh token, refreshes on its own at once.
    const leaky = installProvider({
      ...store,
      async fetchInstallation(query) {
        const installation = await store.fetchInstallation(query);
        const record = await h.store.get(`${h.rotator.clientId}:T1:bot`);
        return { ...installation, bot: { ...installation.bot!, refreshToken: record?.refreshToken } };
      },
    });
    await leaky.authorize({ teamId: 'T1', enterpriseId: undefined, isEnterpriseInstall: false });
    expect(formRefreshCalls(h.slack)).toBe(1);
  });

  test('fetchInstallation: fresh tokens, authVersion v2, expiries in epoch seconds, no refresh token', async () => {
    h = await harness({ lifetimeMs: 60_000 });
    const { botId, botUserId } = await installWithBotId(h.rotator, h.slack, {
      teamId: 'T1',
      userId: 'U1',
      userScopes: ['search:read'],
    });
    const store = createInstallationStore(h.rotator);

    const installation = await store.fetchInstallation({ teamId: 'T1', isEnterpriseInstall: false });
    const serialized = JSON.stringify(installation);
    expect(serialized).not.toMatch(/refreshToken|xoxe-1-/);
    const nowSeconds = Date.now() / 1000;
    expect(installation.bot?.expiresAt).toBeGreaterThan(nowSeconds);
    expect(installation.bot?.expiresAt).toBeLessThanOrEqual(nowSeconds + 60);
    expect(h.slack.peekAccessToken(installation.bot?.token ?? '')).toBe('active');
    expect(h.slack.peekAccessToken(installation.user.token ?? '')).toBe('active');
    expect({
      ...installation,
      bot: { ...installation.bot, token: '-' },
      user: { ...installation.user, token: '-' },
    }).toEqual({
      team: { id: 'T1' },
      enterprise: undefined,
      user: { id: 'U1', token: '-', scopes: ['search:read'], expiresAt: expect.any(Number) },
      bot: {
        token: '-',
        scopes: ['chat:write'],
        id: botId,
        userId: botUserId,
        expiresAt: expect.any(Number),
      },
      appId: h.slack.appId,
      tokenType: 'bot',
      isEnterpriseInstall: false,
      authVersion: 'v2',
    });

    // Another user: no user token (as @slack/oauth's FileInstallationStore answers).
    const other = await store.fetchInstallation({ teamId: 'T1', userId: 'U2', isEnterpriseInstall: false });
    expect(other.user).toEqual({ id: 'U2', token: undefined, scopes: undefined });
    expect(h.slack.peekAccessToken(other.bot?.token ?? '')).toBe('active');

    // An org-wide install: no team, the enterprise.
    await installWithBotId(h.rotator, h.slack, { isEnterpriseInstall: true, enterpriseId: 'E1' });
    const org = await store.fetchInstallation({
      teamId: 'T7',
      enterpriseId: 'E1',
      isEnterpriseInstall: true,
    });
    expect({
      team: org.team,
      enterprise: org.enterprise,
      isEnterpriseInstall: org.isEnterpriseInstall,
    }).toEqual({
      team: undefined,
      enterprise: { id: 'E1' },
      isEnterpriseInstall: true,
    });

    await expect(
      store.fetchInstallation({ teamId: 'T404', isEnterpriseInstall: false }),
    ).rejects.toMatchObject({
      code: 'installation_not_found',
      message: expect.stringContaining('workspace T404'),
    });
  });

  test('storeInstallation keeps only rotating installations straight from the OAuth flow', async () => {
    h = await harness({ lifetimeMs: 60_000 });
    const store = createInstallationStore(h.rotator);
    const answer = h.slack.install({ teamId: 'T1', userId: 'U1', userScopes: ['search:read'] });
    const expiresAt = Math.floor(Date.now() / 1000) + answer.expires_in;
    await store.storeInstallation({
      team: { id: 'T1', name: 'One' },
      enterprise: undefined,
      user: {
        id: 'U1',
        token: answer.authed_user.access_token,
        refreshToken: answer.authed_user.refresh_token,
        expiresAt,
        scopes: ['search:read'],
      },
      bot: {
        token: answer.access_token,
        refreshToken: answer.refresh_token,
        expiresAt,
        scopes: ['chat:write'],
        id: 'B1',
        userId: answer.bot_user_id,
      },
      appId: answer.app_id,
      tokenType: 'bot',
      isEnterpriseInstall: false,
      authVersion: 'v2',
    });
    const bot = await h.rotator.getTokenInfo({ teamId: 'T1' });
    expect(bot.token === answer.access_token).toBe(true);
    expect(bot).toMatchObject({
      botId: 'B1',
      botUserId: answer.bot_user_id,
      userId: 'U1',
      scopes: ['chat:write'],
    });
    expect(bot.expiresAt).toBeGreaterThan(Date.now() + 58_000);
    const user = await h.rotator.getTokenInfo({ teamId: 'T1', chain: { userId: 'U1' } });
    expect(user.token === answer.authed_user.access_token).toBe(true);

    const fetched = await store.fetchInstallation({ teamId: 'T1', isEnterpriseInstall: false });
    const refused = await store.storeInstallation(fetched).catch((e: unknown) => e);
    expect(refused).toMatchObject({
      name: 'TypeError',
      code: 'ERR_INVALID_ARG_VALUE',
      message: expect.stringMatching(/^\[slack-rotator\] installation\.(user|bot)\.refreshToken is missing/),
    });
    expect(TOKEN_PATTERN.test(String(refused))).toBe(false);
    await expect(
      store.storeInstallation({ ...fetched, authVersion: 'v1', user: { id: 'U1', token: 'xoxp-legacy' } }),
    ).rejects.toThrow(/v1/);
    expect(() => createInstallationStore({} as never)).toThrow(
      /^\[slack-rotator\] createInstallationStore needs a rotator/,
    );
    expect(() => createInstallationStore(h.rotator, { minValidityMs: Number.NaN })).toThrow(TypeError);
  });

  test('deleteInstallation removes the installation; with userId it revokes that user chain only', async () => {
    h = await harness({ lifetimeMs: 60_000 });
    await installWithBotId(h.rotator, h.slack, { teamId: 'T1', userId: 'U1', userScopes: ['search:read'] });
    await installWithBotId(h.rotator, h.slack, { teamId: 'T2' });

    // The rotator marks the chain itself (markRevoked): no store option is needed.
    const store = createInstallationStore(h.rotator);
    await store.deleteInstallation({ teamId: 'T1', userId: 'U1', isEnterpriseInstall: false });
    const userRecord = await h.store.get(`${h.rotator.clientId}:T1:user:U1`);
    expect(userRecord?.status).toBe('revoked');
    // A rotator with an empty cache (another process) sees the mark at once; the one that served the
    // token may serve it from its cache for up to cacheTtlMs.
    const elsewhere = createInstallationStore(h.another());
    const afterUser = await elsewhere.fetchInstallation({
      teamId: 'T1',
      userId: 'U1',
      isEnterpriseInstall: false,
    });
    expect(afterUser.user.token === undefined).toBe(true);
    expect(h.slack.peekAccessToken(afterUser.bot?.token ?? '')).toBe('active');

    await store.deleteInstallation({ teamId: 'T1', isEnterpriseInstall: false });
    await expect(store.fetchInstallation({ teamId: 'T1', isEnterpriseInstall: false })).rejects.toMatchObject(
      {
        code: 'installation_not_found',
      },
    );
    expect(
      (await h.store.list({ clientId: h.rotator.clientId })).records.map((r) => r.installationId),
    ).toEqual(['T2']);
  });
});
