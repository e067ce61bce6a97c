import { describe, expect, it } from 'vitest';
import { analyze, type FleetOptions, runSweeperFleet } from './fixtures/sweeper-fleet.js';

const MINUTE = 60_000;

/**
 * The budget is Slack's default share: 300 calls per fake minute (285 after the 5 % headroom).
 * Speed 30 makes that 142 refreshes per real second, about what two sweeper processes do on this
 * loaded 2-core machine with PostgreSQL — so the planner is told to assume 1.4 slots per refresh
 * (production keeps 1.1: its 5 refreshes per second are far below any machine's throughput).
 * 5,000 chains then plan to 24.6 fake minutes, more than the 23.4 minutes before the deadline of a
 * 26-minute token: the backlog starts at the install, and any rate above 214 refreshes per fake
 * minute meets every deadline. The run is 24 fake minutes: 48 s of real time, plus seeding.
 * Two sweeper processes share the one budget: together they must stay under it.
 */
const FLEET: FleetOptions = {
  chains: 5000,
  processes: 2,
  budgetPerMinute: 300,
  speed: 30,
  lifetimeMs: 26 * MINUTE,
  intervalMs: 15_000,
  refreshWindowMs: 78_000,
  concurrency: 12,
  throughputFactor: 1.4,
  runForMs: 24 * MINUTE,
  progressEveryMs: 5000,
};

describe('the fleet sweeper on PostgreSQL with a fast clock', () => {
  it('refreshes 5,000 chains installed together before the last 10 % of their life, within the budget', async () => {
    const run = await runSweeperFleet(FLEET);
    const result = analyze(run, FLEET.lifetimeMs);
    const peak = (field: 'peakRss' | 'peakHeapUsed') =>
      run.processes.map((p) => `${Math.round(p[field] / 2 ** 20)}`).join('/');
    console.log(
      `5,000 chains: ${result.refreshes} refreshes, max ${result.maxPerMinute} oauth.v2.access calls per fake minute (budget ${FLEET.budgetPerMinute}); sweeper processes' peak RSS ${peak('peakRss')} MiB, peak heap ${peak('peakHeapUsed')} MiB; seeding ${run.seedMs} ms, run ${run.realMs} ms`,
    );
    expect(result.late.slice(0, 5)).toEqual([]);
    expect(result.refreshes).toBeGreaterThanOrEqual(FLEET.chains);
    expect(result.maxPerMinute).toBeLessThanOrEqual(FLEET.budgetPerMinute);
    expect(result.thirdTokens).toBe(0);
    expect(result.bad).toBe(0);
    for (const process of run.processes) {
      expect(process.stopped?.failed).toBe(0);
      expect(process.output).not.toMatch(/xox[a-z]-|xoxe/);
    }
  }, 120_000);
});
