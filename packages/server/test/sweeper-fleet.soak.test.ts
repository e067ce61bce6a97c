import { describe, expect, it } from 'vitest';
import { analyze, type FleetOptions, runSweeperFleet } from './fixtures/sweeper-fleet.js';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

/**
 * Issue 5's soak: 100,000 chains installed at the same moment, Slack's 12-hour tokens, the default
 * budget (300 calls per minute, 285 used), one sweeper process. The work is 100,000 / 285 ≈ 5.85 h
 * of budget before the deadline at 10.8 h. Speed 24 makes the budget 114 refreshes per real
 * second; the run is 11 fake hours, about 28 minutes of real time plus seeding.
 */
const SOAK: FleetOptions = {
  chains: 100_000,
  processes: 1,
  budgetPerMinute: 300,
  speed: 24,
  lifetimeMs: 12 * HOUR,
  intervalMs: 60_000,
  refreshWindowMs: HOUR,
  concurrency: 12,
  throughputFactor: 1.4,
  runForMs: 11 * HOUR,
  progressEveryMs: 60_000,
};

describe('the fleet sweeper soak', () => {
  it('refreshes 100,000 chains installed together before the last 10 % of their life, within the budget', async () => {
    const run = await runSweeperFleet(SOAK);
    const result = analyze(run, SOAK.lifetimeMs);
    const [sweeper] = run.processes;
    console.log(
      `100,000 chains: ${result.refreshes} refreshes, max ${result.maxPerMinute} calls per fake minute (budget ${SOAK.budgetPerMinute}); sweeper peak RSS ${Math.round((sweeper?.peakRss ?? 0) / 2 ** 20)} MiB, peak heap ${Math.round((sweeper?.peakHeapUsed ?? 0) / 2 ** 20)} MiB; seeding ${run.seedMs} ms, run ${run.realMs} ms`,
    );
    expect(result.late.slice(0, 5)).toEqual([]);
    expect(result.refreshes).toBeGreaterThanOrEqual(SOAK.chains);
    expect(result.maxPerMinute).toBeLessThanOrEqual(SOAK.budgetPerMinute);
    expect(result.thirdTokens).toBe(0);
    expect(result.bad).toBe(0);
    expect(sweeper?.stopped?.failed).toBe(0);
    expect(sweeper?.output).not.toMatch(/xox[a-z]-|xoxe/);
  }, 3_000_000);
});
