import { isRotatorError, ReauthorizationRequiredError, StorageError } from './errors.js';
import { type ChainRef, describeError, type Emitter } from './events.js';
import type { Lease, Lock } from './lock/types.js';
import type { Logger } from './logger.js';
import type { ClientCredentials, Transport } from './slack/transport.js';
import type { TokenRecord, TokenStore } from './store/types.js';
import { inTurn, type Stage } from './turns.js';

/** The settings the refresh engine runs with (resolved from the rotator's options). */
export interface RefresherSettings {
  store: TokenStore;
  lock: Lock;
  transport: Transport;
  credentials: ClientCredentials;
  now: () => number;
  logger: Logger;
  events: Emitter;
  lockTtlMs: number;
  lockWaitMs: number;
  /** How many refresh requests may be at Slack at once; more wait for a slot. */
  maxConcurrentRefreshes: number;
  /** Delays before each prompt retry of an ambiguous failure, with the same refresh token. */
  ambiguousRetryDelaysMs: readonly number[];
  rateLimitRetries: number;
  rateLimitMaxWaitMs: number;
  /** How long a refresh request may take (ms): the deadline of its write-ahead intent. */
  requestTimeoutMs: number;
  /** Fingerprints a refresh token for the write-ahead intent (never stores the token). */
  fingerprint: (refreshToken: string) => string;
  /** Called with every record this engine wrote or read fresh, so caches stay current. */
  onRecord: (record: TokenRecord) => void;
  sleep: (ms: number) => Promise<void>;
}

/** Why a refresh is wanted, and what makes it unnecessary. */
export interface RefreshRequest {
  /** The chain's record as the caller read it from the store a moment ago: taken as the first read. */
  known?: TokenRecord;
  /** Refresh even when the token is not due; satisfied by any rotation since `seenVersion`. */
  force?: boolean;
  /** Refresh only while this is still the stored access token (after `token_expired`). */
  ifAccessToken?: string;
  /** Whether a record is due for refresh (window, jitter, `minValidityMs`). */
  isDue: (record: TokenRecord) => boolean;
}

export function chainRef(record: TokenRecord): ChainRef {
  return {
    chainKey: record.chainKey,
    installationId: record.installationId,
    teamId: record.teamId,
    enterpriseId: record.enterpriseId,
    kind: record.kind,
    userId: record.userId,
  };
}

/** The error for a chain that is not active. */
export function inactiveError(record: TokenRecord): ReauthorizationRequiredError {
  return record.status === 'revoked'
    ? new ReauthorizationRequiredError(
        'chain_revoked',
        `[slack-rotator] chain ${record.chainKey} was revoked`,
        {
          chainKey: record.chainKey,
        },
      )
    : new ReauthorizationRequiredError(
        'reauthorization_required',
        `[slack-rotator] chain ${record.chainKey} needs re-authorization (last error: ${record.lastErrorCode ?? 'unknown'})`,
        { chainKey: record.chainKey, ...(record.lastErrorCode ? { slackError: record.lastErrorCode } : {}) },
      );
}

export function notFoundError(chainKey: string): ReauthorizationRequiredError {
  return new ReauthorizationRequiredError(
    'installation_not_found',
    `[slack-rotator] no installation stored for chain ${chainKey}`,
    { chainKey },
  );
}

/** Wraps a store failure (anything that is not already a RotatorError) without its message. */
export async function guard<T>(
  operation: string,
  chainKey: string,
  run: () => Promise<T>,
  stage: Stage = 'new',
): Promise<T> {
  try {
    // Started in turns (see turns.ts): a burst of store calls leaves the event loop to others.
    return await inTurn(run, stage);
  } catch (error) {
    if (isRotatorError(error)) throw error;
    throw new StorageError(
      'store_failed',
      `[slack-rotator] token store ${operation} failed for ${chainKey}`,
      {
        chainKey,
        cause: error,
      },
    );
  }
}

export type Attempt = { record: TokenRecord } | { rateLimitedMs: number | undefined };

/** `lastErrorCode` of a chain whose last rotation followed a lost answer (a sibling may exist). */
export const MAYBE_FORKED = 'maybe_forked';

/** Renews `lease` every third of its TTL while a refresh is in flight; returns the stop. */
export function keepAlive(lock: Lock, lease: Lease, ttlMs: number, logger: Logger): () => void {
  const timer = setInterval(
    () => {
      lock.renew(lease, ttlMs).catch((error: unknown) => {
        logger.warn({ lock: lease.name, err: describeError(error) }, 'slack-rotator lease renewal failed');
      });
    },
    Math.max(10, Math.floor(ttlMs / 3)),
  );
  timer.unref?.();
  return () => clearInterval(timer);
}
