/**
 * The broker side of the demo: `slack-rotator serve` in this process (the broker and the sweeper on
 * the embedded SQLite store in a temporary folder, pointed at the fake Slack), an API key for the
 * clients, and the workspaces installed through `POST /v1/installations`.
 */
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { FakeSlack } from 'slack-rotator/testing';
import { digestApiKey, generateApiKey, generateApiKeyId } from '../api-keys.js';
import { createLogger } from '../logger.js';
import { type RunningServer, startServer } from '../serve.js';
import type { ServerConfig } from '../types.js';
import { SETTINGS } from './config.js';
import type { Workspace } from './protocol.js';

/** The broker of a demo run. */
export interface DemoBroker {
  server: RunningServer;
  /** A key that may read and register every installation (`'*'`). Never printed. */
  apiKey: string;
}

/** The configuration `serve` would load, built for the demo: everything local, nothing to set up. */
export function demoServerConfig(slack: FakeSlack, folder: string): ServerConfig {
  return {
    apps: [
      {
        appId: slack.appId,
        clientId: slack.clientId,
        clientSecret: slack.clientSecret,
        stateSecret: undefined,
        scopes: ['chat:write'],
        userScopes: [],
        redirectUri: undefined,
      },
    ],
    store: { kind: 'sqlite', path: join(folder, 'tokens.db') },
    lock: { kind: 'same' },
    encryption: undefined,
    listen: { host: '127.0.0.1', port: 0, tls: undefined },
    slackApiUrl: slack.url,
    refreshWindowMs: SETTINGS.refreshWindowMs,
    sweeper: {
      enabled: true,
      intervalMs: SETTINGS.sweepIntervalMs,
      concurrency: 4,
      budgetPerMinute: SETTINGS.sweepBudgetPerMinute,
    },
    // Errors only: the progress line and the report are the demo's output.
    logLevel: 'error',
    testClock: undefined,
  };
}

/** Starts the broker and sweeper and creates the clients' API key. */
export async function startDemoBroker(slack: FakeSlack, folder: string): Promise<DemoBroker> {
  const config = demoServerConfig(slack, folder);
  const server = await startServer(config, { logger: createLogger(config), migrate: true });
  try {
    const apiKey = generateApiKey();
    await server.backends.state.createApiKey({
      id: generateApiKeyId(),
      name: 'demo clients',
      digest: digestApiKey(apiKey),
      installations: '*',
      createdAt: server.backends.now(),
      revokedAt: null,
    });
    return { server, apiKey };
  } catch (error) {
    await server.stop();
    throw error;
  }
}

/** One broker answer to `POST /v1/installations`. */
interface Registered {
  installation_id: string;
}

async function register(broker: DemoBroker, answer: unknown): Promise<Registered> {
  const response = await fetch(`${broker.server.url}/v1/installations`, {
    method: 'POST',
    headers: { authorization: `Bearer ${broker.apiKey}`, 'content-type': 'application/json' },
    body: JSON.stringify(answer),
  });
  const body = (await response.json()) as Registered & { error?: { code: string; message: string } };
  if (response.status !== 201) {
    throw new Error(
      `POST /v1/installations answered ${response.status}: ${body.error?.code ?? 'unknown'} ${body.error?.message ?? ''}`,
    );
  }
  return body;
}

/**
 * Installs each workspace at the fake Slack and registers its install answer with the broker, at
 * `startAt + maxAge − age`: so that at `startAt + maxAge` each chain is `age` old, as the naive mode
 * backdates them, and chains rotate apart rather than all at once.
 */
export async function installThroughBroker(
  slack: FakeSlack,
  broker: DemoBroker,
  teams: readonly { teamId: string; ageMs: number }[],
  startAt: number,
  maxAgeMs: number,
): Promise<Workspace[]> {
  return Promise.all(
    teams.map(async ({ teamId, ageMs }) => {
      const wait = startAt + maxAgeMs - ageMs - Date.now();
      if (wait > 0) await sleep(wait);
      const { installation_id: installationId } = await register(broker, slack.install({ teamId }));
      return { teamId, installationId, chainKey: null };
    }),
  );
}
