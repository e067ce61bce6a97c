import { invalidArgument } from '../errors.js';

/**
 * A failure the fake Slack can produce instead of (or after) answering a call.
 *
 * - `http_500`: HTTP 500 with an HTML body; nothing rotated.
 * - `rate_limited`: HTTP 429 with `Retry-After` (seconds) and `{ok:false,error:'ratelimited'}`; nothing rotated.
 * - `internal_error`: HTTP 200 `{ok:false,error:'internal_error'}`; nothing rotated.
 * - `html`: HTTP 200 with an HTML body (a proxy's error page); nothing rotated.
 * - `connection_reset`: the socket is destroyed before anything is done; nothing rotated.
 * - `rotate_then_drop`: the call IS processed (a refresh token is spent, a new pair issued), then the
 *   socket is destroyed: the answer is lost.
 * - `rotate_then_500`: the call IS processed, then HTTP 500 is answered.
 */
export type FaultKind =
  | 'http_500'
  | 'rate_limited'
  | 'internal_error'
  | 'html'
  | 'connection_reset'
  | 'rotate_then_drop'
  | 'rotate_then_500';

/** Every {@link FaultKind}, in the order random faults are drawn. */
export const FAULT_KINDS: readonly FaultKind[] = [
  'http_500',
  'rate_limited',
  'internal_error',
  'html',
  'connection_reset',
  'rotate_then_drop',
  'rotate_then_500',
];

/**
 * Random fault rates: a probability (0..1) per {@link FaultKind}, summing to at most 1, drawn once
 * per eligible call from a seeded PRNG. `retryAfterSeconds` is what `rate_limited` answers in
 * `Retry-After` (default 1).
 */
export type FaultRates = { [K in FaultKind]?: number } & { retryAfterSeconds?: number };

/** A fixed delay before answering each call (ms), or a range drawn uniformly from the seeded PRNG. */
export type Latency = number | { min: number; max: number };

/** Options of {@link FaultPlanner.inject}. */
export interface InjectFaultOptions {
  /** How many matching calls fail (default 1). */
  count?: number;
  /** The Web API method that fails (default `'oauth.v2.access'`). */
  method?: string;
  /** For `rate_limited`: the `Retry-After` answered (seconds); default the rates' value, else 1. */
  retryAfterSeconds?: number;
}

/** The fault chosen for one call. */
export interface PlannedFault {
  kind: FaultKind;
  /** For `rate_limited`: the `Retry-After` to answer (seconds). */
  retryAfterSeconds: number;
}

/** Decides, call by call, which fault (if any) happens and how long the answer is delayed. Pure: no I/O. */
export interface FaultPlanner {
  /** Queues `count` faults for the next calls of `method` (FIFO across injections). */
  inject(kind: FaultKind, options?: InjectFaultOptions): void;
  /** Replaces the random fault rates. */
  setRates(rates: FaultRates): void;
  /** Replaces the latency. */
  setLatency(latency: Latency): void;
  /**
   * The fault for a call of `method`: the oldest matching injected one, else (when `randomEligible`)
   * one drawn by rate, else `undefined`.
   */
  next(method: string, randomEligible: boolean): PlannedFault | undefined;
  /** The delay before answering the next call (ms). */
  nextLatencyMs(): number;
}

/** mulberry32: a tiny deterministic PRNG returning floats in [0, 1). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function isNonNegative(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0;
}

/** Validates fault rates; throws a `TypeError` (`ERR_INVALID_ARG_VALUE`) when they are invalid. */
export function checkFaultRates(rates: FaultRates, name = 'faults'): FaultRates {
  if (rates === null || typeof rates !== 'object') {
    throw invalidArgument(`${name} must be an object of rates`, 'ERR_INVALID_ARG_TYPE');
  }
  let sum = 0;
  for (const [key, value] of Object.entries(rates)) {
    if (key === 'retryAfterSeconds') {
      if (value !== undefined && !isNonNegative(value)) {
        throw invalidArgument(`${name}.retryAfterSeconds must be a non-negative number`);
      }
      continue;
    }
    if (!(FAULT_KINDS as readonly string[]).includes(key)) {
      throw invalidArgument(`${name}.${key} is not a fault kind`);
    }
    if (value === undefined) continue;
    if (!isNonNegative(value) || value > 1)
      throw invalidArgument(`${name}.${key} must be a probability (0..1)`);
    sum += value;
  }
  if (sum > 1 + 1e-9) throw invalidArgument(`${name}: the rates must sum to at most 1`);
  return { ...rates };
}

