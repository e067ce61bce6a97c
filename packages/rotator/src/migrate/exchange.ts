import { isRotatorError } from '../errors.js';
import { describeError } from '../events.js';
import type { Logger } from '../logger.js';
import { AMBIGUOUS_ERRORS } from '../slack/outcome.js';
import type { ChainItem } from './chains.js';
import { fingerprintToken, type JournalEntry, type MigrationJournal } from './journal.js';
import type { MigrateOptions, MigrationFailure, MigrationOutcome } from './types.js';

/**
 * Slack refusals after which exchanging the same token can never succeed: recorded as final in the
 * journal and never sent again.
 */
export const FINAL_REFUSALS: ReadonlySet<string> = new Set([
  'token_already_exchanged',
  'invalid_token',
  'authorization_not_found',
  'token_revoked',
  'token_expired',
  'account_inactive',
  'invalid_auth',
  'not_authed',
]);

/** Network failures that happen before a request is sent: Slack cannot have exchanged anything. */
const UNSENT_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'ENETUNREACH', 'EHOSTUNREACH']);

/** How one failed `rotator.exchangeLegacyToken` call is handled. */
export type ExchangeFailure =
  /** Slack refused; nothing was exchanged (or, for `token_already_exchanged`, not by this call). */
  | { kind: 'refused'; slackError: string; final: boolean }
  /** The app's configuration is wrong (`token_rotation_not_enabled`, bad credentials): every token would fail. */
  | { kind: 'configuration'; slackError: string }
  /** 429 / `ratelimited`: nothing was exchanged; wait and try again. */
  | { kind: 'ratelimited'; retryAt: number | undefined }
  /** Slack was not reached; nothing was exchanged. */
  | { kind: 'unsent' }
  /** Slack may have exchanged the token: the answer was lost, late, or an error page. */
  | { kind: 'uncertain'; slackError: string | undefined }
  /** Slack answered `ok: true` but the answer could not be stored as a chain. */
  | { kind: 'unusable' }
  /** Slack answered `ok: true` and the store failed: whether it was saved is known on the next run. */
  | { kind: 'store_failed' };

function causeCodes(error: unknown): string[] {
  const codes: string[] = [];
  let current: unknown = error;
  for (let depth = 0; depth < 5 && typeof current === 'object' && current !== null; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string') codes.push(code);
    current = (current as { cause?: unknown }).cause;
  }
  return codes;
}

/**
 * Classifies what `rotator.exchangeLegacyToken` threw. Anything not recognised is rethrown by the
 * caller (the journal entry stays `exchanging`, so the next run checks the store).
 */
export function classifyExchangeError(error: unknown): ExchangeFailure | undefined {
  if (error instanceof TypeError && /^ERR_INVALID_ARG_/.test(String((error as { code?: unknown }).code))) {
    return { kind: 'unusable' };
  }
  if (!isRotatorError(error)) return undefined;
  const slackError = error.slackError;
  if (error.name === 'StorageError') return { kind: 'store_failed' };
  if (error.name === 'ConfigurationError')
    return { kind: 'configuration', slackError: slackError ?? error.code };
  if (error.status === 429 || slackError === 'ratelimited') {
    const retryAt = (error as { retryAt?: unknown }).retryAt;
    return { kind: 'ratelimited', retryAt: typeof retryAt === 'number' ? retryAt : undefined };
  }
  if (error.name === 'RetryLaterError') {
    return causeCodes(error.cause).some((code) => UNSENT_CODES.has(code))
      ? { kind: 'unsent' }
      : { kind: 'uncertain', slackError };
  }
  if (error.name === 'ReauthorizationRequiredError' && slackError !== undefined) {
    if (AMBIGUOUS_ERRORS.has(slackError)) return { kind: 'uncertain', slackError };
    return { kind: 'refused', slackError, final: FINAL_REFUSALS.has(slackError) };
  }
  return undefined;
}

/** The key of a {@link Stop}'s code. */
export const STOP = Symbol('slack-rotator.migration.stop');

/** Thrown inside a run to stop it; the report says why (`stoppedBy`). */
export interface Stop {
  [STOP]: string;
}

/** A {@link Stop} carrying `code` (the report's `stoppedBy`). */
export const stop = (code: string): Stop => ({ [STOP]: code });
/** True for a {@link Stop}. */
export const isStop = (value: unknown): value is Stop =>
  typeof value === 'object' && value !== null && STOP in value;

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    if (ms < 1 || signal?.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}

/**
 * The legacy-token half of a run: for each chain, the journal state, the store, the rate limit, the
 * exchange, and what its failure means.
 */
