import { App } from '@slack/bolt';
import { afterEach, describe, expect, test } from 'vitest';
import { type AuthorizeOptions, createAuthorize } from '../src/bolt.js';
import { isReauthorizationRequired } from '../src/errors.js';
import {
  BURST_HARNESS,
  bursts,
  type EventPlace,
  expectHealthyChains,
  HANDLER_MARGIN_MS,
  installWithBotId,
  mention,
  postEvent,
  quietLogger,
  SIGNING_SECRET,
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

/** A Bolt app on `createAuthorize(rotator)` whose `app_mention` listener posts a reply and counts it. */
async function boltApp(options?: AuthorizeOptions) {
  const app = new App({
    signingSecret: SIGNING_SECRET,
    authorize: createAuthorize(h.rotator, options),
    clientOptions: { slackApiUrl: h.slack.url },
    processBeforeResponse: true,
    logger: quietLogger(),
  });
  const handled = { posted: 0, failures: [] as string[], contexts: [] as Record<string, unknown>[] };
  app.event('app_mention', async ({ event, client, context }) => {
    handled.contexts.push(context);
    try {
      const answer = await client.chat.postMessage({ channel: event.channel, text: 'pong' });
      if (answer.ok) handled.posted += 1;
      else handled.failures.push(String(answer.error));
    } catch (error) {
      handled.failures.push(slackErrorCode(error));
    }
  });
  const server = await startApp(app);
  stops.push(server.stop);
  return { app, url: server.url, handled };
}

describe('createAuthorize in a real Bolt app', () => {
  test('bursts of concurrent events for 10 teams across many rotations: every reply posted, one refresh per rotation', async () => {
    h = await harness(BURST_HARNESS);
    const places: EventPlace[] = [];
    for (let i = 0; i < 10; i++) {
      const teamId = `T${i}`;
      const { botUserId } = await installWithBotId(h.rotator, h.slack, { teamId });
      places.push({ teamId, userId: 'U0ACTOR', botUserId });
    }
    const { url, handled } = await boltApp({ minValidityMs: HANDLER_MARGIN_MS });

    const result = await bursts({
      places,
      perTeam: 8,
      durationMs: 8_000,
      intervalMs: 500,
      send: (place) => postEvent(url, mention(place)),
    });

    expect(result.statuses).toEqual({ 200: result.sent });
    expect(handled.failures).toEqual([]);
    expect(handled.posted).toBe(result.sent);
    const chains = await expectHealthyChains(h.slack, h.store, h.rotator.clientId);
    const rotations = chains.reduce((sum, chain) => sum + chain.rotations, 0);
    expect(refreshCalls(h.slack)).toBe(rotations);
    for (const chain of chains) expect(chain.rotations).toBeGreaterThanOrEqual(3);
  });

  test('an org-wide install and a workspace inside a grid authorize with the right chains', async () => {
    h = await harness({ lifetimeMs: 60_000 });
    const org = await installWithBotId(h.rotator, h.slack, {
      isEnterpriseInstall: true,
      enterpriseId: 'E1',
      userId: 'U0ORG',
      userScopes: ['search:read'],
    });
    const grid = await installWithBotId(h.rotator, h.slack, {
      teamId: 'T9',
      enterpriseId: 'E2',
      userId: 'U0GRID',
      botScopes: ['chat:write', 'app_mentions:read'],
    });
    const authorize = createAuthorize(h.rotator);

    const orgResult = await authorize({
      teamId: 'T5',
      enterpriseId: 'E1',
      isEnterpriseInstall: true,
      userId: 'U0ORG',
    });
    const orgBot = await h.rotator.getTokenInfo({ enterpriseId: 'E1', isEnterpriseInstall: true });
    const orgUser = await h.rotator.getTokenInfo({
      enterpriseId: 'E1',
      isEnterpriseInstall: true,
      chain: { userId: 'U0ORG' },
    });
    expect(orgResult.botToken === orgBot.token).toBe(true);
    expect(orgResult.userToken === orgUser.token).toBe(true);
    expect(h.slack.peekAccessToken(orgResult.userToken ?? '')).toBe('active');
    expect({ ...orgResult, botToken: '-', userToken: '-' }).toEqual({
      botToken: '-',
      userToken: '-',
      botId: org.botId,
      botUserId: org.botUserId,
      botScopes: ['chat:write'],
      userScopes: ['search:read'],
      userId: 'U0ORG',
      teamId: 'T5',
      enterpriseId: 'E1',
    });

    // userTokens: false (a bot-only app) skips the user chain even where one is stored.
    const botOnly = await createAuthorize(h.rotator, { userTokens: false })({
      teamId: 'T5',
      enterpriseId: 'E1',
      isEnterpriseInstall: true,
      userId: 'U0ORG',
    });
    expect(botOnly.botToken === orgBot.token && !('userToken' in botOnly)).toBe(true);

    // Another user of the org has no user chain: bot token only, no error.
    const other = await authorize({
      teamId: 'T5',
      enterpriseId: 'E1',
      isEnterpriseInstall: true,
      userId: 'U0X',
    });
    expect(other.botToken === orgBot.token).toBe(true);
    expect('userToken' in other || 'userTokenError' in other).toBe(false);

    const gridResult = await authorize({ teamId: 'T9', enterpriseId: 'E2', isEnterpriseInstall: false });
    const gridBot = await h.rotator.getTokenInfo({ teamId: 'T9', isEnterpriseInstall: false });
    expect(gridResult.botToken === gridBot.token).toBe(true);
    expect(gridResult).toMatchObject({
      botId: grid.botId,
      botUserId: grid.botUserId,
      botScopes: ['chat:write', 'app_mentions:read'],
      teamId: 'T9',
      enterpriseId: 'E2',
    });

    // The same through Bolt: events from both installs reach the listener and its replies post.
    const { url, handled } = await boltApp();
    const orgPlace = { teamId: 'T5', enterpriseId: 'E1', isEnterpriseInstall: true, userId: 'U0ORG' };
    expect(await postEvent(url, mention({ ...orgPlace, botUserId: org.botUserId }))).toBe(200);
    expect(await postEvent(url, mention({ teamId: 'T9', enterpriseId: 'E2', userId: 'U0GRID' }))).toBe(200);
    expect(handled.failures).toEqual([]);
    expect(handled.posted).toBe(2);
    expect(
      handled.contexts.map((c) => [c.teamId, c.enterpriseId, c.isEnterpriseInstall, 'userToken' in c]),
    ).toEqual([
      ['T5', 'E1', true, true],
      ['T9', 'E2', false, false],
    ]);
  });

  test('a chain that needs re-authorization: authorize throws a typed error naming the installation; no listener runs', async () => {
    h = await harness({ lifetimeMs: 60_000 });
    await installWithBotId(h.rotator, h.slack, { teamId: 'T1' });
    const dead = await h.rotator.getToken({ teamId: 'T1' });
    h.slack.revokeChain(dead);
    await expect(h.rotator.refresh({ teamId: 'T1' }, { force: true })).rejects.toMatchObject({
      code: 'invalid_refresh_token',
    });

    const error = await createAuthorize(h.rotator)({ teamId: 'T1', isEnterpriseInstall: false }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isReauthorizationRequired(error)).toBe(true);
    expect(error).toMatchObject({
      code: 'reauthorization_required',
      chainKey: `${h.rotator.clientId}:T1:bot`,
      message: expect.stringMatching(/^\[slack-rotator\] workspace T1 must install the app again/),
      cause: { code: 'reauthorization_required' },
    });
    expect(TOKEN_PATTERN.test(`${(error as Error).message} ${JSON.stringify(error)}`)).toBe(false);

    const { url, handled } = await boltApp();
    expect(await postEvent(url, mention({ teamId: 'T1' }))).toBe(401);
    expect(await postEvent(url, mention({ teamId: 'T404' }))).toBe(401);
    expect(handled.contexts).toHaveLength(0);
    await expect(
      createAuthorize(h.rotator)({ teamId: 'T404', isEnterpriseInstall: false }),
    ).rejects.toMatchObject({
      name: 'ReauthorizationRequiredError',
      code: 'installation_not_found',
      message: expect.stringContaining('workspace T404'),
    });
  });

  test('a dead user chain gives the bot token only, and says why in userTokenError', async () => {
    h = await harness({ lifetimeMs: 60_000 });
    await installWithBotId(h.rotator, h.slack, { teamId: 'T1', userId: 'U1', userScopes: ['search:read'] });
    const userKey = { teamId: 'T1', chain: { userId: 'U1' } };
    h.slack.revokeChain(await h.rotator.getToken(userKey));
    await expect(h.rotator.refresh(userKey, { force: true })).rejects.toMatchObject({
      code: 'invalid_refresh_token',
    });

    const result = await createAuthorize(h.rotator)({
      teamId: 'T1',
      userId: 'U1',
      isEnterpriseInstall: false,
    });
    expect(h.slack.peekAccessToken(result.botToken ?? '')).toBe('active');
    expect(result.userToken === undefined).toBe(true);
    expect(result.userTokenError).toMatchObject({
      name: 'ReauthorizationRequiredError',
      code: 'reauthorization_required',
    });
  });

  test('invalid arguments fail fast with a [slack-rotator] TypeError', async () => {
    h = await harness();
    expect(() => createAuthorize(undefined as never)).toThrow(
      expect.objectContaining({
        code: 'ERR_INVALID_ARG_TYPE',
        message: expect.stringMatching(/^\[slack-rotator\]/),
      }),
    );
    expect(() => createAuthorize(h.rotator, { minValidityMs: -1 })).toThrow(
      /^\[slack-rotator\] .*minValidityMs/,
    );
    expect(() => createAuthorize(h.rotator, 'fast' as never)).toThrow(TypeError);
    expect(() => createAuthorize(h.rotator, { userTokens: 'no' as never })).toThrow(/userTokens/);
    await expect(createAuthorize(h.rotator)(null as never)).rejects.toThrow(/^\[slack-rotator\]/);
    await expect(createAuthorize(h.rotator)({ isEnterpriseInstall: false })).rejects.toMatchObject({
      code: 'ERR_INVALID_ARG_VALUE',
    });
  });
});
