import { describe, test } from 'vitest';
import { expectInvariants } from './fleet/assert-report.js';
import type { FleetFault } from './fleet/orchestrator.js';
import { runFaultFleet } from './fleet/orchestrator.js';
import { seedOf } from './helpers/fault-fleet.js';

const minutes = Number(process.env.SLACK_ROTATOR_SOAK_MINUTES ?? 3);
const lifetimeMs = 6_000;
const skew = lifetimeMs / 360;

const runs: {
  backend: 'postgres' | 'redis' | 'postgres+redis';
  survivor: 'first' | 'last';
  kinds: FleetFault[];
}[] = [
  { backend: 'postgres', survivor: 'first', kinds: ['kill9', 'stop', 'pg_terminate'] },
  { backend: 'redis', survivor: 'last', kinds: ['kill9', 'stop', 'redis_restart'] },
  { backend: 'postgres+redis', survivor: 'first', kinds: ['kill9', 'stop', 'pg_terminate', 'redis_restart'] },
];

describe.each(runs)('soak: $backend, Slack keeps the $survivor sibling', ({ backend, survivor, kinds }) => {
  test(
    `6 processes × 40 chains for ${minutes} min under faults`,
    async () => {
      const report = await runFaultFleet({
        backend,
        processes: 6,
        teams: 40,
        durationMs: minutes * 60_000,
        lifetimeMs,
        seed: seedOf(),
        survivor,
        slackFaults: {
          http_500: 0.03,
          rate_limited: 0.02,
          internal_error: 0.02,
          connection_reset: 0.03,
          rotate_then_drop: 0.02,
          retryAfterSeconds: 1,
        },
        faults: { everyMs: 3_000, kinds },
        skewsMs: [skew, -skew, 0, skew / 2, -skew / 2, 0],
      });
      expectInvariants(report);
    },
    (minutes + 3) * 60_000,
  );
});
