import { invalidArgument } from './errors.js';
import type { Logger } from './logger.js';
import type { GetTokenOptions } from './rotator.js';
import type { TokenRecord } from './store/types.js';

/** Slack errors after which `withToken` refreshes (if still the stored token) and retries once. */
export const EXPIRED_ERRORS: ReadonlySet<string> = new Set(['token_expired']);

/** Slack errors after which `withToken` re-reads and retries once only if the stored token changed. */
export const REREAD_ERRORS: ReadonlySet<string> = new Set([
  'invalid_auth',
  'token_revoked',
  'account_inactive',
]);

function errorField(value: unknown): string | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const { ok, error } = value as { ok?: unknown; error?: unknown };
  return ok === false && typeof error === 'string' ? error : undefined;
}

/**
 * The Slack error code carried by a value a callback returned or threw: a Slack answer
 * (`{ ok: false, error }`), a `@slack/web-api` platform error (`data: { ok: false, error }`), or any
 * error with `data.error`.
 */
export function slackErrorOf(value: unknown): string | undefined {
  const direct = errorField(value);
  if (direct !== undefined) return direct;
  if (typeof value !== 'object' || value === null) return undefined;
  const data = (value as { data?: unknown }).data;
  if (typeof data !== 'object' || data === null) return undefined;
  const error = (data as { error?: unknown }).error;
  return typeof error === 'string' ? error : undefined;
}

/** What `withToken` needs of the rotator. */
export interface WithTokenDeps<K> {
  /** The record to serve for a key (cache, store, refresh when due). */
  resolve(key: K, minValidityMs: number): Promise<TokenRecord>;
  checkMinValidity(options: GetTokenOptions | undefined): number;
  /** The stored record, read past the cache. */
  read(chainKey: string): Promise<TokenRecord | undefined>;
  /** Refreshes the chain if `record`'s access token is still the stored one; the record to use. */
  refreshIfStill(record: TokenRecord): Promise<TokenRecord>;
  remember(record: TokenRecord): unknown;
  logger: Logger;
}

/**
 * `withToken(key, fn)`: calls `fn` with the token; on `token_expired` refreshes once (only if that
 * token is still stored) and retries once; on `invalid_auth` and its kin re-reads and retries once
 * only if another process stored a different token meanwhile. Anything else is `fn`'s own result.
 */
export function createWithToken<K>(deps: WithTokenDeps<K>) {
  const { resolve, checkMinValidity, read, refreshIfStill, remember, logger } = deps;
  return async function withToken<T>(
    key: K,
    fn: (token: string) => Promise<T> | T,
    options?: GetTokenOptions,
  ): Promise<T> {
    if (typeof fn !== 'function') throw invalidArgument('withToken needs a callback', 'ERR_INVALID_ARG_TYPE');
    const record = await resolve(key, checkMinValidity(options));
    let failed: { error: unknown } | { value: T };
    let code: string | undefined;
    try {
      const value = await fn(record.accessToken);
      code = slackErrorOf(value);
      if (code === undefined || !(EXPIRED_ERRORS.has(code) || REREAD_ERRORS.has(code))) return value;
      failed = { value };
    } catch (error) {
      code = slackErrorOf(error);
      if (code === undefined || !(EXPIRED_ERRORS.has(code) || REREAD_ERRORS.has(code))) throw error;
      failed = { error };
    }
    let next: TokenRecord | undefined;
    if (EXPIRED_ERRORS.has(code)) {
      logger.info(
        { chainKey: record.chainKey },
        'slack-rotator: token_expired; refreshing once and retrying once',
      );
      next = await refreshIfStill(record);
    } else {
      const current = await read(record.chainKey);
      if (current !== undefined) remember(current);
      if (
        current !== undefined &&
        current.status === 'active' &&
        current.accessToken !== record.accessToken
      ) {
        next = current;
      }
    }
    if (next === undefined || next.accessToken === record.accessToken) {
      if ('error' in failed) throw failed.error;
      return failed.value;
    }
    return fn(next.accessToken);
  };
}
