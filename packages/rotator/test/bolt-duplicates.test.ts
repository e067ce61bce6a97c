/**
 * The comparison: the same Bolt app and the same bursts, with `@slack/oauth`'s own token rotation
 * (`InstallProvider` + its `MemoryInstallationStore`, no slack-rotator). `InstallProvider.authorize`
 * refreshes whenever a token has less than 2 h left — here always, since tokens live 2 s; in
 * production, during the last 2 h of every 12 h token — with no lock, once per concurrent event.
 */
import { App } from '@slack/bolt';
import oauth from '@slack/oauth';
import { afterEach, expect, test } from 'vitest';
import { createFakeSlack, type FakeSlack } from '../src/testing/fake-slack.js';
import {
  bursts,
  type EventPlace,
  formRefreshCalls,
  installThroughBolt,
  mention,
  postEvent,
  quietLogger,
  SIGNING_SECRET,
  STATE_SECRET,
  startApp,
} from './bolt-helpers.js';

let slack: FakeSlack | undefined;
const stops: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const stop of stops.splice(0)) await stop();
  await slack?.close();
});

test("@slack/oauth's own rotation under the same bursts: duplicate refreshes of one refresh token", async () => {
  // The fake's defaults (grace period, first sibling kept, 2 active tokens), time compressed to 2 s.
  slack = await createFakeSlack({ expiresInSeconds: 2, accessTokenLifetimeMs: 2_000 });
  const installationStore = new oauth.MemoryInstallationStore();
  const app = new App({
    signingSecret: SIGNING_SECRET,
    clientId: slack.clientId,
    clientSecret: slack.clientSecret,
    stateSecret: STATE_SECRET,
    scopes: ['chat:write', 'app_mentions:read'],
    installationStore,
    installerOptions: { clientOptions: { slackApiUrl: slack.url } },
    clientOptions: { slackApiUrl: slack.url },
    processBeforeResponse: true,
    logger: quietLogger(),
  });
  const handled = { posted: 0, failures: 0 };
  app.event('app_mention', async ({ event, client }) => {
    try {
      const answer = await client.chat.postMessage({ channel: event.channel, text: 'pong' });
      if (answer.ok) handled.posted += 1;
      else handled.failures += 1;
    } catch {
      handled.failures += 1;
    }
  });
  const { url, stop } = await startApp(app);
  stops.push(stop);
  const places: EventPlace[] = [];
  for (let i = 0; i < 10; i++) {
    await installThroughBolt(url, slack, { teamId: `T${i}`, botUserId: `U0BOT${i}` });
    places.push({ teamId: `T${i}`, userId: 'U0ACTOR', botUserId: `U0BOT${i}` });
  }

  const result = await bursts({
    places,
    perTeam: 8,
    durationMs: 3_000,
    intervalMs: 500,
    send: (place) => postEvent(url, mention(place)),
  });

  const chains = slack.chains();
  const duplicates = chains.reduce((sum, chain) => sum + chain.duplicates, 0);
  const refreshes = formRefreshCalls(slack);
  // After the grace period, a chain whose stored refresh token Slack refuses is locked out.
  await new Promise((resolve) => setTimeout(resolve, 2_100));
  let lockedOut = 0;
  for (const place of places) {
    const query = { teamId: place.teamId, enterpriseId: undefined, isEnterpriseInstall: false } as const;
    const stored = await installationStore.fetchInstallation(query);
    if (slack.peekRefreshToken(stored.bot?.refreshToken ?? '') === 'dead') lockedOut += 1;
  }
  const summary = `${refreshes} refresh calls, ${duplicates} duplicates, ${lockedOut}/10 chains locked out, ${handled.failures}/${result.sent} handlers failed`;
  // InstallProvider, not slack-rotator, made every refresh here (client credentials as form fields).
  expect(refreshes, summary).toBe(chains.reduce((sum, chain) => sum + chain.refreshCalls, 0));
  expect(duplicates, summary).toBeGreaterThan(0);
  expect(duplicates / refreshes, summary).toBeGreaterThan(0.5);
  // Bolt acknowledged every event with 200 while handlers failed (tokens revoked by the duplicates).
  expect(result.statuses, summary).toEqual({ 200: result.sent });
  expect(handled.failures, summary).toBeGreaterThan(0);
  expect(lockedOut, summary).toBeGreaterThan(0);
});
