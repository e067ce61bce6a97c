import { checkKeyRing, innerStoreOf } from './crypto/encrypted-store.js';
import type { KeyRing } from './crypto/key-ring.js';
import { invalidArgument } from './errors.js';
import type { Lock } from './lock/types.js';
import { type Logger, silentLogger } from './logger.js';
import type { ClientAuthMethod } from './slack/transport.js';
import type { TokenStore } from './store/types.js';

/** Options of `createRotator`. Only `clientId`, `clientSecret` and `store` are required. */
export interface RotatorOptions {
  /** The Slack app's client id. */
  clientId: string;
  /** The Slack app's client secret. Never logged. */
  clientSecret: string;
  /** Where chains live. */
  store: TokenStore;
  /** The refresh lock. Default: the store's own (`store.lock`), else an in-process lock. */
  lock?: Lock;
  /** Refresh when less than this remains (ms). Default 3 600 000 (1 h). */
  refreshWindowMs?: number;
  /** Up to this much earlier, stable per chain, so chains installed together spread out (ms). Default: a tenth of the window. */
  refreshJitterMs?: number;
  /** How long Slack's access tokens live (ms), to validate `minValidityMs`. Default 43 200 000 (12 h). */
  tokenLifetimeMs?: number;
  /** Slack's Web API base URL. Default `https://slack.com/api/`. */
  slackApiUrl?: string;
  /**
   * A `fetch` to send Slack requests with (a proxy's, a test's). Default: `node:http` / `node:https`
   * with keep-alive agents of the rotator's own, which cost about a third of the global `fetch`'s
   * CPU time per request.
   */
  fetch?: typeof globalThis.fetch;
  /** The clock (epoch ms). Default `Date.now`. */
  now?: () => number;
  /** How client credentials are sent: `'basic'` (Slack's recommendation, the default) or `'form'`. */
  clientAuth?: ClientAuthMethod;
  /** Per-request timeout for Slack calls (ms). Default 10 000. */
  requestTimeoutMs?: number;
  /** How long a timed-out refresh answer is still awaited in the background (ms). Default 30 000. */
  lateAnswerMs?: number;
  /** Delays before prompt retries of an ambiguous refresh with the same token (ms). Default [100, 300, 600, 1000]: about 2 s, inside Slack's grace period. */
  ambiguousRetryDelaysMs?: number[];
  /** How many times a rate-limited refresh is tried again. Default 2. */
  rateLimitRetries?: number;
  /** Cap on the `Retry-After` wait (ms). Default 30 000. */
  rateLimitMaxWaitMs?: number;
  /** Lease of the refresh lock (ms); renewed while a refresh is in flight. Default: 2 × requestTimeoutMs + 5 000. */
  lockTtlMs?: number;
  /** How long to wait for a peer's refresh lock (ms). Default: lockTtlMs + requestTimeoutMs. */
  lockWaitMs?: number;
  /**
   * How many refresh requests this rotator has at Slack at once; more wait for a free slot (their
   * lease is checked again if the wait ran into its margin). Default 100. In a storm a process that
   * holds hundreds of refresh locks would otherwise get hundreds of answers at once, and reading
   * them holds its event loop while its own waiting callers and commits sit unread
   * (docs/BENCHMARKS.md). `@slack/web-api` bounds its requests the same way (100 per client).
   */
  maxConcurrentRefreshes?: number;
  /** How long a token is served from memory before the store is read again (ms). Default 10 000. */
  cacheTtlMs?: number;
  /**
   * How many cache keys (chains and the lookups that resolved to them) are kept in memory; the
   * oldest are dropped first and read from the store again when asked for. Default 10 000.
   */
  cacheMaxEntries?: number;
  /** Secret that signs install `state` values (at least 32 characters). Needed for `rotator.install`. */
  stateSecret?: string;
  /** A pino-compatible logger. It never receives a token or secret. Default: silent. */
  logger?: Logger;
  /**
   * Encrypts tokens at rest: sugar for `store: withEncryption(store, encryption)`, and refresh intents
   * then fingerprint refresh tokens with the ring's HMAC (`hmac-sha256:…`) instead of SHA-256. Pass
   * the raw store with it, not one already wrapped by `withEncryption`. Default: none.
   */
  encryption?: KeyRing;
}

