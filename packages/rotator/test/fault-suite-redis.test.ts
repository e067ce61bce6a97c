import { expect, test } from 'vitest';
import { expectInvariants } from './fleet/assert-report.js';
import { runFaultFleet } from './fleet/orchestrator.js';
import { seedOf } from './helpers/fault-fleet.js';

// Short fault suite on Redis (its own server, AOF with fsync always): kill -9 mid-refresh, SIGSTOP
// past the lease, Redis restarted, Slack faults, skewed clocks. Slack keeps the last sibling.
test('Redis fleet under faults: no stale write, no lockout by us, every lost rotation detected', async () => {
  const lifetimeMs = 3_000;
  const skew = lifetimeMs / 360;
  const report = await runFaultFleet({
    backend: 'redis',
    processes: 3,
    teams: 6,
    durationMs: 15_000,
    lifetimeMs,
    seed: seedOf(),
    survivor: 'last',
    slackFaults: {
      http_500: 0.03,
      rate_limited: 0.03,
      connection_reset: 0.03,
      rotate_then_drop: 0.02,
      retryAfterSeconds: 1,
    },
    faults: { everyMs: 1_500, kinds: ['kill9', 'stop', 'redis_restart'] },
    skewsMs: [skew, -skew, 0],
  });
  expectInvariants(report);
  expect(report.schedule.length).toBeGreaterThan(3);
}, 60_000);

test('a worker whose clock runs ahead by more than the refresh window only refreshes early, never overwrites', async () => {
  const lifetimeMs = 3_000;
  const report = await runFaultFleet({
    backend: 'postgres+redis',
    processes: 3,
    teams: 4,
    durationMs: 8_000,
    lifetimeMs,
    seed: seedOf(),
    survivor: 'first',
    skewsMs: [lifetimeMs / 2, 0, 0],
  });
  expectInvariants(report);
  expect(report.lostRotationsDetected).toBe(0);
}, 60_000);
