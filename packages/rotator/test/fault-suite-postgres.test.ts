import { expect, test } from 'vitest';
import { expectInvariants } from './fleet/assert-report.js';
import { runFaultFleet } from './fleet/orchestrator.js';
import { seedOf } from './helpers/fault-fleet.js';

// Short fault suite on PostgreSQL: kill -9 mid-refresh, SIGSTOP past the lease, terminated
// connections, Slack faults, skewed clocks (±1/360 of the lifetime). Slack keeps the first sibling.
test('PostgreSQL fleet under faults: no stale write, no lockout by us, every lost rotation detected', async () => {
  const lifetimeMs = 3_000;
  const skew = lifetimeMs / 360;
  const report = await runFaultFleet({
    backend: 'postgres',
    processes: 3,
    teams: 6,
    durationMs: 15_000,
    lifetimeMs,
    seed: seedOf(),
    survivor: 'first',
    slackFaults: {
      http_500: 0.03,
      rate_limited: 0.03,
      connection_reset: 0.03,
      rotate_then_drop: 0.02,
      retryAfterSeconds: 1,
    },
    faults: { everyMs: 1_500, kinds: ['kill9', 'stop', 'pg_terminate'] },
    skewsMs: [skew, -skew, 0],
  });
  expectInvariants(report);
  expect(report.schedule.length).toBeGreaterThan(3);
}, 60_000);
