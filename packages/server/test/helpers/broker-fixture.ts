/**
 * One end-to-end broker setup: a fake Slack, a store (SQLite file or PostgreSQL URL), the
 * configuration as environment variables, the same backends opened in the test process (to create
 * API keys and look at the store), and the server as a real process.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { createFakeSlack, type FakeSlack, type FakeSlackOptions } from 'slack-rotator/testing';
import { digestApiKey, generateApiKey, generateApiKeyId } from '../../src/api-keys.js';
import { openBackends } from '../../src/backends.js';
import { loadConfig } from '../../src/config.js';
import type { Backends } from '../../src/types.js';
import { type ServerProcess, startServerProcess, stopAllServerProcesses } from './server-process.js';

export interface BrokerFixture {
  slack: FakeSlack;
  env: Record<string, string>;
  /** Backends in the test process, over the server's store and state. */
  backends: Backends;
  /** Every API key secret created here (for output scans). */
  secrets: string[];
  /** Creates an API key in the server state; returns its secret. */
  createKey(installations: string[] | '*', options?: { revoked?: boolean }): Promise<string>;
  /**
   * What in the output of the server processes started here looks like a token (`xox…`) or is one
   * of the API keys created here: descriptions only (line numbers), never the secret itself.
   */
  outputLeaks(): string[];
  /** Starts (another) server process on this setup. */
  start(extraEnv?: Record<string, string>, options?: { outputLimit?: number }): Promise<ServerProcess>;
  close(): Promise<void>;
}

export interface BrokerFixtureOptions {
  slack?: FakeSlackOptions;
  /** A PostgreSQL or Redis URL; default a SQLite file in a temporary folder. */
  storeUrl?: string;
  env?: Record<string, string>;
}

/** The answer of an HTTP call. */
export interface Answer {
  status: number;
  body: any;
  text: string;
}

/** Calls the broker with `fetch`; `key` becomes `Authorization: Bearer <key>`. */
export async function call(
  baseUrl: string,
  method: string,
  path: string,
  options: { key?: string; json?: unknown; rawBody?: string; headers?: Record<string, string> } = {},
): Promise<Answer> {
  const headers: Record<string, string> = { ...options.headers };
  if (options.key !== undefined) headers.authorization = `Bearer ${options.key}`;
  let body: string | undefined;
  if (options.json !== undefined) {
    headers['content-type'] = 'application/json';
    body = JSON.stringify(options.json);
  } else if (options.rawBody !== undefined) {
    headers['content-type'] ??= 'application/json';
    body = options.rawBody;
  }
  const response = await fetch(`${baseUrl}${path}`, {
    method,
    headers,
    ...(body === undefined ? {} : { body }),
    redirect: 'manual',
  });
  const text = await response.text();
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  return { status: response.status, body: parsed, text };
}

/** Sets up a fake Slack, the configuration and the state; the server starts with `start()`. */
export async function createBrokerFixture(options: BrokerFixtureOptions = {}): Promise<BrokerFixture> {
  const slack = await createFakeSlack(options.slack);
  const dir = mkdtempSync(join(tmpdir(), 'slack-rotator-broker-'));
  const env: Record<string, string> = {
    SLACK_CLIENT_ID: slack.clientId,
    SLACK_CLIENT_SECRET: slack.clientSecret,
    SLACK_API_URL: slack.url,
    SLACK_ROTATOR_STORE: options.storeUrl ?? join(dir, 'broker.db'),
    SLACK_ROTATOR_SWEEP: 'false',
    // debug: every line the server can write is scanned for tokens.
    SLACK_ROTATOR_LOG_LEVEL: 'debug',
    XDG_DATA_HOME: dir,
    ...options.env,
  };
  const config = loadConfig({ env, cwd: dir });
  const backends = await openBackends(config, { logger: pino({ level: 'silent' }), migrate: true });
  const secrets: string[] = [];
  const processes: ServerProcess[] = [];
  return {
    slack,
    env,
    backends,
    secrets,
    async createKey(installations, keyOptions = {}) {
      const secret = generateApiKey();
      secrets.push(secret);
      const id = generateApiKeyId();
      await backends.state.createApiKey({
        id,
        name: `test ${id}`,
        digest: digestApiKey(secret),
        installations,
        createdAt: Date.now(),
        revokedAt: null,
      });
      if (keyOptions.revoked === true) await backends.state.revokeApiKey(id, Date.now());
      return secret;
    },
    outputLeaks() {
      const leaks: string[] = [];
      processes.forEach((server, index) => {
        server
          .output()
          .split('\n')
          .forEach((line, at) => {
            if (/xox[a-z]?[.-]|srk_/.test(line) || secrets.some((secret) => line.includes(secret))) {
              leaks.push(`server ${index}, line ${at + 1}`);
            }
          });
      });
      return leaks;
    },
    async start(extraEnv = {}, startOptions = {}) {
      const server = await startServerProcess({ env: { ...env, ...extraEnv }, ...startOptions });
      processes.push(server);
      return server;
    },
    async close() {
      await stopAllServerProcesses();
      await backends.close();
      await slack.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** How many refresh exchanges (`oauth.v2.access` with a refresh token) the fixture's fake Slack saw. */
export const refreshCalls = (fixture: BrokerFixture): number =>
  fixture.slack.calls.filter((c) => c.method === 'oauth.v2.access' && c.grantType === 'refresh_token').length;
