import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, test } from 'vitest';

const CLI = fileURLToPath(new URL('../dist/cli.js', import.meta.url));
const TOKENISH = /xox[a-z]?[.-]|srk_/;

interface Report {
  mode: string;
  calls: number;
  failed: number;
  tokenRequests: number;
  rotations: number;
  refreshCalls: number;
  duplicates: number;
  lockouts: number;
  chains: number;
}

interface DemoRun {
  code: number | null;
  stdout: string;
  stderr: string;
  /** The dashboard page fetched once the load had started (broker mode), or `undefined`. */
  dashboard: { status: number; body: string } | undefined;
}

/**
 * Runs `slack-rotator demo` (what `npm start` runs) as a real process in a short configuration; in
 * broker mode, fetches the dashboard address it prints once the first progress line shows the load
 * running.
 */
function runDemo(extra: readonly string[]): Promise<DemoRun> {
  const child = spawn(process.execPath, [CLI, 'demo', ...extra], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  let dashboard: Promise<DemoRun['dashboard']> = Promise.resolve(undefined);
  let fetched = false;
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk;
  });
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
    const address = /^dashboard: (http:\/\/127\.0\.0\.1:\d+\/)/m.exec(stderr)?.[1];
    if (!fetched && address !== undefined && /\d s {2}calls/.test(stderr)) {
      fetched = true;
      dashboard = fetch(address).then(async (response) => ({
        status: response.status,
        body: await response.text(),
      }));
    }
  });
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => {
      dashboard.then((page) => resolve({ code, stdout, stderr, dashboard: page }), reject);
    });
  });
}

function reportOf(run: DemoRun): Report {
  const line = run.stdout.trimEnd().split('\n').at(-1) ?? '';
  if (run.code !== 0 || !line.startsWith('REPORT ')) {
    throw new Error(`demo exited with ${run.code}\n${run.stdout}\n${run.stderr}`);
  }
  return JSON.parse(line.slice('REPORT '.length)) as Report;
}

const SHORT = ['--seed', '3', '--seconds', '5', '--workspaces', '6', '--workers', '3'];

describe('slack-rotator demo (npm start)', () => {
  test('clients asking the broker: rotations happen, each one refresh call; no duplicate, lockout or failed call; the dashboard answers while it runs', async () => {
    const run = await runDemo(SHORT);
    const report = reportOf(run);
    expect(report.mode).toBe('broker');
    expect(report.calls).toBeGreaterThan(0);
    expect(report.tokenRequests).toBeGreaterThanOrEqual(report.calls);
    expect(report.failed).toBe(0);
    expect(report.rotations).toBeGreaterThan(0);
    expect(report.refreshCalls).toBe(report.rotations);
    expect(report.duplicates).toBe(0);
    expect(report.lockouts).toBe(0);
    expect(report.chains).toBe(6);
    expect(run.stdout).toContain('lockouts              0 of 6 chains');
    expect(run.dashboard?.status).toBe(200);
    expect(run.dashboard?.body).toContain('T0DEMO001');
    expect(`${run.stdout}${run.stderr}${run.dashboard?.body}`).not.toMatch(TOKENISH);
  });

  test('with --naive (clients refresh one SQLite file themselves, unlocked) under the same load and seed: duplicates and lockouts', async () => {
    const run = await runDemo([...SHORT, '--naive']);
    const report = reportOf(run);
    expect(report.mode).toBe('naive');
    expect(report.duplicates).toBeGreaterThan(0);
    expect(report.lockouts).toBeGreaterThan(0);
    expect(run.stderr).not.toContain('dashboard:');
    expect(`${run.stdout}${run.stderr}`).not.toMatch(TOKENISH);
  });

  test('an option out of range is one line naming it, exit code 2', async () => {
    const run = await runDemo(['--workers', '0']);
    expect(run.code).toBe(2);
    expect(run.stderr).toBe('slack-rotator: --workers must be an integer from 1 to 32\n');
    expect(run.stdout).toBe('');
  });
});