export function createExchanger(deps: {
  rotator: MigrateOptions['rotator'];
  readStore: (item: ChainItem) => Promise<unknown>;
  journal: MigrationJournal;
  states: Map<string, JournalEntry>;
  signal: AbortSignal | undefined;
  fail: (failure: MigrationFailure) => void;
  logger: Logger;
  dryRun: boolean;
  retryUncertain: boolean;
  ratePerMinute: number;
  rateLimitWaitMs: number;
  rateLimitRetries: number;
}): (item: ChainItem) => Promise<MigrationOutcome> {
  const { rotator, journal, states, logger, dryRun } = deps;
  const intervalMs = 60_000 / deps.ratePerMinute;
  let nextAt = 0;

  async function write(entry: Omit<JournalEntry, 'at'>): Promise<void> {
    const full = { ...entry, at: Date.now() };
    await journal.append(full);
    states.set(entry.fingerprint, full);
  }

  function failed(
    item: ChainItem,
    code: string,
    message: string,
    extra: { slackError?: string; retryable?: boolean } = {},
  ) {
    deps.fail({
      ...item.ref,
      code,
      ...(extra.slackError === undefined ? {} : { slackError: extra.slackError }),
      retryable: extra.retryable ?? false,
      message,
    });
    return 'failed' as const;
  }

  const lost = (item: ChainItem, slackError?: string) =>
    failed(
      item,
      'exchanged_answer_lost',
      slackError === undefined
        ? 'Slack may have exchanged the token, and the answer was lost: install the app again in this workspace (the legacy token works until then)'
        : 'Slack exchanged the token and the answer was lost: install the app again in this workspace (the legacy token works until then)',
      {
        ...(slackError === undefined ? {} : { slackError }),
        retryable: slackError === undefined && deps.retryUncertain,
      },
    );

  const exists = async (item: ChainItem) => (await deps.readStore(item)) !== undefined;

  return async function exchange(item: ChainItem): Promise<MigrationOutcome> {
    const fingerprint = fingerprintToken(item.token);
    const state = states.get(fingerprint);
    if (state?.op === 'done') return 'already_migrated';
    if (state?.op === 'failed' && state.final === true) {
      return failed(item, state.code ?? 'exchange_failed', 'Slack refused this token in an earlier run', {
        ...(state.slackError === undefined ? {} : { slackError: state.slackError }),
      });
    }
    const started = state?.op === 'exchanging';
    if (await exists(item)) {
      // Either our exchange was saved before a crash, or the chain was installed some other way.
      if (started && !dryRun) await write({ op: 'done', fingerprint, chainKey: item.chainKey });
      return 'already_migrated';
    }
    if (started && !deps.retryUncertain) return lost(item);
    if (dryRun) return started ? lost(item) : 'exchanged';

    for (let attempt = 0; ; attempt++) {
      await sleep(nextAt - Date.now(), deps.signal);
      if (deps.signal?.aborted) throw stop('aborted');
      nextAt = Math.max(nextAt, Date.now()) + intervalMs;
      await write({ op: 'exchanging', fingerprint, chainKey: item.chainKey });
      let error: unknown;
      try {
        const saved = await rotator.exchangeLegacyToken(
          item.token,
          item.ref.chain === 'bot' || item.userId === undefined ? {} : { userId: item.userId },
        );
        const chainKey = saved.chains[0]?.chainKey ?? item.chainKey;
        if (chainKey !== item.chainKey) {
          logger.warn(
            { expected: item.chainKey, chainKey },
            'slack-rotator migration: Slack named another chain',
          );
        }
        await write({ op: 'done', fingerprint, chainKey });
        return 'exchanged';
      } catch (caught) {
        error = caught;
      }
      const failure = classifyExchangeError(error);
      logger.warn(
        { chainKey: item.chainKey, kind: failure?.kind, err: describeError(error) },
        'slack-rotator migration: exchange failed',
      );
      const base = { fingerprint, chainKey: item.chainKey } as const;
      switch (failure?.kind) {
        case 'refused': {
          const confirmedLoss = started && failure.slackError === 'token_already_exchanged';
          const code = confirmedLoss ? 'exchanged_answer_lost' : failure.slackError;
          await write({ op: 'failed', ...base, code, slackError: failure.slackError, final: failure.final });
          if (confirmedLoss) return lost(item, failure.slackError);
          return failed(item, code, `Slack refused the exchange (${failure.slackError})`, {
            slackError: failure.slackError,
            retryable: !failure.final,
          });
        }
        case 'configuration':
          await write({
            op: 'failed',
            ...base,
            code: failure.slackError,
            slackError: failure.slackError,
            final: false,
          });
          failed(
            item,
            failure.slackError,
            `Slack refused the app's configuration (${failure.slackError}); the run stopped`,
            {
              slackError: failure.slackError,
              retryable: true,
            },
          );
          throw stop(failure.slackError);
        case 'ratelimited':
          await write({ op: 'failed', ...base, code: 'ratelimited', final: false });
          if (attempt >= deps.rateLimitRetries) {
            return failed(item, 'ratelimited', 'Slack kept answering 429; a later run tries again', {
              retryable: true,
            });
          }
          nextAt = Math.max(nextAt, failure.retryAt ?? Date.now() + deps.rateLimitWaitMs);
          continue;
        case 'unsent':
          await write({ op: 'failed', ...base, code: 'slack_unavailable', final: false });
          return failed(item, 'slack_unavailable', 'Slack could not be reached; a later run tries again', {
            retryable: true,
          });
        case 'uncertain':
          // The entry stays `exchanging`: the next run finds no chain and reports the same.
          return lost(item);
        case 'unusable':
          await write({ op: 'failed', ...base, code: 'unexpected_response', final: true });
          return failed(
            item,
            'unexpected_response',
            'Slack answered ok but the answer cannot be stored as a chain',
          );
        case 'store_failed':
          failed(
            item,
            'store_failed',
            'Slack answered but the token store failed; the run stopped (the next run tells whether the chain was saved)',
            {
              retryable: true,
            },
          );
          throw stop('store_failed');
        default:
          throw error;
      }
    }
  };
}