export interface ResolvedOptions {
  clientId: string;
  clientSecret: string;
  store: TokenStore;
  lock: Lock | undefined;
  refreshWindowMs: number;
  refreshJitterMs: number;
  tokenLifetimeMs: number;
  slackApiUrl: string;
  fetch: typeof globalThis.fetch | undefined;
  now: () => number;
  clientAuth: ClientAuthMethod;
  requestTimeoutMs: number;
  lateAnswerMs: number;
  ambiguousRetryDelaysMs: readonly number[];
  rateLimitRetries: number;
  rateLimitMaxWaitMs: number;
  lockTtlMs: number;
  maxConcurrentRefreshes: number;
  lockWaitMs: number;
  cacheTtlMs: number;
  cacheMaxEntries: number;
  stateSecret: string | undefined;
  logger: Logger;
  encryption: KeyRing | undefined;
}

function duration(value: unknown, name: string, fallback: number, { positive = false } = {}): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    throw invalidArgument(`${name} must be a finite number of milliseconds`, 'ERR_INVALID_ARG_TYPE');
  }
  if (value < 0 || (positive && value === 0))
    throw invalidArgument(`${name} must be ${positive ? 'positive' : 'non-negative'}`);
  return value;
}

function nonEmpty(value: unknown, name: string): string {
  if (typeof value !== 'string') throw invalidArgument(`${name} must be a string`, 'ERR_INVALID_ARG_TYPE');
  if (value.trim() === '') throw invalidArgument(`${name} must not be empty`);
  return value;
}

function isStore(value: unknown): value is TokenStore {
  if (typeof value !== 'object' || value === null) return false;
  const store = value as Record<string, unknown>;
  return ['get', 'put', 'compareAndSet', 'recordIntent', 'list', 'delete'].every(
    (m) => typeof store[m] === 'function',
  );
}

