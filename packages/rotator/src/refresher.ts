import { ConfigurationError, isRotatorError, RetryLaterError, type RotatorError } from './errors.js';
import { describeError } from './events.js';
import { refreshLockName } from './lock/names.js';
import type { Lease } from './lock/types.js';
import { createCommitter } from './refresh-commit.js';
import {
  type Attempt,
  chainRef,
  guard,
  inactiveError,
  keepAlive,
  MAYBE_FORKED,
  notFoundError,
  type RefresherSettings,
  type RefreshRequest,
} from './refresh-support.js';
import { processRefreshResult } from './slack/outcome.js';
import type { RawResult } from './slack/transport.js';
import { createSlots } from './slots.js';
import type { CompareAndSetOptions, TokenRecord, TokenUpdate } from './store/types.js';
import { inTurn } from './turns.js';

export type { RefresherSettings, RefreshRequest } from './refresh-support.js';
export { chainRef, inactiveError, notFoundError } from './refresh-support.js';

/** How many times a refresh may find its turn to send came too late for the lease before giving up. */
const MAX_UNSENT = 3;

/**
 * A lease taken less than this long ago (ms, by both the monotonic and the wall clock) is not
 * checked again before the first request: the acquire that granted it was that check.
 */
const FRESH_LEASE_MS = 1_000;

/** When an acquire that returned a lease was called, by both clocks. */
interface TakenAt {
  monotonic: number;
  wall: number;
}

/**
 * The refresh engine: lock, re-read, exchange, compare-and-set. One call refreshes one chain at most
 * once (plus prompt retries of an ambiguous failure with the same refresh token).
 */
