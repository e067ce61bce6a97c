import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, test } from 'vitest';

const root = fileURLToPath(new URL('../../../', import.meta.url));

interface Report {
  mode: string;
  calls: number;
  failed: number;
  rotations: number;
  refreshCalls: number;
  duplicates: number;
  lockouts: number;
  chains: number;
}

/** Runs `npm start` in a short configuration; returns its REPORT line and everything it printed. */
function runDemo(extra: string[]): Promise<{ report: Report; output: string }> {
  const args = ['--import', 'tsx', 'demo/main.ts', '--seconds', '5', '--workspaces', '6', '--workers', '3'];
  const child = spawn(process.execPath, [...args, ...extra], {
    cwd: root,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
  });
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => {
      const line = stdout.split('\n').find((l) => l.startsWith('REPORT '));
      if (code !== 0 || line === undefined) {
        reject(new Error(`demo exited with ${code}\n${stdout}\n${stderr}`));
        return;
      }
      resolve({ report: JSON.parse(line.slice('REPORT '.length)) as Report, output: stdout + stderr });
    });
  });
}

describe('npm start (the demo)', () => {
  test('with slack-rotator: rotations happen, each with exactly one refresh call; no duplicate, lockout or failed call', async () => {
    const { report, output } = await runDemo(['--seed', '3']);
    expect(report.mode).toBe('rotator');
    expect(report.calls).toBeGreaterThan(0);
    expect(report.rotations).toBeGreaterThan(0);
    expect(report.refreshCalls).toBe(report.rotations);
    expect(report.duplicates).toBe(0);
    expect(report.lockouts).toBe(0);
    expect(report.chains).toBe(6);
    expect(report.failed).toBe(0);
    expect(output).not.toMatch(/xox[a-z]?[.-]/);
  });

  test('with --naive (unlocked read-refresh-write) under the same load and seed: chains are locked out', async () => {
    const { report, output } = await runDemo(['--seed', '3', '--naive']);
    expect(report.mode).toBe('naive');
    expect(report.duplicates).toBeGreaterThan(0);
    expect(report.lockouts).toBeGreaterThan(0);
    expect(output).not.toMatch(/xox[a-z]?[.-]/);
  });
});
