import { invalidArgument, StorageError } from '../errors.js';
import {
  type BusyOptions,
  checkBusyOptions,
  checkDatabase,
  type SqliteDatabase,
  storeFailed,
  toNumber,
} from './sqlite-database.js';

/** The default prefix of the SQLite adapters' table names. */
export const DEFAULT_TABLE_PREFIX = 'slack_rotator_';

/** The names of the SQLite adapters' tables for one prefix. */
export interface SqliteTables {
  chains: string;
  locks: string;
  migrations: string;
}

/** Options of {@link migrate}. */
export interface MigrateOptions {
  /** Prefix of every table name (letters, digits, `_`). Default `slack_rotator_`. */
  tablePrefix?: string;
}

const PREFIX = /^[A-Za-z_][A-Za-z0-9_]{0,47}$/;

/**
 * The table names for a prefix.
 * @throws TypeError (`ERR_INVALID_ARG_VALUE`) for a prefix that is not a plain SQL identifier.
 */
export function tablesFor(tablePrefix: string | undefined): SqliteTables {
  const prefix = tablePrefix ?? DEFAULT_TABLE_PREFIX;
  // The prefix is spliced into SQL, so only a plain identifier is accepted.
  if (typeof prefix !== 'string' || !PREFIX.test(prefix)) {
    throw invalidArgument('tablePrefix must start with a letter or _ and hold only letters, digits and _');
  }
  return { chains: `${prefix}chains`, locks: `${prefix}locks`, migrations: `${prefix}schema_migrations` };
}

/** Each migration, in order; migration `i` brings the schema to version `i + 1`. Append, never edit. */
const MIGRATIONS: ((tables: SqliteTables) => string)[] = [
  ({ chains, locks }) => `
    CREATE TABLE IF NOT EXISTS ${chains} (
      chain_key TEXT PRIMARY KEY NOT NULL,
      client_id TEXT NOT NULL,
      installation_id TEXT NOT NULL,
      enterprise_id TEXT,
      team_id TEXT,
      is_enterprise_install INTEGER NOT NULL,
      kind TEXT NOT NULL,
      user_id TEXT,
      app_id TEXT,
      bot_id TEXT,
      bot_user_id TEXT,
      scopes TEXT NOT NULL,
      access_token TEXT NOT NULL,
      refresh_token TEXT NOT NULL,
      expires_at INTEGER NOT NULL,
      fallback_refresh_token TEXT,
      version INTEGER NOT NULL,
      status TEXT NOT NULL,
      last_error_code TEXT,
      refreshed_at INTEGER,
      created_at INTEGER NOT NULL,
      updated_at INTEGER NOT NULL
    );
    CREATE INDEX IF NOT EXISTS ${chains}_expires_at ON ${chains} (expires_at, chain_key);
    CREATE INDEX IF NOT EXISTS ${chains}_installation ON ${chains} (client_id, installation_id);
    CREATE TABLE IF NOT EXISTS ${locks} (
      name TEXT PRIMARY KEY NOT NULL,
      owner TEXT NOT NULL,
      acquired_at INTEGER NOT NULL,
      expires_at INTEGER NOT NULL
    );`,
  // 2: the write-ahead refresh intent (JSON), written without bumping the version.
  ({ chains }) => `ALTER TABLE ${chains} ADD COLUMN refresh_intent TEXT;`,
];

/** The schema version this build of the library writes and reads. */
export const SCHEMA_VERSION = MIGRATIONS.length;

/**
 * Creates or upgrades the SQLite adapters' tables (chains, locks and a `…schema_migrations` table
 * with one row per applied version) in one `BEGIN IMMEDIATE` transaction. Idempotent: running it
 * again, from this process or another, changes nothing. `createSqliteStore` and `createSqliteLock`
 * run it themselves; call it yourself to migrate ahead of a deploy.
 *
 * @returns The schema version now in the database.
 * @throws StorageError (`store_failed`) when the database fails or holds a newer schema than this
 *   library knows.
 * @throws TypeError (`ERR_INVALID_ARG_TYPE` / `ERR_INVALID_ARG_VALUE`) for invalid arguments.
 */
export function migrate(database: SqliteDatabase, options: MigrateOptions = {}): number {
  const db = checkDatabase(database);
  const tables = tablesFor(options.tablePrefix);
  try {
    return db
      .transaction(() => {
        db.exec(`CREATE TABLE IF NOT EXISTS ${tables.migrations} (
        version INTEGER PRIMARY KEY NOT NULL,
        applied_at INTEGER NOT NULL
      )`);
        const row = db.prepare(`SELECT MAX(version) AS version FROM ${tables.migrations}`).get() as
          | { version: unknown }
          | undefined;
        const current = Number(toNumber(row?.version ?? 0));
        if (current > SCHEMA_VERSION) {
          throw new StorageError(
            'store_failed',
            `[slack-rotator] the SQLite schema is at version ${current}, newer than this slack-rotator knows (${SCHEMA_VERSION}); upgrade slack-rotator`,
          );
        }
        const record = db.prepare(`INSERT INTO ${tables.migrations} (version, applied_at) VALUES (?, ?)`);
        for (let version = current + 1; version <= SCHEMA_VERSION; version += 1) {
          db.exec((MIGRATIONS[version - 1] as (tables: SqliteTables) => string)(tables));
          record.run(version, Date.now());
        }
        return SCHEMA_VERSION;
      })
      .immediate();
  } catch (error) {
    throw storeFailed('migration', error);
  }
}

/**
 * Readies a connection for the adapters: WAL journal, the schema migrated, then a short
 * `busy_timeout`. Startup is synchronous, so it waits for a busy database up to `busyWaitMs` in
 * SQLite itself.
 * @throws StorageError (`store_failed`) when the database fails.
 */
export function openSchema(
  database: SqliteDatabase,
  options: MigrateOptions & BusyOptions,
): { tables: SqliteTables; busy: Required<BusyOptions> } {
  const db = checkDatabase(database);
  const tables = tablesFor(options.tablePrefix);
  const busy = checkBusyOptions(options);
  const setBusyTimeout = (ms: number) => {
    try {
      db.exec(`PRAGMA busy_timeout = ${ms}`);
    } catch (error) {
      throw storeFailed('setup', error);
    }
  };
  setBusyTimeout(Math.max(busy.busyWaitMs, busy.busyTimeoutMs));
  try {
    // WAL lets readers run while one process writes; an in-memory database stays in "memory" mode.
    db.exec('PRAGMA journal_mode = WAL');
    migrate(db, options.tablePrefix === undefined ? {} : { tablePrefix: options.tablePrefix });
  } catch (error) {
    throw storeFailed('setup', error);
  } finally {
    setBusyTimeout(busy.busyTimeoutMs);
  }
  return { tables, busy };
}