/** Validates a latency; throws a `TypeError` (`ERR_INVALID_ARG_VALUE`) when it is invalid. */
export function checkLatency(latency: Latency, name = 'latencyMs'): Latency {
  if (typeof latency === 'number') {
    if (!isNonNegative(latency)) throw invalidArgument(`${name} must be a non-negative number`);
    return latency;
  }
  if (latency === null || typeof latency !== 'object') {
    throw invalidArgument(`${name} must be a number or { min, max }`, 'ERR_INVALID_ARG_TYPE');
  }
  if (!isNonNegative(latency.min) || !isNonNegative(latency.max) || latency.min > latency.max) {
    throw invalidArgument(`${name} must have 0 <= min <= max`);
  }
  return { min: latency.min, max: latency.max };
}

interface Injection {
  kind: FaultKind;
  method: string;
  remaining: number;
  retryAfterSeconds: number | undefined;
}

/**
 * Creates a {@link FaultPlanner}. Faults and latency draw from two PRNG streams derived from
 * `seed`, so changing the latency never changes which calls fail.
 */
export function createFaultPlanner(
  options: { rates?: FaultRates; latency?: Latency; seed?: number } = {},
): FaultPlanner {
  const seed = options.seed ?? 1;
  if (!Number.isInteger(seed)) throw invalidArgument('seed must be an integer');
  let rates = checkFaultRates(options.rates ?? {});
  let latency = checkLatency(options.latency ?? 0);
  const faultRandom = mulberry32(seed);
  const latencyRandom = mulberry32(seed ^ 0x9e3779b9);
  const injections: Injection[] = [];

  const retryAfterOf = (value: number | undefined) => value ?? rates.retryAfterSeconds ?? 1;

  return {
    inject(kind, injectOptions = {}) {
      if (!(FAULT_KINDS as readonly string[]).includes(kind))
        throw invalidArgument(`${String(kind)} is not a fault kind`);
      const count = injectOptions.count ?? 1;
      if (!Number.isInteger(count) || count < 1) throw invalidArgument('count must be a positive integer');
      const retryAfterSeconds = injectOptions.retryAfterSeconds;
      if (retryAfterSeconds !== undefined && !isNonNegative(retryAfterSeconds)) {
        throw invalidArgument('retryAfterSeconds must be a non-negative number');
      }
      injections.push({
        kind,
        method: injectOptions.method ?? 'oauth.v2.access',
        remaining: count,
        retryAfterSeconds,
      });
    },
    setRates(next) {
      rates = checkFaultRates(next);
    },
    setLatency(next) {
      latency = checkLatency(next);
    },
    next(method, randomEligible) {
      const index = injections.findIndex((injection) => injection.method === method);
      const injection = injections[index];
      if (injection !== undefined) {
        injection.remaining -= 1;
        if (injection.remaining === 0) injections.splice(index, 1);
        return { kind: injection.kind, retryAfterSeconds: retryAfterOf(injection.retryAfterSeconds) };
      }
      if (!randomEligible) return undefined;
      const kinds = FAULT_KINDS.filter((kind) => (rates[kind] ?? 0) > 0);
      if (kinds.length === 0) return undefined;
      const roll = faultRandom();
      let cumulative = 0;
      for (const kind of kinds) {
        cumulative += rates[kind] ?? 0;
        if (roll < cumulative) return { kind, retryAfterSeconds: retryAfterOf(undefined) };
      }
      return undefined;
    },
    nextLatencyMs() {
      if (typeof latency === 'number') return latency;
      return latency.min + latencyRandom() * (latency.max - latency.min);
    },
  };
}
