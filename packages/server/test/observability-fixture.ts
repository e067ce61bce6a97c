/**
 * A small fleet for the observability tests: a fake Slack, a real store, one app's rotator (as
 * `Backends.apps` holds it), and helpers that put chains in known states through real refreshes.
 */
import { createRotator, type Rotator, type RotatorOptions, type TokenStore } from 'slack-rotator';
import { createFakeSlack, type FakeSlack, type FakeSlackOptions } from 'slack-rotator/testing';
import type { AppConfig } from '../src/types.js';

export interface Fleet {
  slack: FakeSlack;
  store: TokenStore;
  rotator: Rotator;
  apps: { config: AppConfig; rotator: Rotator }[];
  /** Another rotator of the same app on the same store (a second process, in miniature). */
  another(overrides?: Partial<RotatorOptions>): Rotator;
  /** Installs a workspace at the fake and saves it with `remainingMs` of life left. */
  install(
    teamId: string,
    remainingMs: number,
    spec?: { userToken?: boolean; userId?: string },
  ): Promise<string[]>;
  /** Every token and refresh token now stored (to assert that none is shown anywhere). */
  storedSecrets(): Promise<string[]>;
  close(): Promise<void>;
}

export async function createFleet(options: {
  store: TokenStore;
  slack?: FakeSlackOptions;
  rotator?: Partial<RotatorOptions>;
}): Promise<Fleet> {
  const slack = await createFakeSlack({ expiresInSeconds: 6 * 3600, ...options.slack });
  const rotators: Rotator[] = [];
  const silent = { debug() {}, info() {}, warn() {}, error() {} };
  const another = (overrides: Partial<RotatorOptions> = {}) => {
    const rotator = createRotator({
      clientId: slack.clientId,
      clientSecret: slack.clientSecret,
      store: options.store,
      slackApiUrl: slack.url,
      logger: silent,
      refreshJitterMs: 0,
      requestTimeoutMs: 2_000,
      ...options.rotator,
      ...overrides,
    });
    rotators.push(rotator);
    return rotator;
  };
  const rotator = another();
  const config: AppConfig = {
    appId: 'A0FAKEAPP',
    clientId: slack.clientId,
    clientSecret: slack.clientSecret,
    stateSecret: undefined,
    scopes: ['chat:write'],
    userScopes: [],
    redirectUri: undefined,
  };
  return {
    slack,
    store: options.store,
    rotator,
    apps: [{ config, rotator }],
    another,
    async install(teamId, remainingMs, spec = {}) {
      const response = slack.install({
        teamId,
        ...(spec.userToken ? { withUserToken: true } : {}),
        ...(spec.userId ? { userId: spec.userId } : {}),
      });
      const issuedAt = Date.now() - (response.expires_in * 1000 - remainingMs);
      const saved = await rotator.saveInstallation(response, { issuedAt });
      return saved.chains.map((c) => c.chainKey);
    },
    async storedSecrets() {
      const secrets: string[] = [];
      let cursor: string | undefined;
      do {
        const page = await options.store.list({ limit: 1000, ...(cursor === undefined ? {} : { cursor }) });
        for (const r of page.records) {
          secrets.push(r.accessToken, r.refreshToken);
          if (r.fallbackRefreshToken !== null) secrets.push(r.fallbackRefreshToken);
        }
        cursor = page.cursor;
      } while (cursor !== undefined);
      return secrets;
    },
    async close() {
      await Promise.all(rotators.map((r) => r.close()));
      await slack.close();
    },
  };
}

/** `name{labels} value` lines of a Prometheus text exposition, by series. */
export function parseMetrics(text: string): Map<string, number> {
  const series = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const at = line.lastIndexOf(' ');
    series.set(line.slice(0, at), Number(line.slice(at + 1)));
  }
  return series;
}
