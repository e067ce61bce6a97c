/** Shared fixtures of the bolt-*.test.ts files: a real Bolt App over HTTP, signed like Slack signs. */
import { createHmac } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { type App, type Logger, LogLevel } from '@slack/bolt';
import { expect } from 'vitest';
import type { Rotator } from '../src/rotator.js';
import type { TokenStore } from '../src/store/types.js';
import type { FakeSlack, InstallSpec } from '../src/testing/fake-slack.js';

/** The Bolt apps' signing secret (requests are signed with it as Slack signs them). */
export const SIGNING_SECRET = 'bolt-test-signing-secret-0123456789';
/** The OAuth state secret of the apps using Bolt's built-in OAuth. */
export const STATE_SECRET = 'bolt-test-state-secret-0123456789abcdef';

/**
 * The burst tests' compressed time: tokens reported and living 2 s at the fake, refreshed in their last
 * second. Time runs 21,600 times faster than Slack's but the app's own latency does not: on a busy
 * machine a handler can take a second. So every token Bolt gets must stay valid for {@link
 * HANDLER_MARGIN_MS} (`minValidityMs`), as 30 minutes of a 12-hour token would in production.
 */
export const BURST_HARNESS = { lifetimeMs: 2_000, rotator: { refreshWindowMs: 1_000 } } as const;
/** The `minValidityMs` of the burst tests; see {@link BURST_HARNESS}. */
export const HANDLER_MARGIN_MS = 1_000;

/** A Bolt logger that keeps error lines (never printed: Bolt's own lines may quote request bodies). */
export function quietLogger(): Logger & { errors: unknown[][] } {
  const errors: unknown[][] = [];
  let level = LogLevel.ERROR;
  return {
    errors,
    debug() {},
    info() {},
    warn() {},
    error(...msg: unknown[]) {
      errors.push(msg);
    },
    setLevel(next: LogLevel) {
      level = next;
    },
    getLevel: () => level,
    setName() {},
  };
}

/** Starts a Bolt app's HTTP receiver on a free port. */
export async function startApp(app: App): Promise<{ url: string; stop(): Promise<void> }> {
  const server = await app.start(0);
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, stop: async () => void (await app.stop()) };
}

/** Slack's request signature: `v0=` HMAC-SHA256 of `v0:<timestamp>:<body>` under the signing secret. */
export function signatureHeaders(body: string, secret = SIGNING_SECRET): Record<string, string> {
  const timestamp = Math.floor(Date.now() / 1000);
  const signature = createHmac('sha256', secret).update(`v0:${timestamp}:${body}`).digest('hex');
  return { 'x-slack-signature': `v0=${signature}`, 'x-slack-request-timestamp': String(timestamp) };
}

/** POSTs an Events API payload to the app as Slack would; resolves to the HTTP status. */
export async function postEvent(baseUrl: string, payload: unknown, secret = SIGNING_SECRET): Promise<number> {
  const body = JSON.stringify(payload);
  const response = await fetch(`${baseUrl}/slack/events`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...signatureHeaders(body, secret) },
    body,
  });
  await response.arrayBuffer();
  return response.status;
}

/** Where an event happens. */
export interface EventPlace {
  teamId: string;
  enterpriseId?: string;
  isEnterpriseInstall?: boolean;
  /** The acting user. */
  userId?: string;
  botUserId?: string;
}

let events = 0;

/** An `event_callback` envelope as Slack sends it, with `authorizations`. */
export function eventCallback(place: EventPlace, event: Record<string, unknown>): Record<string, unknown> {
  events += 1;
  const org = place.isEnterpriseInstall === true;
  return {
    token: 'legacy-verification-token',
    team_id: place.teamId,
    ...(place.enterpriseId === undefined ? {} : { enterprise_id: place.enterpriseId }),
    api_app_id: 'A0FAKEAPP',
    type: 'event_callback',
    event_id: `Ev${String(events).padStart(8, '0')}`,
    event_time: Math.floor(Date.now() / 1000),
    event,
    authorizations: [
      {
        enterprise_id: place.enterpriseId ?? null,
        team_id: org ? null : place.teamId,
        user_id: place.botUserId ?? 'U0BOT',
        is_bot: true,
        is_enterprise_install: org,
      },
    ],
    is_ext_shared_channel: false,
  };
}

/** An `app_mention` by `place.userId` in channel C1. */
export function mention(place: EventPlace): Record<string, unknown> {
  const ts = `${Math.floor(Date.now() / 1000)}.${String(events).padStart(6, '0')}`;
  return eventCallback(place, {
    type: 'app_mention',
    user: place.userId ?? 'U0ACTOR',
    text: '<@U0BOT> ping',
    ts,
    channel: 'C1',
    event_ts: ts,
  });
}

