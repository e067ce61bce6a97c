/**
 * What one demo run does, and the fake Slack's compressed time: the same settings in both modes,
 * so a `--naive` run and a broker run with one seed see the same Slack and the same load.
 */
import { ServerError } from '../errors.js';

/** What one demo run does, from the command line. */
export interface DemoConfig {
  /** Run the textbook unlocked refresh in every client instead of asking the broker. */
  naive: boolean;
  /** Seeds the fake Slack's latency, the installs' ages and every client's load. */
  seed: number;
  /** Client processes. */
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
  /** Every client fires a burst at the same ticks, so clients hit a chain together. */
  burstMs: 250,
  /** The chance that a client calls a given workspace in a burst. */
  workspaceShare: 0.5,
  /** Up to this many concurrent calls per workspace per client in a burst. */
  maxCallsPerWorkspace: 3,
  /** The broker's sweeper looks for due chains this often (ms). */
  sweepIntervalMs: 200,
  /**
   * The sweeper's `oauth.v2.access` budget per (real) minute. Time runs ~10,000 times faster than
   * Slack's 12 h here, so Slack's 600 per minute would be far too few for even one chain; this is
   * high enough never to hold a refresh back.
   */
  sweepBudgetPerMinute: 60_000,
} as const;

/** The defaults of {@link DemoConfig}, and the largest accepted values. */
export const DEMO_LIMITS = {
  seed: { default: 1, max: 2 ** 31 - 1 },
  workers: { default: 4, max: 32 },
  workspaces: { default: 20, max: 500 },
  seconds: { default: 20, max: 120 },
} as const;

/** The demo's options as the command line gives them (strings, or absent). */
export interface DemoOptions {
  naive?: boolean;
  seed?: string;
  workers?: string;
  workspaces?: string;
  seconds?: string;
}

function positiveInteger(raw: string | undefined, name: keyof typeof DEMO_LIMITS): number {
  const { default: fallback, max } = DEMO_LIMITS[name];
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!/^\d+$/.test(raw.trim()) || !Number.isInteger(value) || value < 1 || value > max) {
    throw new ServerError('invalid_request', `--${name} must be an integer from 1 to ${max}`);
  }
  return value;
}

/**
 * Validates the demo's options.
 * @throws ServerError `invalid_request` naming the option.
 */
export function demoConfig(options: DemoOptions): DemoConfig {
  return {
    naive: options.naive === true,
    seed: positiveInteger(options.seed, 'seed'),
    workers: positiveInteger(options.workers, 'workers'),
    workspaces: positiveInteger(options.workspaces, 'workspaces'),
    seconds: positiveInteger(options.seconds, 'seconds'),
  };
}
