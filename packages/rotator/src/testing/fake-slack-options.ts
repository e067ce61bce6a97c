import { invalidArgument } from '../errors.js';
import { checkFaultRates, checkLatency, type FaultRates, type Latency } from './fake-slack-faults.js';
import type { FakeSlackStateOptions } from './fake-slack-state.js';

/** Options of `createFakeSlack`. Every duration is in milliseconds unless its name says seconds. */
export interface FakeSlackOptions {
  /** Default `'fake-client-id'`. */
  clientId?: string;
  /** Default `'fake-client-secret'`. */
  clientSecret?: string;
  /** Default `'A0FAKEAPP'`. */
  appId?: string;
  /** The `expires_in` reported (E, seconds, a positive integer). Default 43,200 (12 h), as Slack. */
  expiresInSeconds?: number;
  /** When access tokens really die (L). Default `expiresInSeconds * 1000`. */
  accessTokenLifetimeMs?: number;
  /** How long a spent refresh token is still accepted (and forks a sibling pair). Default 2,000; 0 = strict. */
  refreshGraceMs?: number;
  /**
   * Which of several pairs issued from one refresh token survives its grace period. Slack does not
   * document it; `'first'` (the default) is what slackapi/node-slack-sdk#2504 reports.
   */
  siblingSurvivor?: 'first' | 'last';
  /** Active (unexpired, unrevoked) access tokens per chain; issuing one more revokes the oldest. Default 2; 0 = unlimited. */
  maxActiveTokens?: number;
  /** Delay before answering each call. Default 0. */
  latencyMs?: Latency;
  /** Random fault rates (seeded). Default none. */
  faults?: FaultRates;
  /** Seed of the PRNG behind random faults and latency. Default 1. */
  seed?: number;
  /** The clock (epoch ms). Default `Date.now`. Tokens expire and grace periods end by this clock only. */
  now?: () => number;
  /** Default `true`; `false`: `oauth.v2.exchange` answers `token_rotation_not_enabled`. */
  rotationEnabled?: boolean;
}

/** {@link FakeSlackOptions} validated, with defaults applied. */
export interface ResolvedOptions extends FakeSlackStateOptions {
  clientId: string;
  clientSecret: string;
  latency: Latency;
  faults: FaultRates;
  seed: number;
}

function checkString(value: unknown, name: string, fallback: string): string {
  if (value === undefined) return fallback;
  if (typeof value !== 'string' || value === '') throw invalidArgument(`${name} must be a non-empty string`);
  return value;
}

function checkNumber(
  value: unknown,
  name: string,
  fallback: number,
  test: (n: number) => boolean,
  what: string,
) {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || !test(value)) {
    throw invalidArgument(`${name} must be ${what}`);
  }
  return value;
}

/**
 * Validates options and applies defaults.
 * @throws TypeError (`ERR_INVALID_ARG_VALUE` / `ERR_INVALID_ARG_TYPE`) for invalid options.
 */
export function resolveOptions(options: FakeSlackOptions): ResolvedOptions {
  if (options === null || typeof options !== 'object') {
    throw invalidArgument('options must be an object', 'ERR_INVALID_ARG_TYPE');
  }
  const clientId = checkString(options.clientId, 'clientId', 'fake-client-id');
  const clientSecret = checkString(options.clientSecret, 'clientSecret', 'fake-client-secret');
  const appId = checkString(options.appId, 'appId', 'A0FAKEAPP');
  const positive = (n: number) => n > 0;
  const expiresInSeconds = checkNumber(
    options.expiresInSeconds,
    'expiresInSeconds',
    43_200,
    (n) => Number.isInteger(n) && n > 0,
    'a positive integer',
  );
  const accessTokenLifetimeMs = checkNumber(
    options.accessTokenLifetimeMs,
    'accessTokenLifetimeMs',
    expiresInSeconds * 1000,
    positive,
    'a positive number',
  );
  const refreshGraceMs = checkNumber(
    options.refreshGraceMs,
    'refreshGraceMs',
    2_000,
    (n) => n >= 0,
    'non-negative',
  );
  const maxActiveTokens = checkNumber(
    options.maxActiveTokens,
    'maxActiveTokens',
    2,
    (n) => Number.isInteger(n) && n >= 0,
    'a non-negative integer',
  );
  const siblingSurvivor = options.siblingSurvivor ?? 'first';
  if (siblingSurvivor !== 'first' && siblingSurvivor !== 'last') {
    throw invalidArgument("siblingSurvivor must be 'first' or 'last'");
  }
  const now = options.now ?? Date.now;
  if (typeof now !== 'function') throw invalidArgument('now must be a function', 'ERR_INVALID_ARG_TYPE');
  const rotationEnabled = options.rotationEnabled ?? true;
  if (typeof rotationEnabled !== 'boolean') {
    throw invalidArgument('rotationEnabled must be a boolean', 'ERR_INVALID_ARG_TYPE');
  }
  const seed = options.seed ?? 1;
  if (!Number.isInteger(seed)) throw invalidArgument('seed must be an integer');
  return {
    clientId,
    clientSecret,
    appId,
    expiresInSeconds,
    accessTokenLifetimeMs,
    refreshGraceMs,
    siblingSurvivor,
    maxActiveTokens,
    rotationEnabled,
    now,
    latency: checkLatency(options.latencyMs ?? 0),
    faults: checkFaultRates(options.faults ?? {}),
    seed,
  };
}
