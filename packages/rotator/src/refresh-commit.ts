import { ReauthorizationRequiredError, RetryLaterError, type RotatorError } from './errors.js';
import { describeError } from './events.js';
import type { Lease } from './lock/types.js';
import {
  chainRef,
  inactiveError,
  MAYBE_FORKED,
  notFoundError,
  type RefresherSettings,
} from './refresh-support.js';
import { type IssuedPair, processRefreshResult, type RefreshOutcome } from './slack/outcome.js';
import type { RawResult } from './slack/transport.js';
import type { CompareAndSetOptions, TokenRecord, TokenUpdate } from './store/types.js';

/** What the committer needs from the engine. */
export interface CommitterDeps {
  settings: RefresherSettings;
  read: (chainKey: string) => Promise<TokenRecord | undefined>;
  cas: (
    chainKey: string,
    version: number,
    update: TokenUpdate,
    options?: CompareAndSetOptions,
  ) => Promise<TokenRecord | undefined>;
  /** Emits `refresh-failed` and returns the error. */
  failure: (record: TokenRecord, error: RotatorError) => RotatorError;
}

/**
 * The writes that end a refresh: the new pair by compare-and-set (or, after a lost race, as the
 * winner's sibling), late answers, and the mark of a dead chain.
 */
export function createCommitter({ settings, read, cas, failure }: CommitterDeps) {
  const { now, logger, events } = settings;

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
      events.emit('cas-conflict', { ...chainRef(record), operation: 'mark' });
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

  /**
   * Persists an issued pair with one compare-and-set. A lost CAS keeps the pair as a sibling. The
   * holder's `lease` goes along: a store whose own lock issued it releases it in the same write.
   */
  async function commit(
    record: TokenRecord,
    pair: IssuedPair,
    anomalies: readonly string[],
    usedFallback: boolean,
    maybeForked = false,
    lease?: Lease,
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
    const stored = await cas(
      record.chainKey,
      record.version,
      update,
      lease === undefined ? undefined : { releasing: lease },
    );
    if (stored !== undefined) {
      settings.onRecord(stored);
      return stored;
    }
    // Someone else wrote first (a double exchange got past the lock). Adopt the winner; keep our
    // pair's refresh token as its sibling so it can be tried before the chain is declared dead.
    events.emit('cas-conflict', { ...chainRef(record), operation: 'commit' });
    logger.warn(
      { chainKey: record.chainKey },
      'slack-rotator lost a compare-and-set; adopting the stored pair',
    );
    const winner = await read(record.chainKey);
    if (winner === undefined) throw notFoundError(record.chainKey);
    events.emit('race-recovered', { ...chainRef(winner), how: 'adopted_winner' });
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
    else events.emit('cas-conflict', { ...chainRef(current), operation: 'sibling' });
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
    kind?: TokenRecord['kind'],
  ): void {
    for (const answer of late) {
      void answer.then(async (raw) => {
        const shape = kind === 'config' ? 'tooling' : 'oauth';
        const outcome = processRefreshResult(raw, { startedAt, expectedTokenType: undefined, shape });
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

  return { commit, keepSibling, watchLate, markDead };
}
