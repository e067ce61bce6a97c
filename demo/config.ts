import { parseArgs } from 'node:util';

/** What one demo run does, from the command line. */
export interface DemoConfig {
  /** Run the textbook unlocked refresh instead of slack-rotator. */
  naive: boolean;
  /** Seeds the fake Slack's latency, the installs' ages and every worker's load. */
  seed: number;
  workers: number;
  workspaces: number;
  /** How long the load runs. */
  seconds: number;
}

/** The fake Slack's compressed time and rules, and the load's rhythm; the same in both modes. */
export const SETTINGS = {
  /** The `expires_in` Slack reports (Slack: 43 200 s). */
  expiresInSeconds: 4,
  /** When access tokens really die. */
  accessTokenLifetimeMs: 4_000,
  /** How long a spent refresh token is still accepted (forking a sibling pair). */
  refreshGraceMs: 2_000,
  /** Which of two pairs issued from one refresh token survives (slackapi/node-slack-sdk#2504). */
  siblingSurvivor: 'first',
  /** Active access tokens per chain; issuing a third revokes the oldest. */
  maxActiveTokens: 2,
  /** Per-call latency of the fake Slack (ms), drawn from its seeded PRNG. */
  latencyMs: { min: 2, max: 20 },
  /** Refresh when less than this remains: a quarter of the lifetime, in both modes. */
  refreshWindowMs: 1_000,
  /** Every worker fires a burst at the same ticks, so workers hit a chain together. */
  burstMs: 250,
  /** The chance that a worker calls a given workspace in a burst. */
  workspaceShare: 0.5,
  /** Up to this many concurrent calls per workspace per worker in a burst. */
  maxCallsPerWorkspace: 3,
} as const;

const USAGE = `Usage: npm start -- [--naive] [--seed N] [--workers N] [--workspaces N] [--seconds N]

  --naive         a textbook unlocked refresh (read, refresh if near expiry, write the record back)
  --seed N        seeds latency, install ages and load (default 1)
  --workers N     worker processes sharing one SQLite file (default 4)
  --workspaces N  installed workspaces, one bot chain each (default 20)
  --seconds N     how long the load runs (default 20)`;

function positiveInteger(raw: string | undefined, name: string, fallback: number, max: number): number {
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1 || value > max) {
    throw new Error(`--${name} must be an integer from 1 to ${max}\n\n${USAGE}`);
  }
  return value;
}

/** Parses the demo's command line; throws with the usage text on bad input. */
export function parseConfig(argv: readonly string[]): DemoConfig {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      naive: { type: 'boolean', default: false },
      seed: { type: 'string' },
      workers: { type: 'string' },
      workspaces: { type: 'string' },
      seconds: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  });
  if (values.help) throw new Error(USAGE);
  return {
    naive: values.naive,
    seed: positiveInteger(values.seed, 'seed', 1, 2 ** 31 - 1),
    workers: positiveInteger(values.workers, 'workers', 4, 32),
    workspaces: positiveInteger(values.workspaces, 'workspaces', 20, 500),
    seconds: positiveInteger(values.seconds, 'seconds', 20, 120),
  };
}
