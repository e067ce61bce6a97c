import { setTimeout as sleep } from 'node:timers/promises';
import { WebClient } from '@slack/web-api';
import { afterEach, expect, test } from 'vitest';
import { createRotatingClient } from '../src/web-api.js';
import { type Harness, harness, refreshCalls } from './helpers/setup.js';

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

const postMessages = (h: Harness) => h.slack.calls.filter((c) => c.method === 'chat.postMessage');

test('a cron-style loop on a real WebClient keeps posting across ≥ 10 rotations: no failure, no duplicate', async () => {
  // Tokens live 1 s at the fake; strict single-use refresh tokens, so a double exchange would kill the chain.
  h = await harness({ lifetimeMs: 1_000, slack: { refreshGraceMs: 0 }, rotator: { refreshWindowMs: 500 } });
  const [chainKey] = await h.installWith({ teamId: 'T1' });
  const web = createRotatingClient({
    client: new WebClient(undefined, { slackApiUrl: h.slack.url, retryConfig: { retries: 0 } }),
    rotator: h.rotator,
    key: { teamId: 'T1' },
  });
  const chainOf = () => h?.slack.chains().find((c) => c.teamId === 'T1');
  let sent = 0;
  const deadline = Date.now() + 20_000;
  while ((chainOf()?.rotations ?? 0) < 10 && Date.now() < deadline) {
    const answer = await web.chat.postMessage({ channel: 'C1', text: `tick ${sent}` });
    expect(answer.ok).toBe(true);
    sent += 1;
    await sleep(40);
  }
  const chain = chainOf();
  expect(chain?.rotations).toBeGreaterThanOrEqual(10);
  expect(chain?.duplicates).toBe(0);
  expect(chain?.currentRefreshTokenAlive).toBe(true);
  expect(refreshCalls(h.slack)).toBe(chain?.rotations);
  // Every call reached Slack once and succeeded: no token_expired, no retry, no duplicate message.
  const calls = postMessages(h);
  expect(calls).toHaveLength(sent);
  expect(calls.every((c) => c.outcome === 'ok')).toBe(true);
  expect((await h.store.get(chainKey as string))?.status).toBe('active');
}, 30_000);

test('token_expired mid-way (tokens die before the reported expiry): one refresh and one retry per expiry', async () => {
  // The fake reports 20 s but kills tokens after 700 ms: the rotator only learns of it from token_expired.
  h = await harness({
    lifetimeMs: 20_000,
    slack: { expiresInSeconds: 20, accessTokenLifetimeMs: 700, refreshGraceMs: 0 },
  });
  await h.installWith({ teamId: 'T1' });
  const web = createRotatingClient({
    client: new WebClient(undefined, { slackApiUrl: h.slack.url, retryConfig: { retries: 0 } }),
    rotator: h.rotator,
    key: { teamId: 'T1' },
  });
  let sent = 0;
  const deadline = Date.now() + 20_000;
  while (postMessages(h).filter((c) => c.outcome === 'token_expired').length < 3 && Date.now() < deadline) {
    const answer = await web.chat.postMessage({ channel: 'C1', text: `tick ${sent}` });
    expect(answer.ok).toBe(true);
    sent += 1;
    await sleep(50);
  }
  const calls = postMessages(h);
  const expired = calls.filter((c) => c.outcome === 'token_expired');
  expect(expired.length).toBeGreaterThanOrEqual(3);
  // Each token_expired cost exactly one refresh and one retry, and every retry succeeded.
  expect(refreshCalls(h.slack)).toBe(expired.length);
  expect(calls.filter((c) => c.outcome === 'ok')).toHaveLength(sent);
  expect(calls).toHaveLength(sent + expired.length);
  for (const [i, call] of calls.entries()) {
    if (call.outcome === 'token_expired') expect(calls[i + 1]?.outcome).toBe('ok');
  }
  const chain = h.slack.chains().find((c) => c.teamId === 'T1');
  expect(chain?.duplicates).toBe(0);
  expect(chain?.currentRefreshTokenAlive).toBe(true);
}, 30_000);

test('a WebClient built from its constructor and options works the same', async () => {
  h = await harness({ lifetimeMs: 60_000 });
  await h.installWith({ teamId: 'T1' });
  const web = createRotatingClient({
    WebClient,
    clientOptions: { slackApiUrl: h.slack.url, retryConfig: { retries: 0 } },
    rotator: h.rotator,
    key: { teamId: 'T1' },
  });
  expect(web).toBeInstanceOf(WebClient);
  const answer = await web.chat.postMessage({ channel: 'C1', text: 'hello' });
  expect(answer.ok).toBe(true);
  expect(answer.message?.bot_id).toBeDefined();
});
