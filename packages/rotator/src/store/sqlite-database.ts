import { invalidArgument, isRotatorError, StorageError } from '../errors.js';

/** The methods of a prepared statement the SQLite adapters use (a better-sqlite3 `Statement` has them). */
export interface SqliteStatement {
  run(...params: unknown[]): { changes: number };
  get(...params: unknown[]): unknown;
  all(...params: unknown[]): unknown[];
}

/**
 * The part of a better-sqlite3 `Database` (versions 11 and 12) the SQLite adapters use. Pass your own
 * `new Database(file)`; the library never imports better-sqlite3 and never closes the database.
 */
export interface SqliteDatabase {
  prepare(source: string): SqliteStatement;
  exec(source: string): unknown;
  /** better-sqlite3's transaction helper; only its `immediate` variant (`BEGIN IMMEDIATE`) is used. */
  transaction<A extends unknown[], R>(fn: (...args: A) => R): { immediate(...args: A): R };
}

/** How an adapter treats a busy database. */
export interface BusyOptions {
  /**
   * SQLite's own `busy_timeout` for this connection (ms). better-sqlite3 waits for it synchronously,
   * blocking the event loop, so it is kept short; waits beyond it are retried asynchronously.
   * Default 100.
   */
  busyTimeoutMs?: number;
  /**
   * How long an operation keeps retrying a busy database (asynchronously, with capped backoff)
   * before it fails with `StorageError` code `store_failed` (ms). Default 5000.
   */
  busyWaitMs?: number;
}

/** The default of {@link BusyOptions.busyTimeoutMs}. */
export const DEFAULT_BUSY_TIMEOUT_MS = 100;
/** The default of {@link BusyOptions.busyWaitMs}. */
export const DEFAULT_BUSY_WAIT_MS = 5000;

const FIRST_RETRY_MS = 2;
const MAX_RETRY_MS = 50;

/** Checks the `database` option: something that looks like a better-sqlite3 `Database`. */
export function checkDatabase(database: unknown): SqliteDatabase {
  const candidate = database as Partial<Record<keyof SqliteDatabase, unknown>> | null;
  if (
    candidate === null ||
    typeof candidate !== 'object' ||
    typeof candidate.prepare !== 'function' ||
    typeof candidate.exec !== 'function' ||
    typeof candidate.transaction !== 'function'
  ) {
    throw invalidArgument('database must be a better-sqlite3 Database', 'ERR_INVALID_ARG_TYPE');
  }
  return candidate as SqliteDatabase;
}

function checkMs(value: unknown, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw invalidArgument(`${name} must be an integer >= 0`);
  }
  return value;
}

/** {@link BusyOptions} checked, with defaults. */
export function checkBusyOptions(options: BusyOptions): Required<BusyOptions> {
  return {
    busyTimeoutMs: checkMs(options.busyTimeoutMs, 'busyTimeoutMs', DEFAULT_BUSY_TIMEOUT_MS),
    busyWaitMs: checkMs(options.busyWaitMs, 'busyWaitMs', DEFAULT_BUSY_WAIT_MS),
  };
}

/** Checks an optional positive duration option. */
export function checkPositiveMs(value: unknown, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    throw invalidArgument(`${name} must be a number > 0`);
  }
  return value;
}

/** True for SQLITE_BUSY and its extended codes (`SQLITE_BUSY_SNAPSHOT`, …). */
export function isBusy(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && code.startsWith('SQLITE_BUSY');
}

/**
 * Wraps a failure of the database in a `StorageError` (code `store_failed`). The message names the
 * operation and SQLite's error code only — never a parameter, so never a token.
 */
export function storeFailed(what: string, error: unknown, chainKey?: string): StorageError {
  if (isRotatorError(error)) return error as StorageError;
  const code = (error as { code?: unknown } | null)?.code;
  const detail = typeof code === 'string' ? ` (${code})` : '';
  return new StorageError('store_failed', `[slack-rotator] SQLite ${what} failed${detail}`, {
    cause: error,
    ...(chainKey === undefined ? {} : { chainKey }),
  });
}

/**
 * Runs `fn` (synchronous SQLite work that never spans an `await`), retrying it while the database is
 * busy, asynchronously with capped exponential backoff and jitter, for up to `busyWaitMs`.
 * @throws StorageError (`store_failed`) for any other failure or when the database stays busy.
 */
export async function withBusyRetry<T>(
  what: string,
  busyWaitMs: number,
  fn: () => T,
  chainKey?: string,
): Promise<T> {
  const deadline = performance.now() + busyWaitMs;
  let delay = FIRST_RETRY_MS;
  for (;;) {
    try {
      return fn();
    } catch (error) {
      const remaining = deadline - performance.now();
      if (!isBusy(error) || remaining <= 0) throw storeFailed(what, error, chainKey);
      await new Promise((resolve) =>
        setTimeout(resolve, Math.min(remaining, delay * (0.5 + Math.random() / 2))),
      );
      delay = Math.min(delay * 2, MAX_RETRY_MS);
    }
  }
}

/** Turns an INTEGER column into a number, whether the connection returns numbers or bigints. */
export function toNumber(value: unknown): unknown {
  return typeof value === 'bigint' &&
    value <= BigInt(Number.MAX_SAFE_INTEGER) &&
    value >= -BigInt(Number.MAX_SAFE_INTEGER)
    ? Number(value)
    : value;
}
