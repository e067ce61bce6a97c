/**
 * startServer in this process (config from the environment, SQLite in a temporary folder) and the
 * Node client against it: tokens, token/expired, typed errors with the server's codes, and stop().
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { createFakeSlack, type FakeSlack } from 'slack-rotator/testing';
import { afterEach, expect, test } from 'vitest';
import { digestApiKey, generateApiKey } from '../src/api-keys.js';
import { createBrokerClient, isBrokerError } from '../src/client.js';
import { loadConfig } from '../src/config.js';
import { type RunningServer, startServer } from '../src/serve.js';

let slack: FakeSlack | undefined;
let server: RunningServer | undefined;
let dir: string | undefined;
afterEach(async () => {
  await server?.stop();
  await slack?.close();
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  server = slack = dir = undefined;
});

async function start(): Promise<{ url: string; admin: string; reader: string }> {
  slack = await createFakeSlack();
  dir = mkdtempSync(join(tmpdir(), 'slack-rotator-serve-'));
  const config = loadConfig({
    env: {
      SLACK_CLIENT_ID: slack.clientId,
      SLACK_CLIENT_SECRET: slack.clientSecret,
      SLACK_API_URL: slack.url,
      SLACK_ROTATOR_STORE: join(dir, 'broker.db'),
      SLACK_ROTATOR_LISTEN: '127.0.0.1:0',
      SLACK_ROTATOR_SWEEP: 'false',
    },
    cwd: dir,
  });
  server = await startServer(config, { logger: pino({ level: 'silent' }), migrate: true });
  const keys: string[] = [];
  for (const installations of ['*', ['T1']] as const) {
    const secret = generateApiKey();
    keys.push(secret);
    await server.backends.state.createApiKey({
      id: `key_${keys.length}`,
      name: 'test',
      digest: digestApiKey(secret),
      installations: installations === '*' ? '*' : [...installations],
      createdAt: Date.now(),
      revokedAt: null,
    });
  }
  await server.backends.apps[0]?.rotator.saveInstallation(slack.install({ teamId: 'T1' }));
  await server.backends.apps[0]?.rotator.saveInstallation(slack.install({ teamId: 'T2' }));
  return { url: server.url, admin: keys[0] as string, reader: keys[1] as string };
}

test('the client gets a token, reports it expired, and gets one fresh token', async () => {
  const { url, reader } = await start();
  const client = createBrokerClient({ url, apiKey: reader });
  const first = await client.getToken('T1', { minValiditySeconds: 60 });
  expect(first).toMatchObject({ installationId: 'T1', chain: 'bot' });
  expect(first.expiresIn).toBeGreaterThan(60);
  expect(slack?.peekAccessToken(first.token)).toBe('active');
  const fresh = await client.tokenExpired('T1', first.token);
  expect(fresh.token === first.token).toBe(false);
  expect(slack?.peekAccessToken(fresh.token)).toBe('active');
  const again = await client.tokenExpired('T1', first.token);
  expect(again.token === fresh.token).toBe(true);
});

test('errors are BrokerErrors with the server code and status', async () => {
  const { url, reader } = await start();
  const client = createBrokerClient({ url, apiKey: reader });
  await expect(client.getToken('T2')).rejects.toMatchObject({
    name: 'BrokerError',
    code: 'forbidden',
    status: 403,
  });
  await expect(client.getToken('T1', { minValiditySeconds: 50_000 })).rejects.toMatchObject({
    code: 'min_validity_too_large',
    status: 400,
  });
  const wrong = createBrokerClient({ url, apiKey: `srk_${'B'.repeat(43)}` });
  const error = await wrong.getToken('T1').catch((e: unknown) => e);
  expect(isBrokerError(error)).toBe(true);
  expect(error).toMatchObject({ code: 'unauthorized', status: 401 });
});

test('after stop() the client gets network_error, and stop() is idempotent', async () => {
  const { url, admin } = await start();
  const client = createBrokerClient({ url, apiKey: admin });
  expect((await client.getToken('T2')).installationId).toBe('T2');
  await server?.stop();
  await server?.stop();
  await expect(client.getToken('T2')).rejects.toMatchObject({ code: 'network_error', status: 0 });
});

test('createBrokerClient refuses a missing URL or key', () => {
  expect(() => createBrokerClient({ url: 'localhost:8787', apiKey: 'srk_x' })).toThrow(TypeError);
  expect(() => createBrokerClient({ url: 'http://127.0.0.1:1', apiKey: 'secret' })).toThrow(/srk_/);
});
