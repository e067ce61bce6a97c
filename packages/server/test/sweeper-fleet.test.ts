import { describe, expect, it } from 'vitest';
import { analyze, type FleetOptions, runSweeperFleet } from './fixtures/sweeper-fleet.js';

const MINUTE = 60_000;

/**
 * 5,000 chains installed together, two sweeper processes sharing the default budget (300 calls per
 * minute, 285 used after the 5 % headroom), a clock 12 times real time shared with the fake Slack.
 *
 * The numbers are chosen so that a busy machine (this test runs beside every other test file on
 * two cores) passes:
 * - The deadlines need 5,000 refreshes in 0.9 × 39 = 35.1 fake minutes = 175 real seconds:
 *   29 refreshes per real second, about a third of what two sweeper processes manage on a loaded
 *   2-core machine with PostgreSQL (65–160 per second measured at load average 8–20).
 * - The budget allows 285 × 12 / 60 = 57 per real second: a machine that keeps up is held to the
 *   budget and the run ends after 17.5 fake minutes (88 real seconds); one that doesn't falls
 *   behind the budget, not behind the deadlines.
 * - Speed 12, not more: the headroom absorbs 250 real ms of varying delay between a budget slot
 *   and its call reaching Slack (see fixtures/sweeper-fleet.ts).
 * - The planner assumes 2 slots per refresh (production: 1.1, with 5 refreshes per real second
 *   far below any machine's throughput): 5,000 × 2 slots = 35.1 fake minutes, so the backlog
 *   starts at the install and every chain is due from the first pass.
 * The run ends once every chain has been refreshed, at the latest just past the deadline (36 fake minutes).
 */
const FLEET: FleetOptions = {
  chains: 5000,
  processes: 2,
  budgetPerMinute: 300,
  speed: 12,
  lifetimeMs: 39 * MINUTE,
  intervalMs: 15_000,
  refreshWindowMs: 2 * MINUTE,
  concurrency: 12,
  throughputFactor: 2,
  runForMs: 36 * MINUTE,
  progressEveryMs: 10_000,
};

describe('the fleet sweeper on PostgreSQL with a fast clock', () => {
  it('refreshes 5,000 chains installed together before the last 10 % of their life, within the budget', async () => {
    const run = await runSweeperFleet(FLEET);
    const result = analyze(run, FLEET.lifetimeMs);
    const peak = (field: 'peakRss' | 'peakHeapUsed') =>
      run.processes.map((p) => `${Math.round(p[field] / 2 ** 20)}`).join('/');
    const done =
      run.allRefreshedAt === undefined
        ? 'not all refreshed'
        : `all refreshed at fake +${((run.allRefreshedAt - run.installedAt) / MINUTE).toFixed(1)} min`;
    console.log(
      `5,000 chains: ${result.refreshes} refreshes, ${done}, max ${result.maxPerMinute} oauth.v2.access calls per fake minute (budget ${FLEET.budgetPerMinute}); sweeper processes' peak RSS ${peak('peakRss')} MiB, peak heap ${peak('peakHeapUsed')} MiB; seeding ${run.seedMs} ms, run ${run.realMs} ms`,
    );
    expect(result.late.slice(0, 5)).toEqual([]);
    expect(result.unrefreshed).toBe(0);
    expect(result.refreshes).toBeGreaterThanOrEqual(FLEET.chains);
    expect(result.maxPerMinute).toBeLessThanOrEqual(FLEET.budgetPerMinute);
    expect(result.thirdTokens).toBe(0);
    expect(result.bad).toBe(0);
    for (const process of run.processes) {
      expect(process.stopped?.failed).toBe(0);
      expect(process.output).not.toMatch(/xox[a-z]-|xoxe/);
    }
  }, 300_000);
});
