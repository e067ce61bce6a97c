import { randomBytes } from 'node:crypto';
import { invalidArgument, isRotatorError, StorageError } from '../errors.js';

/** What a query answers: the rows, and how many rows the statement touched. */
export interface PostgresQueryResult {
  rows: Record<string, unknown>[];
  rowCount: number | null;
}

/** A notification as a `pg` client emits it (`client.on('notification', …)`). */
export interface PostgresNotification {
  channel: string;
  payload?: string | undefined;
}

/**
 * A connection checked out of a {@link PostgresPool} (a `pg.PoolClient` has all of it). `on` and
 * `removeListener` are only needed by a lock that listens for releases (LISTEN/NOTIFY).
 */
export interface PostgresClient {
  query(text: string, values?: unknown[]): Promise<PostgresQueryResult>;
  /** Gives the connection back; a truthy argument destroys it instead. */
  release(destroy?: Error | boolean): void;
  /** Subscribes to `'notification'` ({@link PostgresNotification}), `'error'` (an `Error`) or `'end'`. */
  on?(event: 'notification' | 'error' | 'end', listener: (...args: unknown[]) => void): unknown;
  removeListener?(event: 'notification' | 'error' | 'end', listener: (...args: unknown[]) => void): unknown;
}

/**
 * The part of a `pg.Pool` (node-postgres 8) the PostgreSQL adapters use: one-statement queries, and
 * `connect()` for a migration's transaction and a lock's listening connection. Pass your own pool;
 * the library never imports `pg` and never ends the pool.
 */
export interface PostgresPool {
  query(text: string, values?: unknown[]): Promise<PostgresQueryResult>;
  /** A named statement (with `prepare` on, the default): see {@link PostgresQueryConfig}. */
  query(config: PostgresQueryConfig): Promise<PostgresQueryResult>;
  connect(): Promise<PostgresClient>;
}

/**
 * A statement with a name, as `pg` takes it: each connection parses and plans a named statement
 * once, and later runs skip both.
 */
export interface PostgresQueryConfig {
  name: string;
  text: string;
  values?: unknown[];
}

/** The option `prepare` of the PostgreSQL adapters. */
export interface PostgresPrepareOption {
  /**
   * Send the store's lone read (`SELECT * … WHERE chain_key = $1`, what every cache miss sends) as a
   * named prepared statement, so that each pooled connection parses it once and, after five runs,
   * plans it once. Writes, batches and listings always go as text. Default `true`. Measured in the
   * storm benchmark: a cold `getToken` 1.17× a bare read of the row, against 1.35× as text
   * (docs/BENCHMARKS.md).
   *
   * Behind PgBouncer in transaction pooling mode before 1.21 (or with `max_prepared_statements`
   * 0), a statement prepared on one server connection is missing on the next: the first such error
   * turns names off for this store and runs the statement again as text (nothing ran the first
   * time). Pass `false` there to skip that one error.
   */
  prepare?: boolean;
}

/** Where the PostgreSQL adapters' tables live. */
export interface PostgresLocation {
  /**
   * The schema of the tables (letters, digits, `_`). Default: none given, so the connection's
   * `search_path` decides (usually `public`). `migrate` creates the schema if it is missing.
   */
  schema?: string;
  /** Prefix of the table names (letters, digits, `_`; at most 40 characters). Default `slack_rotator_`. */
  tablePrefix?: string;
}

/** The default prefix of the PostgreSQL adapters' table names. */
export const DEFAULT_TABLE_PREFIX = 'slack_rotator_';

/** Quoted, qualified names of the PostgreSQL adapters' objects for one {@link PostgresLocation}. */
export interface PostgresTables {
  /** The schema, quoted, or `undefined` when the `search_path` decides. */
  schema: string | undefined;
  chains: string;
  locks: string;
  migrations: string;
  /** The key that seals the records a compare-and-set's NOTIFY carries (see store/postgres-messages.ts). */
  messageKey: string;
  /** Index names are unqualified: an index lives in its table's schema. */
  expiryIndex: string;
  installationIndex: string;
  /** The NOTIFY channel of lock releases (unique per lock table, at most 63 bytes). */
  channel: string;
}

const PREFIX = /^[A-Za-z_][A-Za-z0-9_]{0,39}$/;
const SCHEMA = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;

/**
 * The names of the adapters' objects for a location. Identifiers are validated, then quoted.
 * @throws TypeError (`ERR_INVALID_ARG_VALUE`) for a schema or prefix that is not a plain identifier.
 */
export function tablesFor(location: PostgresLocation): PostgresTables {
  const prefix = location.tablePrefix ?? DEFAULT_TABLE_PREFIX;
  // Both are spliced into SQL, so only plain identifiers are accepted.
  if (typeof prefix !== 'string' || !PREFIX.test(prefix)) {
    throw invalidArgument(
      'tablePrefix must start with a letter or _, hold only letters, digits and _, and be at most 40 characters',
    );
  }
  const { schema } = location;
  if (schema !== undefined && (typeof schema !== 'string' || !SCHEMA.test(schema))) {
    throw invalidArgument('schema must start with a letter or _ and hold only letters, digits and _');
  }
  const qualify = (name: string) => (schema === undefined ? `"${name}"` : `"${schema}"."${name}"`);
  return {
    schema: schema === undefined ? undefined : `"${schema}"`,
    chains: qualify(`${prefix}chains`),
    locks: qualify(`${prefix}locks`),
    migrations: qualify(`${prefix}schema_migrations`),
    messageKey: qualify(`${prefix}message_key`),
    expiryIndex: `"${prefix}chains_expires_at"`,
    installationIndex: `"${prefix}chains_installation"`,
    // Distinct per schema and prefix, so two apps in one database do not wake each other's waiters.
    channel: `${schema === undefined ? '' : `${schema}.`}${prefix}locks`.slice(0, 63),
  };
}