/** Saves a fake install in the rotator with the bot id `auth.test` reports (as an install flow would). */
export async function installWithBotId(rotator: Rotator, slack: FakeSlack, spec: InstallSpec) {
  const response = slack.install(spec);
  const test = (await (
    await fetch(`${slack.url}auth.test`, {
      method: 'POST',
      headers: { authorization: `Bearer ${response.access_token}` },
    })
  ).json()) as { bot_id?: string };
  if (typeof test.bot_id !== 'string') throw new Error('auth.test gave no bot_id');
  await rotator.saveInstallation(response, { botId: test.bot_id });
  return { botId: test.bot_id, botUserId: response.bot_user_id };
}

/** Installs through a Bolt app's own OAuth routes: `/slack/install` (state cookie), then the redirect. */
export async function installThroughBolt(
  baseUrl: string,
  slack: FakeSlack,
  spec: InstallSpec,
): Promise<void> {
  const start = await fetch(`${baseUrl}/slack/install`, { redirect: 'manual' });
  await start.arrayBuffer();
  const state = /slack-app-oauth-state=([^;]+)/.exec(start.headers.get('set-cookie') ?? '')?.[1];
  if (state === undefined) throw new Error(`/slack/install set no state cookie (HTTP ${start.status})`);
  const code = slack.createAuthorizationCode(spec);
  const query = new URLSearchParams({ code, state });
  const done = await fetch(`${baseUrl}/slack/oauth_redirect?${query}`, {
    headers: { cookie: `slack-app-oauth-state=${state}` },
    redirect: 'manual',
  });
  await done.arrayBuffer();
  if (done.status !== 200) throw new Error(`the OAuth redirect answered HTTP ${done.status}`);
}

/** What a burst of events did. */
export interface BurstResult {
  sent: number;
  /** HTTP statuses Bolt answered, by status. */
  statuses: Record<number, number>;
}

/**
 * For `durationMs`, sends `perTeam` concurrent events for each place every `intervalMs` (without
 * waiting for the answers). The places' bursts are spread evenly over the interval, so the eight
 * events of one team race each other (that is the point) but all teams do not hit the CPU at once.
 * Resolves when every request was answered.
 */
export async function bursts(options: {
  places: EventPlace[];
  perTeam: number;
  durationMs: number;
  intervalMs: number;
  send: (place: EventPlace) => Promise<number>;
}): Promise<BurstResult> {
  const pending: Promise<number>[] = [];
  const startedAt = Date.now();
  const stepMs = options.intervalMs / options.places.length;
  while (Date.now() - startedAt < options.durationMs) {
    for (const place of options.places) {
      for (let i = 0; i < options.perTeam; i++) pending.push(options.send(place));
      await sleep(stepMs);
    }
  }
  const statuses: Record<number, number> = {};
  for (const status of await Promise.all(pending)) statuses[status] = (statuses[status] ?? 0) + 1;
  return { sent: pending.length, statuses };
}

/** A `@slack/web-api` error's Slack code (or its name), never its message's details. */
export function slackErrorCode(error: unknown): string {
  const data = (error as { data?: { error?: unknown } } | null)?.data;
  if (typeof data?.error === 'string') return data.error;
  return error instanceof Error ? error.name : 'unknown';
}

/** Refresh-grant calls whose client credentials came as form fields (`@slack/oauth`'s way, not ours). */
export function formRefreshCalls(slack: FakeSlack): number {
  return slack.calls.filter(
    (c) => c.method === 'oauth.v2.access' && c.grantType === 'refresh_token' && c.clientAuth === 'form',
  ).length;
}

/**
 * Every chain at the fake: refresh calls == rotations, no duplicate, no fork, its current refresh
 * token alive; and every stored refresh token is the live one. Compares without printing tokens.
 */
export async function expectHealthyChains(slack: FakeSlack, store: TokenStore, clientId: string) {
  const chains = slack.chains();
  for (const chain of chains) {
    expect({ id: chain.chainId, duplicates: chain.duplicates, forks: chain.forks }).toEqual({
      id: chain.chainId,
      duplicates: 0,
      forks: 0,
    });
    expect(chain.refreshCalls).toBe(chain.rotations);
    expect(chain.currentRefreshTokenAlive).toBe(true);
  }
  const { records } = await store.list({ clientId, limit: 1000 });
  expect(records.length).toBe(chains.length);
  for (const record of records) {
    expect({ chain: record.chainKey, refreshToken: slack.peekRefreshToken(record.refreshToken) }).toEqual({
      chain: record.chainKey,
      refreshToken: 'active',
    });
    expect(record.status).toBe('active');
  }
  return chains;
}
