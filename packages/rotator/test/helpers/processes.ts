import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { createRotator } from '../../src/manager.js';
import { createSqliteStore } from '../../src/sqlite.js';
import type { TokenRecord } from '../../src/store/types.js';
import { createFakeSlack, type FakeSlack, type FakeSlackOptions } from '../../src/testing/fake-slack.js';

const worker = fileURLToPath(new URL('../fixtures/rotation-worker.ts', import.meta.url));

/** What one worker process reports: calls that succeeded, and failures by code. */
export interface WorkerResult {
  ok: number;
  failures: Record<string, number>;
}

function runWorker(args: string[]): Promise<WorkerResult> {
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
      else resolve(JSON.parse(out.trim().split('\n').at(-1) as string) as WorkerResult);
    });
  });
}

export interface FleetRun {
  slack: FakeSlack;
  results: WorkerResult[];
  /** The stored record of each team's bot chain after the run. */
  records: Map<string, TokenRecord | undefined>;
}

/**
 * Runs `processes` OS processes, each a rotator on one shared SQLite file, calling Slack through
 * `withToken` for every team for `durationMs`, against a fake Slack whose tokens live `lifetimeMs`.
 */
export async function runFleet(options: {
  processes: number;
  teams: number;
  durationMs: number;
  lifetimeMs: number;
  slack?: FakeSlackOptions;
}): Promise<FleetRun> {
  const slack = await createFakeSlack({
    expiresInSeconds: Math.max(1, Math.round(options.lifetimeMs / 1000)),
    accessTokenLifetimeMs: options.lifetimeMs,
    ...options.slack,
  });
  const dir = mkdtempSync(join(tmpdir(), 'slack-rotator-fleet-'));
  try {
    const dbPath = join(dir, 'tokens.db');
    const database = new Database(dbPath);
    const store = createSqliteStore({ database });
    const installer = createRotator({
      clientId: slack.clientId,
      clientSecret: slack.clientSecret,
      store,
      slackApiUrl: slack.url,
    });
    const teams = Array.from({ length: options.teams }, (_, i) => `T${i + 1}`);
    for (const teamId of teams) await installer.saveInstallation(slack.install({ teamId }));
    await installer.close();
    const args = [
      dbPath,
      slack.url,
      slack.clientId,
      slack.clientSecret,
      String(options.durationMs),
      String(options.lifetimeMs),
      teams.join(','),
    ];
    const results = await Promise.all(Array.from({ length: options.processes }, () => runWorker(args)));
    const records = new Map<string, TokenRecord | undefined>();
    for (const teamId of teams) records.set(teamId, await store.get(`${slack.clientId}:${teamId}:bot`));
    await store.close();
    database.close();
    return { slack, results, records };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Refresh-grant calls the fake Slack received. */
export const refreshGrants = (slack: FakeSlack) => slack.calls.filter((c) => c.grantType === 'refresh_token');