export function createRefresher(settings: RefresherSettings) {
  const { store, lock, transport, credentials, now, logger, events } = settings;
  const slots = createSlots(settings.maxConcurrentRefreshes);

  // Each I/O start says its stage (see turns.ts): a waiter's wait and its re-read when woken, the
  // commit and the release finish calls and start at once; new calls' reads and lock attempts, then
  // a holder's other steps, then Slack requests are paced. A burst must not hold up the calls it
  // would let finish.
  const read = (chainKey: string) => guard('get', chainKey, () => store.get(chainKey));
  const heldRead = (chainKey: string) => guard('get', chainKey, () => store.get(chainKey), 'hold');
  const wokenRead = (chainKey: string) => guard('get', chainKey, () => store.get(chainKey), 'finish');
  const cas = (chainKey: string, version: number, update: TokenUpdate, options?: CompareAndSetOptions) =>
    guard('compareAndSet', chainKey, () => store.compareAndSet(chainKey, version, update, options), 'finish');

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

  const { commit, watchLate, markDead } = createCommitter({ settings, read: heldRead, cas, failure });

  /** Refreshes the chain if still needed. Returns the record to serve. */
  async function refresh(chainKey: string, request: RefreshRequest): Promise<TokenRecord> {
    const seen: { record?: TokenRecord } = {};
    try {
      return await refreshChain(chainKey, request, seen);
    } catch (error) {
      // Store and lock failures are thrown by the guards, not announced by `failure`.
      if (
        seen.record !== undefined &&
        isRotatorError(error) &&
        (error.name === 'StorageError' || error.name === 'LockTimeoutError')
      ) {
        events.emit('refresh-failed', { ...chainRef(seen.record), error });
      }
      throw error;
    }
  }

  async function refreshChain(
    chainKey: string,
    request: RefreshRequest,
    seen: { record?: TokenRecord },
  ): Promise<TokenRecord> {
    // The caller's own read of a moment ago, if it has one, decides as well as another would.
    let record = request.known?.chainKey === chainKey ? request.known : await read(chainKey);
    if (record === undefined) throw notFoundError(chainKey);
    seen.record = record;
    if (record.status !== 'active') throw inactiveError(record);
    const initial = record;
    if (satisfied(record, request, initial)) return record;

    const name = refreshLockName(chainKey);
    for (let round = 0; ; round++) {
      let lease: Lease | undefined;
      let takenAt: TakenAt = { monotonic: performance.now(), wall: Date.now() };
      const waitStartedAt = now();
      if (lock.wait === undefined) {
        // It waits for the holder's steps: outside the window of store and lock operations.
        lease = await inTurn(() => {
          takenAt = { monotonic: performance.now(), wall: Date.now() };
          return lock.acquire(name, { ttlMs: settings.lockTtlMs, waitMs: settings.lockWaitMs });
        }, 'long');
      } else {
        // A busy lock means a peer is refreshing: wait for it to finish without taking the lock,
        // then look at what it stored. Only if it left the chain due does this caller try again.
        const waitUntil = performance.now() + settings.lockWaitMs;
        const wait = lock.wait.bind(lock);
        for (;;) {
          try {
            lease = await inTurn(() => {
              takenAt = { monotonic: performance.now(), wall: Date.now() };
              return lock.acquire(name, { ttlMs: settings.lockTtlMs, waitMs: 0 });
            });
            break;
          } catch (error) {
            if (!isRotatorError(error) || error.code !== 'lock_timeout') throw error;
          }
          await inTurn(() => wait(name, { waitMs: Math.max(0, waitUntil - performance.now()) }), 'finish');
          const current = await wokenRead(chainKey);
          if (current === undefined) throw notFoundError(chainKey);
          settings.onRecord(current);
          if (current.status !== 'active') throw inactiveError(current);
          if (satisfied(current, request, initial)) {
            if (events.listens('peer-refreshed')) {
              events.emit('peer-refreshed', { ...chainRef(current), waitedMs: now() - waitStartedAt });
            }
            return current;
          }
        }
      }
      if (events.listens('lock-acquired')) {
        events.emit('lock-acquired', { ...chainRef(initial), waitedMs: now() - waitStartedAt });
      }
      let attempt: Attempt;
      try {
        record = await heldRead(chainKey);
        if (record === undefined) throw notFoundError(chainKey);
        settings.onRecord(record);
        if (record.status !== 'active') throw inactiveError(record);
        if (satisfied(record, request, initial)) return record;
        attempt = await exchange(record, lease, takenAt);
      } finally {
        await inTurn(() => lock.release(lease), 'finish').catch((error: unknown) => {
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

  /**
   * Whether the lease was granted so recently that the grant stands for the check before sending:
   * the lease then outlasts the request by far (the lease's time ran from after the acquire was
   * called). Any other send checks the lease with a renew first. A holder that stalled (paused,
   * swapped out, its clock stepped) sees the time pass on one clock or the other and checks.
   */
  const freshLease = (takenAt: TakenAt): boolean => {
    const limit = Math.min(FRESH_LEASE_MS, (settings.lockTtlMs - settings.requestTimeoutMs) / 2);
    const sinceMonotonic = performance.now() - takenAt.monotonic;
    const sinceWall = Date.now() - takenAt.wall;
    return sinceMonotonic >= 0 && sinceMonotonic < limit && sinceWall >= 0 && sinceWall < limit;
  };

  async function exchange(record: TokenRecord, lease: Lease, takenAt: TakenAt): Promise<Attempt> {
    const stop = keepAlive(lock, lease, settings.lockTtlMs, logger);
    const started = now();
    const late: Promise<RawResult>[] = [];
    let token = record.refreshToken;
    let usingFallback = false;
    let ambiguousRetries = 0;
    let unsent = 0;
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
      await guard(
        'recordIntent',
        record.chainKey,
        () => store.recordIntent(record.chainKey, record.version, null),
        'hold',
      );
    };
    try {
      for (let attempts = 1; ; attempts++) {
        // The lease is checked (and extended) just before sending: a holder that lost it stops here.
        // The first request under a lease taken a moment ago goes without that check (see
        // `freshLease`): the acquire was the check, and a renew would cost every refresh a round trip.
        // The request must start while the lease still outlasts the request's timeout.
        const fresh = attempts === 1 && freshLease(takenAt);
        const startBy =
          (fresh ? takenAt.monotonic : performance.now()) + settings.lockTtlMs - settings.requestTimeoutMs;
        if (!fresh && !(await inTurn(() => lock.renew(lease, settings.lockTtlMs), 'hold'))) {
          const current = await heldRead(record.chainKey);
          if (current !== undefined && current.version !== record.version) {
            events.emit('race-recovered', { ...chainRef(current), how: 'peer_rotated' });
            return { record: current };
          }
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
          const written = await guard(
            'recordIntent',
            record.chainKey,
            () =>
              store.recordIntent(record.chainKey, record.version, {
                version: record.version,
                fingerprint: settings.fingerprint(token),
                startedAt,
                deadlineAt: startedAt + settings.requestTimeoutMs,
              }),
            'hold',
          );
          if (!written) {
            events.emit('cas-conflict', { ...chainRef(record), operation: 'intent' });
            const current = await heldRead(record.chainKey);
            if (current === undefined) throw notFoundError(record.chainKey);
            settings.onRecord(current);
            if (current.status !== 'active') throw inactiveError(current);
            events.emit('race-recovered', { ...chainRef(current), how: 'peer_rotated' });
            return { record: current };
          }
          intentFor = token;
        }
        // Configuration tokens rotate at tooling.tokens.rotate, with the refresh token alone.
        // Sent once a slot is free (settings.maxConcurrentRefreshes), and started in turns (see
        // turns.ts), so a burst of refreshes leaves the loop to others.
        await slots.take();
        let raw: RawResult | undefined;
        try {
          raw = await inTurn(async () => {
            // Queued (or the process stalled) past the lease's margin: check the lease again first.
            if (performance.now() > startBy) return undefined;
            return record.kind === 'config'
              ? transport.send('tooling.tokens.rotate', { refresh_token: token })
              : transport.send(
                  'oauth.v2.access',
                  { grant_type: 'refresh_token', refresh_token: token },
                  credentials,
                );
          }, 'long');
        } finally {
          slots.give();
        }
        if (raw === undefined) {
          // Nothing was sent: the intent stays (a later holder presents the same token, unspent).
          if (++unsent < MAX_UNSENT) continue;
          throw failure(
            record,
            new RetryLaterError(
              'lease_lost',
              `[slack-rotator] the refresh of ${record.chainKey} could not start while the lock's lease outlasted requestTimeoutMs; is lockTtlMs long enough?`,
              { chainKey: record.chainKey },
            ),
          );
        }
        const outcome = processRefreshResult(raw, {
          startedAt,
          expectedTokenType: record.kind === 'config' ? undefined : record.kind,
          shape: record.kind === 'config' ? 'tooling' : 'oauth',
        });
        switch (outcome.kind) {
          case 'issued': {
            const stored = await commit(
              record,
              outcome.pair,
              outcome.anomalies,
              usingFallback,
              maybeSpent(),
              lease,
            );
            if (usingFallback)
              events.emit('race-recovered', { ...chainRef(stored), how: 'sibling_fallback' });
            if (late.length > 0) watchLate(late, stored.chainKey, startedAt, undefined, record.kind);
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
            if (late.length > 0) watchLate(late, record.chainKey, startedAt, record.version, record.kind);
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
            const current = await heldRead(record.chainKey);
            if (current !== undefined && current.version !== record.version) {
              logger.info(
                { chainKey: record.chainKey },
                'slack-rotator: a peer rotated the chain; adopting its pair',
              );
              events.emit('race-recovered', { ...chainRef(current), how: 'peer_rotated' });
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

  return { refresh, read };
}

export type Refresher = ReturnType<typeof createRefresher>;