/** Validates and completes the options; fails fast with a message naming the option. */
export function checkOptions(options: RotatorOptions): ResolvedOptions {
  if (typeof options !== 'object' || options === null) {
    throw invalidArgument('createRotator needs an options object', 'ERR_INVALID_ARG_TYPE');
  }
  const clientId = nonEmpty(options.clientId, 'clientId');
  const clientSecret = nonEmpty(options.clientSecret, 'clientSecret');
  if (!isStore(options.store)) {
    throw invalidArgument(
      'store must be a TokenStore (get, put, compareAndSet, recordIntent, list, delete)',
      'ERR_INVALID_ARG_TYPE',
    );
  }
  const lock = options.lock;
  if (
    lock !== undefined &&
    (typeof lock !== 'object' || lock === null || typeof lock.acquire !== 'function')
  ) {
    throw invalidArgument('lock must be a Lock (acquire, renew, release)', 'ERR_INVALID_ARG_TYPE');
  }
  const tokenLifetimeMs = duration(options.tokenLifetimeMs, 'tokenLifetimeMs', 43_200_000, {
    positive: true,
  });
  const refreshWindowMs = duration(options.refreshWindowMs, 'refreshWindowMs', 3_600_000);
  const refreshJitterMs = duration(options.refreshJitterMs, 'refreshJitterMs', refreshWindowMs / 10);
  if (refreshWindowMs + refreshJitterMs >= tokenLifetimeMs) {
    throw invalidArgument(
      `refreshWindowMs + refreshJitterMs (${refreshWindowMs + refreshJitterMs}) must be less than tokenLifetimeMs (${tokenLifetimeMs}): every call would refresh`,
    );
  }
  const slackApiUrl = options.slackApiUrl ?? 'https://slack.com/api/';
  try {
    const url = new URL(slackApiUrl);
    if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new Error('protocol');
  } catch {
    throw invalidArgument('slackApiUrl must be an http(s) URL');
  }
  const fetchImpl = options.fetch;
  if (fetchImpl !== undefined && typeof fetchImpl !== 'function')
    throw invalidArgument('fetch must be a function', 'ERR_INVALID_ARG_TYPE');
  const now = options.now ?? Date.now;
  if (typeof now !== 'function') throw invalidArgument('now must be a function', 'ERR_INVALID_ARG_TYPE');
  const clientAuth = options.clientAuth ?? 'basic';
  if (clientAuth !== 'basic' && clientAuth !== 'form')
    throw invalidArgument("clientAuth must be 'basic' or 'form'");
  const requestTimeoutMs = duration(options.requestTimeoutMs, 'requestTimeoutMs', 10_000, { positive: true });
  const delays = options.ambiguousRetryDelaysMs ?? [100, 300, 600, 1000];
  if (!Array.isArray(delays))
    throw invalidArgument('ambiguousRetryDelaysMs must be an array', 'ERR_INVALID_ARG_TYPE');
  for (const [i, d] of delays.entries()) duration(d, `ambiguousRetryDelaysMs[${i}]`, 0);
  const rateLimitRetries = options.rateLimitRetries ?? 2;
  if (!Number.isInteger(rateLimitRetries) || rateLimitRetries < 0) {
    throw invalidArgument('rateLimitRetries must be a non-negative integer');
  }
  const maxConcurrentRefreshes = options.maxConcurrentRefreshes ?? 100;
  if (!Number.isInteger(maxConcurrentRefreshes) || maxConcurrentRefreshes < 1) {
    throw invalidArgument('maxConcurrentRefreshes must be a positive integer');
  }
  const cacheMaxEntries = options.cacheMaxEntries ?? 10_000;
  if (!Number.isInteger(cacheMaxEntries) || cacheMaxEntries < 1) {
    throw invalidArgument('cacheMaxEntries must be a positive integer');
  }
  const lockTtlMs = duration(options.lockTtlMs, 'lockTtlMs', 2 * requestTimeoutMs + 5_000, {
    positive: true,
  });
  if (lockTtlMs <= requestTimeoutMs) {
    throw invalidArgument(
      `lockTtlMs (${lockTtlMs}) must be longer than requestTimeoutMs (${requestTimeoutMs})`,
    );
  }
  const logger = options.logger ?? silentLogger;
  if (typeof logger !== 'object' || logger === null || typeof logger.warn !== 'function') {
    throw invalidArgument(
      'logger must be pino-compatible (debug, info, warn, error)',
      'ERR_INVALID_ARG_TYPE',
    );
  }
  const encryption = options.encryption;
  if (encryption !== undefined) {
    checkKeyRing(encryption, 'encryption');
    if (innerStoreOf(options.store) !== undefined) {
      throw invalidArgument('encryption was given with a store that withEncryption() already wraps');
    }
  }
  const stateSecret = options.stateSecret;
  if (stateSecret !== undefined && (typeof stateSecret !== 'string' || stateSecret.length < 32)) {
    throw invalidArgument('stateSecret must be a string of at least 32 characters');
  }
  return {
    clientId,
    clientSecret,
    store: options.store,
    lock,
    refreshWindowMs,
    refreshJitterMs,
    tokenLifetimeMs,
    slackApiUrl: slackApiUrl.endsWith('/') ? slackApiUrl : `${slackApiUrl}/`,
    fetch: fetchImpl,
    now,
    clientAuth,
    requestTimeoutMs,
    lateAnswerMs: duration(options.lateAnswerMs, 'lateAnswerMs', 30_000),
    ambiguousRetryDelaysMs: [...delays],
    rateLimitRetries,
    rateLimitMaxWaitMs: duration(options.rateLimitMaxWaitMs, 'rateLimitMaxWaitMs', 30_000),
    lockTtlMs,
    maxConcurrentRefreshes,
    lockWaitMs: duration(options.lockWaitMs, 'lockWaitMs', lockTtlMs + requestTimeoutMs),
    cacheTtlMs: duration(options.cacheTtlMs, 'cacheTtlMs', 10_000),
    cacheMaxEntries,
    stateSecret,
    logger,
    encryption,
  };
}
