import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { afterEach, expect, test } from 'vitest';
import { createRotator } from '../src/manager.js';
import { createSqliteStore } from '../src/sqlite.js';
import { createFakeSlack, type FakeSlack } from '../src/testing/fake-slack.js';

const worker = fileURLToPath(new URL('./fixtures/rotation-worker.ts', import.meta.url));
let slack: FakeSlack | undefined;
let dir: string | undefined;

afterEach(async () => {
  await slack?.close();
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
});

function run(args: string[]): Promise<{ ok: number; failures: Record<string, number> }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', worker, ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (chunk) => {
      out += chunk;
    });
    child.stderr.on('data', (chunk) => {
      err += chunk;
    });
    child.on('error', reject);
    child.on('exit', (code) => {
      if (code !== 0) reject(new Error(`worker exited with ${code}: ${err.slice(0, 2000)}`));
      else resolve(JSON.parse(out.trim().split('\n').at(-1) as string));
    });
  });
}

test('two OS processes sharing one SQLite file: refresh calls == rotations, no invalid_refresh_token', async () => {
  const lifetimeMs = 1_000;
  // Strict single-use refresh tokens: any double exchange would kill a chain at once.
  slack = await createFakeSlack({
    expiresInSeconds: 1,
    accessTokenLifetimeMs: lifetimeMs,
    refreshGraceMs: 0,
  });
  dir = mkdtempSync(join(tmpdir(), 'slack-rotator-two-processes-'));
  const dbPath = join(dir, 'tokens.db');
  const database = new Database(dbPath);
  const store = createSqliteStore({ database });
  const installer = createRotator({
    clientId: slack.clientId,
    clientSecret: slack.clientSecret,
    store,
    slackApiUrl: slack.url,
  });
  const teams = ['T1', 'T2', 'T3'];
  for (const teamId of teams) await installer.saveInstallation(slack.install({ teamId }));
  await installer.close();

  const args = [
    dbPath,
    slack.url,
    slack.clientId,
    slack.clientSecret,
    '7000',
    String(lifetimeMs),
    teams.join(','),
  ];
  const results = await Promise.all([run(args), run(args)]);

  const refreshes = slack.calls.filter((c) => c.grantType === 'refresh_token');
  const rotations = slack.chains().reduce((sum, chain) => sum + chain.rotations, 0);
  expect(rotations).toBeGreaterThanOrEqual(30);
  expect(refreshes.length).toBe(rotations);
  expect(refreshes.filter((c) => c.outcome === 'invalid_refresh_token')).toHaveLength(0);
  expect(refreshes.filter((c) => c.duplicate)).toHaveLength(0);
  for (const result of results) {
    expect(result.failures).toEqual({});
    expect(result.ok).toBeGreaterThan(100);
  }
  for (const teamId of teams) {
    const record = await store.get(`${slack.clientId}:${teamId}:bot`);
    expect(record?.status).toBe('active');
    expect(slack.peekRefreshToken(record?.refreshToken as string)).toBe('active');
  }
  await store.close();
  database.close();
}, 60_000);
