import {
  ConfigurationError,
  isRotatorError,
  ReauthorizationRequiredError,
  RetryLaterError,
  type RotatorError,
  StorageError,
} from './errors.js';
import type { ChainRef, Emitter } from './events.js';
import { describeError } from './events.js';
import type { Lease, Lock } from './lock/types.js';
import type { Logger } from './logger.js';
import { type IssuedPair, processRefreshResult, type RefreshOutcome } from './slack/outcome.js';
import type { ClientCredentials, RawResult, Transport } from './slack/transport.js';
import type { TokenRecord, TokenStore, TokenUpdate } from './store/types.js';

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
async function guard<T>(operation: string, chainKey: string, run: () => Promise<T>): Promise<T> {
  try {
    return await run();
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

type Attempt = { record: TokenRecord } | { rateLimitedMs: number | undefined };

/** `lastErrorCode` of a chain whose last rotation followed a lost answer (a sibling may exist). */
export const MAYBE_FORKED = 'maybe_forked';

/**
 * The refresh engine: lock, re-read, exchange, compare-and-set. One call refreshes one chain at most
 * once (plus prompt retries of an ambiguous failure with the same refresh token).
 */
export function createRefresher(settings: RefresherSettings) {
  const { store, lock, transport, credentials, now, logger, events } = settings;

  const read = (chainKey: string) => guard('get', chainKey, () => store.get(chainKey));
  const cas = (chainKey: string, version: number, update: TokenUpdate) =>
    guard('compareAndSet', chainKey, () => store.compareAndSet(chainKey, version, update));

  /** True when `record` already satisfies the request (a peer rotated, or nothing is due). */
  function satisfied(record: TokenRecord, request: RefreshRequest, initial: TokenRecord): boolean {
    if (request.ifAccessToken !== undefined) return record.accessToken !== request.ifAccessToken;
    if (request.force === true) return record.accessToken !== initial.accessToken;
    return !request.isDue(record);
  }

  /** Emits `refresh-failed` and returns the error, for `throw failure(…)`. */
  function failure(record: TokenRecord, error: RotatorError): RotatorError {
    events.emit('refresh-failed', { ...chainRef(record), error });
    return error;
  }

  /** Refreshes the chain if still needed. Returns the record to serve. */
  async function refresh(chainKey: string, request: RefreshRequest): Promise<TokenRecord> {
    let record = await read(chainKey);
    if (record === undefined) throw notFoundError(chainKey);
    if (record.status !== 'active') throw inactiveError(record);
    const initial = record;
    if (satisfied(record, request, initial)) return record;

    for (let round = 0; ; round++) {
      const lease = await lock.acquire(`refresh:${chainKey}`, {
        ttlMs: settings.lockTtlMs,
        waitMs: settings.lockWaitMs,
      });
      let attempt: Attempt;
      try {
        record = await read(chainKey);
        if (record === undefined) throw notFoundError(chainKey);
        settings.onRecord(record);
        if (record.status !== 'active') throw inactiveError(record);
        if (satisfied(record, request, initial)) return record;
        attempt = await exchange(record, lease);
      } finally {
        await lock.release(lease).catch((error: unknown) => {
          logger.warn({ chainKey, err: describeError(error) }, 'slack-rotator lock release failed');
        });
      }
      if ('record' in attempt) return attempt.record;
      if (round >= settings.rateLimitRetries) {
        const waitMs = Math.min(attempt.rateLimitedMs ?? 1000, settings.rateLimitMaxWaitMs);
        throw failure(
          record,
          new RetryLaterError(
            'rate_limited',
            `[slack-rotator] Slack rate-limited the refresh of ${chainKey}`,
            {
              chainKey,
              slackError: 'ratelimited',
              status: 429,
              retryAt: now() + waitMs,
            },
          ),
        );
      }
      // A 429 spent nothing: wait without holding the lock, then start over from a fresh read.
      const waitMs = Math.min(attempt.rateLimitedMs ?? 1000, settings.rateLimitMaxWaitMs);
      logger.warn({ chainKey, waitMs, round }, 'slack-rotator refresh rate-limited; waiting');
      await settings.sleep(waitMs);
    }
  }

  /** Keeps the lease alive while a refresh is in flight. */
  function keepAlive(lease: Lease): () => void {
    const timer = setInterval(
      () => {
        lock.renew(lease, settings.lockTtlMs).catch((error: unknown) => {
          logger.warn({ lock: lease.name, err: describeError(error) }, 'slack-rotator lease renewal failed');
        });
      },
      Math.max(10, Math.floor(settings.lockTtlMs / 3)),
    );
    timer.unref?.();
    return () => clearInterval(timer);
  }

  async function exchange(record: TokenRecord, lease: Lease): Promise<Attempt> {
    const stop = keepAlive(lease);
    const started = now();
    const late: Promise<RawResult>[] = [];
    let token = record.refreshToken;
    let usingFallback = false;
    let ambiguousRetries = 0;
    let intentFor: string | undefined;
    // An intent left at this version: an earlier refresh was sent and never stored. Slack may have
    // rotated the chain and the answer was lost; the retry below uses the same token at once.
    const lostAttempt = record.refreshIntent !== null && record.refreshIntent.version === record.version;
    if (lostAttempt) {
      logger.warn(
        { chainKey: record.chainKey, intentStartedAt: record.refreshIntent?.startedAt },
        'slack-rotator found an unfinished refresh: Slack may have rotated and the answer was lost',
      );
    }
    /** Whether, in this refresh, Slack may have issued a pair we never stored. */
    const maybeSpent = () => lostAttempt || ambiguousRetries > 0;
    /** Clears our intent after an answer that spent nothing, unless an earlier attempt may have. */
    const clearIntent = async () => {
      if (intentFor === undefined || maybeSpent()) return;
      await guard('recordIntent', record.chainKey, () =>
        store.recordIntent(record.chainKey, record.version, null),
      );
    };
    try {
      for (let attempts = 1; ; attempts++) {
        // The lease is checked (and extended) just before sending: a holder that lost it stops here.
        if (!(await lock.renew(lease, settings.lockTtlMs))) {
          const current = await read(record.chainKey);
          if (current !== undefined && current.version !== record.version) return { record: current };
          throw failure(
            record,
            new RetryLaterError(
              'lease_lost',
              `[slack-rotator] lost the refresh lock for ${record.chainKey}`,
              {
                chainKey: record.chainKey,
              },
            ),
          );
        }
        const startedAt = now();
        if (intentFor !== token) {
          // Write-ahead: before Slack can spend the token, note that we are presenting it.
          const written = await guard('recordIntent', record.chainKey, () =>
            store.recordIntent(record.chainKey, record.version, {
              version: record.version,
              fingerprint: settings.fingerprint(token),
              startedAt,
              deadlineAt: startedAt + settings.requestTimeoutMs,
            }),
          );
          if (!written) {
            const current = await read(record.chainKey);
            if (current === undefined) throw notFoundError(record.chainKey);
            settings.onRecord(current);
            if (current.status !== 'active') throw inactiveError(current);
            return { record: current };
          }
          intentFor = token;
        }
        const raw = await transport.send(
          'oauth.v2.access',
          { grant_type: 'refresh_token', refresh_token: token },
          credentials,
        );
        const outcome = processRefreshResult(raw, {
          startedAt,
          expectedTokenType: record.kind === 'config' ? undefined : record.kind,
        });
        switch (outcome.kind) {
          case 'issued': {
            const stored = await commit(record, outcome.pair, outcome.anomalies, usingFallback, maybeSpent());
            if (late.length > 0) watchLate(late, stored.chainKey, startedAt);
            if (outcome.anomalies.length > 0) {
              logger.warn(
                { chainKey: record.chainKey, anomalies: outcome.anomalies },
                'slack-rotator stored an unexpected ok:true refresh answer',
              );
              throw failure(
                stored,
                new RetryLaterError(
                  'unexpected_response',
                  `[slack-rotator] Slack's refresh answer for ${record.chainKey} was incomplete (${outcome.anomalies.join(', ')}); what came was stored`,
                  { chainKey: record.chainKey, status: 200 },
                ),
              );
            }
            events.emit('refreshed', {
              ...chainRef(stored),
              version: stored.version,
              expiresAt: stored.expiresAt,
              attempts,
              durationMs: now() - started,
            });
            return { record: stored };
          }
          case 'ambiguous': {
            if (outcome.late !== undefined) late.push(outcome.late);
            const delay = settings.ambiguousRetryDelaysMs[ambiguousRetries];
            logger.warn(
              {
                chainKey: record.chainKey,
                reason: outcome.reason,
                slackError: outcome.slackError,
                status: outcome.status,
                retry: delay !== undefined,
              },
              'slack-rotator refresh outcome unknown; Slack may have rotated',
            );
            if (delay !== undefined) {
              ambiguousRetries++;
              await settings.sleep(delay);
              continue;
            }
            if (late.length > 0) watchLate(late, record.chainKey, startedAt, record.version);
            throw failure(
              record,
              new RetryLaterError(
                'slack_unavailable',
                `[slack-rotator] Slack did not answer the refresh of ${record.chainKey} clearly (${outcome.slackError ?? outcome.reason}) after ${attempts} attempts`,
                {
                  chainKey: record.chainKey,
                  ...(outcome.slackError ? { slackError: outcome.slackError } : {}),
                  ...(outcome.status ? { status: outcome.status } : {}),
                  ...(outcome.cause !== undefined ? { cause: outcome.cause } : {}),
                },
              ),
            );
          }
          case 'rate_limited': {
            // After an ambiguous answer the token may be spent, and Slack's grace period is short:
            // keep the lock and the same token, and count the wait as one of the prompt retries.
            const delay =
              ambiguousRetries > 0 ? settings.ambiguousRetryDelaysMs[ambiguousRetries] : undefined;
            if (delay === undefined) {
              await clearIntent();
              return { rateLimitedMs: outcome.retryAfterMs };
            }
            ambiguousRetries++;
            logger.warn(
              { chainKey: record.chainKey, waitMs: delay },
              'slack-rotator rate-limited after an unclear answer',
            );
            await settings.sleep(Math.min(outcome.retryAfterMs ?? delay, delay));
            continue;
          }
          case 'configuration':
            await clearIntent();
            throw failure(
              record,
              new ConfigurationError(
                'invalid_client',
                `[slack-rotator] Slack refused the app's configuration (${outcome.slackError}); check clientId and clientSecret`,
                { chainKey: record.chainKey, slackError: outcome.slackError, status: outcome.status },
              ),
            );
          case 'refused':
            await clearIntent();
            throw failure(
              record,
              new RetryLaterError(
                'unexpected_response',
                `[slack-rotator] Slack refused the refresh of ${record.chainKey} (${outcome.slackError})`,
                { chainKey: record.chainKey, slackError: outcome.slackError, status: outcome.status },
              ),
            );
          case 'terminal': {
            const current = await read(record.chainKey);
            if (current !== undefined && current.version !== record.version) {
              logger.info(
                { chainKey: record.chainKey },
                'slack-rotator: a peer rotated the chain; adopting its pair',
              );
              return { record: current };
            }
            if (!usingFallback && record.fallbackRefreshToken !== null) {
              logger.warn(
                { chainKey: record.chainKey },
                'slack-rotator refresh token refused; trying the sibling',
              );
              token = record.fallbackRefreshToken;
              usingFallback = true;
              continue;
            }
            // A refusal now means a lost rotation if a pair may have been lost in this refresh or
            // in the one that produced the stored pair.
            await markDead(record, outcome, maybeSpent() || record.lastErrorCode === MAYBE_FORKED);
          }
        }
      }
    } finally {
      stop();
    }
  }

  async function markDead(
    record: TokenRecord,
    outcome: Extract<RefreshOutcome, { kind: 'terminal' }>,
    lostRotation: boolean,
  ): Promise<never> {
    // Refused after a refresh whose answer never reached the store: Slack rotated the chain and the
    // pair it issued was lost. Told apart from a plain dead token, since no retry could have helped.
    const cause =
      lostRotation && outcome.slackError === 'invalid_refresh_token' ? 'lost_rotation' : outcome.slackError;
    const marked = await cas(record.chainKey, record.version, {
      status: 'reauthorization_required',
      lastErrorCode: cause,
      refreshIntent: null,
      updatedAt: now(),
    });
    if (marked === undefined) {
      // Someone wrote meanwhile: a peer's new pair (serve it) or a peer's mark (already announced).
      const current = await read(record.chainKey);
      if (current === undefined) throw notFoundError(record.chainKey);
      settings.onRecord(current);
      if (current.status !== 'active') throw inactiveError(current);
      throw new RetryLaterError(
        'lease_lost',
        `[slack-rotator] chain ${record.chainKey} changed during refresh`,
        {
          chainKey: record.chainKey,
        },
      );
    }
    settings.onRecord(marked);
    logger.error(
      { chainKey: record.chainKey, slackError: outcome.slackError },
      'slack-rotator chain needs re-authorization',
    );
    events.emit('reauthorization_required', { ...chainRef(record), slackError: outcome.slackError, cause });
    throw failure(
      marked,
      new ReauthorizationRequiredError(
        cause === 'lost_rotation'
          ? 'lost_rotation'
          : outcome.slackError === 'invalid_refresh_token'
            ? 'invalid_refresh_token'
            : 'reauthorization_required',
        cause === 'lost_rotation'
          ? `[slack-rotator] Slack refused the refresh token of ${record.chainKey} after a refresh whose answer was lost (lost_rotation); the installation must be authorized again`
          : `[slack-rotator] Slack refused the refresh token of ${record.chainKey} (${outcome.slackError}); the installation must be authorized again`,
        { chainKey: record.chainKey, slackError: outcome.slackError, status: outcome.status },
      ),
    );
  }

  /** Persists an issued pair with one compare-and-set. A lost CAS keeps the pair as a sibling. */
  async function commit(
    record: TokenRecord,
    pair: IssuedPair,
    anomalies: readonly string[],
    usedFallback: boolean,
    maybeForked = false,
  ): Promise<TokenRecord> {
    const at = now();
    const complete = pair.accessToken !== undefined && pair.expiresAt !== undefined;
    const update: TokenUpdate = {
      accessToken: pair.accessToken ?? record.accessToken,
      refreshToken:
        pair.refreshToken ??
        (usedFallback ? (record.fallbackRefreshToken ?? record.refreshToken) : record.refreshToken),
      expiresAt: complete ? (pair.expiresAt as number) : at,
      fallbackRefreshToken: null,
      refreshIntent: null,
      status: 'active',
      // After a lost answer, Slack may have issued a sibling pair we never saw; remembered until the
      // next rotation so that a refusal then is recognised as a lost rotation.
      lastErrorCode: anomalies.length > 0 ? 'unexpected_response' : maybeForked ? MAYBE_FORKED : null,
      refreshedAt: at,
      updatedAt: at,
    };
    if (pair.scopes !== undefined) update.scopes = pair.scopes;
    if (pair.botUserId !== undefined && record.kind === 'bot') update.botUserId = pair.botUserId;
    if (pair.appId !== undefined) update.appId = pair.appId;
    const stored = await cas(record.chainKey, record.version, update);
    if (stored !== undefined) {
      settings.onRecord(stored);
      return stored;
    }
    // Someone else wrote first (a double exchange got past the lock). Adopt the winner; keep our
    // pair's refresh token as its sibling so it can be tried before the chain is declared dead.
    logger.warn(
      { chainKey: record.chainKey },
      'slack-rotator lost a compare-and-set; adopting the stored pair',
    );
    const winner = await read(record.chainKey);
    if (winner === undefined) throw notFoundError(record.chainKey);
    if (pair.refreshToken !== undefined) {
      const kept = await keepSibling(winner, pair.refreshToken);
      if (kept !== undefined) return kept;
    }
    settings.onRecord(winner);
    return winner;
  }

  async function keepSibling(current: TokenRecord, sibling: string): Promise<TokenRecord | undefined> {
    if (current.refreshToken === sibling || current.fallbackRefreshToken === sibling) return undefined;
    const stored = await cas(current.chainKey, current.version, {
      fallbackRefreshToken: sibling,
      updatedAt: now(),
    });
    if (stored !== undefined) settings.onRecord(stored);
    return stored;
  }

  /**
   * A timed-out request may still answer `ok: true`. Its pair is then real: stored as the chain's
   * pair when nothing else was stored since (`baseVersion`), else kept as the sibling.
   */
  function watchLate(
    late: Promise<RawResult>[],
    chainKey: string,
    startedAt: number,
    baseVersion?: number,
  ): void {
    for (const answer of late) {
      void answer.then(async (raw) => {
        const outcome = processRefreshResult(raw, { startedAt, expectedTokenType: undefined });
        if (outcome.kind !== 'issued' || outcome.pair.refreshToken === undefined) return;
        try {
          const current = await read(chainKey);
          if (current === undefined) return;
          if (baseVersion !== undefined && current.version === baseVersion) {
            await commit(current, outcome.pair, outcome.anomalies, false);
            logger.warn({ chainKey }, 'slack-rotator stored a refresh answer that arrived after its timeout');
          } else {
            await keepSibling(current, outcome.pair.refreshToken);
            logger.warn({ chainKey }, 'slack-rotator kept a late sibling refresh token as fallback');
          }
        } catch (error) {
          logger.error(
            { chainKey, err: describeError(error) },
            'slack-rotator could not store a late refresh answer',
          );
        }
      });
    }
  }

  return { refresh, read };
}

export type Refresher = ReturnType<typeof createRefresher>;
