/**
 * The broker in the test process: buildBroker over backends assembled from library parts (one
 * in-memory SQLite database for the store and the real SQLite server state, one fake Slack and
 * one rotator per app). For what a real process cannot show cheaply: several apps, the OAuth flow,
 * TLS, log lines.
 */
import { Writable } from 'node:stream';
import Database from 'better-sqlite3';
import { pino } from 'pino';
import { createRotator, type Rotator } from 'slack-rotator';
import { createSqliteStore } from 'slack-rotator/sqlite';
import { createFakeSlack, type FakeSlack } from 'slack-rotator/testing';
import { digestApiKey, generateApiKey, generateApiKeyId } from '../../src/api-keys.js';
import { type Broker, buildBroker } from '../../src/http/broker.js';
import { createSqliteState } from '../../src/state/sqlite.js';
import type { AppConfig, Backends, ServerConfig } from '../../src/types.js';

export const STATE_SECRET = 'a-state-secret-of-at-least-32-characters!';

export interface InProcessBroker {
  /** One fake Slack per app, in app order. */
  slacks: FakeSlack[];
  backends: Backends;
  broker: Broker;
  /** The log lines the broker wrote (level debug). */
  lines: string[];
  createKey(installations: string[] | '*'): Promise<string>;
  close(): Promise<void>;
}

export async function createInProcessBroker(
  options: { appIds?: (string | undefined)[]; tls?: { certFile: string; keyFile: string } } = {},
): Promise<InProcessBroker> {
  const appIds = options.appIds ?? [undefined];
  const slacks = await Promise.all(
    appIds.map((appId, i) =>
      createFakeSlack({ clientId: `client-${i}`, ...(appId === undefined ? {} : { appId }) }),
    ),
  );
  const database = new Database(':memory:');
  const store = createSqliteStore({ database });
  const state = createSqliteState({ database });
  await state.migrate();
  const apps: { config: AppConfig; rotator: Rotator }[] = slacks.map((slack, i) => ({
    config: {
      appId: appIds[i],
      clientId: slack.clientId,
      clientSecret: slack.clientSecret,
      stateSecret: STATE_SECRET,
      scopes: ['chat:write'],
      userScopes: [],
      redirectUri: 'https://example.test/slack/oauth_redirect',
    },
    rotator: createRotator({
      clientId: slack.clientId,
      clientSecret: slack.clientSecret,
      stateSecret: STATE_SECRET,
      store,
      slackApiUrl: slack.url,
    }),
  }));
  const config: ServerConfig = {
    apps: apps.map((a) => a.config),
    store: { kind: 'sqlite', path: ':memory:' },
    lock: { kind: 'same' },
    encryption: undefined,
    listen: { host: '127.0.0.1', port: 0, tls: options.tls },
    slackApiUrl: (slacks[0] as FakeSlack).url,
    refreshWindowMs: 3_600_000,
    sweeper: { enabled: false, intervalMs: 60_000, concurrency: 4, budgetPerMinute: 300 },
    logLevel: 'debug',
    testClock: undefined,
  };
  const backends: Backends = {
    config,
    store,
    lock: store.lock,
    state,
    apps,
    now: Date.now,
    ping: () => state.ping(),
    async close() {
      for (const app of apps) await app.rotator.close();
      await state.close();
      await store.close();
      database.close();
    },
  };
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk, _encoding, done) {
      lines.push(String(chunk));
      done();
    },
  });
  const broker = buildBroker({ backends, logger: pino({ level: 'debug' }, sink) });
  return {
    slacks,
    backends,
    broker,
    lines,
    async createKey(installations) {
      const secret = generateApiKey();
      await state.createApiKey({
        id: generateApiKeyId(),
        name: 'test',
        digest: digestApiKey(secret),
        installations,
        createdAt: Date.now(),
        revokedAt: null,
      });
      return secret;
    },
    async close() {
      await broker.app.close();
      await backends.close();
      for (const slack of slacks) await slack.close();
    },
  };
}