/** The fields of a `pg` DatabaseError worth keeping; `detail` and `where` can quote row values. */
const SAFE_FIELDS = ['code', 'severity', 'constraint', 'schema', 'table', 'column', 'dataType', 'routine'];

/**
 * The driver's error as a `cause`: connection and pool errors as they are; a server error copied
 * without `detail`, `where` and `internalQuery`, which can quote a row (and so a token).
 */
function safeCause(error: unknown): unknown {
  const fields = error as Record<string, unknown> | null;
  if (!(error instanceof Error) || typeof fields?.severity !== 'string') return error;
  const copy = new Error(error.message) as Error & Record<string, unknown>;
  copy.name = error.name;
  for (const field of SAFE_FIELDS) if (fields[field] !== undefined) copy[field] = fields[field];
  if (error.stack !== undefined) copy.stack = error.stack;
  return copy;
}

/** SQLSTATEs that mean the tables are not there (or are older than this library). */
const NOT_MIGRATED = new Set(['42P01', '42703', '3F000']);

/**
 * Wraps a failure of the database in a `StorageError` (code `store_failed`). The message names the
 * operation and the SQLSTATE only — never a parameter, so never a token.
 */
export function postgresFailed(what: string, error: unknown, chainKey?: string): StorageError {
  if (isRotatorError(error)) return error as StorageError;
  const code = (error as { code?: unknown } | null)?.code;
  const detail = typeof code === 'string' ? ` (${code})` : '';
  const advice =
    typeof code === 'string' && NOT_MIGRATED.has(code)
      ? '; run migrate(pool) from slack-rotator/postgres'
      : '';
  return new StorageError('store_failed', `[slack-rotator] PostgreSQL ${what} failed${detail}${advice}`, {
    cause: safeCause(error),
    ...(chainKey === undefined ? {} : { chainKey }),
  });
}

/** Runs one statement on the pool, wrapping any failure with {@link postgresFailed}. */
export async function run(
  pool: PostgresPool,
  what: string,
  text: string,
  values: unknown[],
  chainKey?: string,
): Promise<PostgresQueryResult> {
  try {
    return await pool.query(text, values);
  } catch (error) {
    throw postgresFailed(what, error, chainKey);
  }
}

/** The statement's name is missing on this server connection, or taken there (PgBouncer). */
const NAMES_UNSUPPORTED = new Set(['26000', '42P05']);

/**
 * One statement, `text`, sent under a name (see {@link PostgresPrepareOption}) unless `enabled` is
 * false: `sr_<random>_<n>`, random per call of this function, so a name never stands for two texts,
 * even on a server connection that PgBouncer shares between processes.
 *
 * Two errors of a named statement mean nothing ran, and the statement goes again:
 * - the name is missing or taken on this server connection (PgBouncer in transaction pooling mode
 *   moved the connection): names are off from then on, and it goes as text;
 * - "cached plan must not change result type" (a migration added a column since the statement was
 *   prepared, and it selects `*`): it goes under a new name, prepared again.
 */
export function namedStatement(
  pool: PostgresPool,
  text: string,
  enabled: boolean,
): (values: unknown[]) => Promise<PostgresQueryResult> {
  if (!enabled) return (values) => pool.query(text, values);
  const prefix = `sr_${randomBytes(6).toString('hex')}_`;
  let prepared = 0;
  let name: string | undefined = `${prefix}${prepared}`;
  const send = async (values: unknown[], again: boolean): Promise<PostgresQueryResult> => {
    const current = name;
    if (current === undefined) return pool.query(text, values);
    try {
      return await pool.query({ name: current, text, values });
    } catch (error) {
      const { code, message } = (error ?? {}) as { code?: unknown; message?: unknown };
      if (typeof code === 'string' && NAMES_UNSUPPORTED.has(code)) {
        name = undefined;
        return pool.query(text, values);
      }
      if (!again && code === '0A000' && typeof message === 'string' && message.includes('cached plan')) {
        if (name === current) name = `${prefix}${++prepared}`;
        return send(values, true);
      }
      throw error;
    }
  };
  return (values) => send(values, false);
}

/** Checks the `prepare` option. */
export function checkPrepare(value: unknown): boolean {
  if (value === undefined) return true;
  if (typeof value !== 'boolean') throw invalidArgument('prepare must be a boolean', 'ERR_INVALID_ARG_TYPE');
  return value;
}

/** Checks the `pool` option: something that looks like a `pg.Pool`. */
export function checkPool(pool: unknown, name = 'pool'): PostgresPool {
  const candidate = pool as Partial<Record<keyof PostgresPool, unknown>> | null;
  if (
    candidate === null ||
    typeof candidate !== 'object' ||
    typeof candidate.query !== 'function' ||
    typeof candidate.connect !== 'function'
  ) {
    throw invalidArgument(`${name} must be a pg Pool (with query and connect)`, 'ERR_INVALID_ARG_TYPE');
  }
  return candidate as PostgresPool;
}

/**
 * A number column as a number, whatever the driver's type parsers return: numbers as they are,
 * numeric strings (`bigint` columns come as strings by default) and bigints converted when exact.
 * Anything else is returned as it is, for the record check to reject.
 */
export function toNumber(value: unknown): unknown {
  if (typeof value === 'bigint') {
    return value <= BigInt(Number.MAX_SAFE_INTEGER) && value >= -BigInt(Number.MAX_SAFE_INTEGER)
      ? Number(value)
      : value;
  }
  if (typeof value === 'string' && value.trim() !== '') {
    const number = Number(value);
    return Number.isFinite(number) ? number : value;
  }
  return value;
}
