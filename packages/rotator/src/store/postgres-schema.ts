import { StorageError } from '../errors.js';
import {
  checkPool,
  type PostgresClient,
  type PostgresLocation,
  type PostgresPool,
  type PostgresTables,
  postgresFailed,
  tablesFor,
  toNumber,
} from './postgres-pool.js';

/**
 * Each migration, in order; migration `i` brings the schema to version `i + 1`. Append, never edit;
 * keep them additive, so processes still on the previous release keep working during a rolling
 * deploy. Instants are epoch milliseconds in `double precision` (exactly a JavaScript number);
 * `chain_key` sorts bytewise (`COLLATE "C"`), as every store lists it.
 */
const MIGRATIONS: ((tables: PostgresTables) => string[])[] = [
  (t) => [
    `CREATE TABLE IF NOT EXISTS ${t.chains} (
      chain_key text COLLATE "C" PRIMARY KEY,
      client_id text NOT NULL,
      installation_id text NOT NULL,
      enterprise_id text,
      team_id text,
      is_enterprise_install boolean NOT NULL,
      kind text NOT NULL,
      user_id text,
      app_id text,
      bot_id text,
      bot_user_id text,
      scopes text[] NOT NULL,
      access_token text NOT NULL,
      refresh_token text NOT NULL,
      expires_at double precision NOT NULL,
      fallback_refresh_token text,
      refresh_intent_version bigint,
      refresh_intent_fingerprint text,
      refresh_intent_started_at double precision,
      refresh_intent_deadline_at double precision,
      version bigint NOT NULL,
      status text NOT NULL,
      last_error_code text,
      refreshed_at double precision,
      created_at double precision NOT NULL,
      updated_at double precision NOT NULL
    )`,
    `CREATE INDEX IF NOT EXISTS ${t.expiryIndex} ON ${t.chains} (expires_at, chain_key)`,
    `CREATE INDEX IF NOT EXISTS ${t.installationIndex} ON ${t.chains} (client_id, installation_id)`,
    `CREATE TABLE IF NOT EXISTS ${t.locks} (
      name text COLLATE "C" PRIMARY KEY,
      owner text NOT NULL,
      acquired_at timestamptz NOT NULL,
      expires_at timestamptz NOT NULL
    )`,
  ],
  // The key that seals the new record a compare-and-set's NOTIFY carries to the waiters it wakes:
  // any role that can connect may LISTEN, so the record goes out sealed with a key only those who
  // can read this table have. Made once, by the server (gen_random_uuid, PostgreSQL 13 or later, draws
  // from its strong random source: 244 random bits), so the key is never in a statement's text or
  // parameters, which the server may log. A second run keeps the first key.
  (t) => [
    `CREATE TABLE IF NOT EXISTS ${t.messageKey} (
      id smallint PRIMARY KEY CHECK (id = 1),
      key bytea NOT NULL CHECK (octet_length(key) = 32),
      created_at timestamptz NOT NULL DEFAULT now()
    )`,
    `INSERT INTO ${t.messageKey} (id, key) VALUES (1, decode(replace(gen_random_uuid()::text || gen_random_uuid()::text, '-', ''), 'hex'))
      ON CONFLICT (id) DO NOTHING`,
  ],
];

/** The schema version this build of the library writes and reads. */
export const SCHEMA_VERSION = MIGRATIONS.length;

/** One key for every slack-rotator migration in a database: they never run side by side. */
const MIGRATION_LOCK_KEY = 'slack-rotator:migrate';

/** Options of {@link migrate}: where the tables live. */
export type MigrateOptions = PostgresLocation;

async function inTransaction<T>(client: PostgresClient, work: () => Promise<T>): Promise<T> {
  await client.query('BEGIN');
  try {
    const result = await work();
    await client.query('COMMIT');
    return result;
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  }
}

/**
 * Creates or upgrades the PostgreSQL adapters' tables: chains (with an index on
 * `(expires_at, chain_key)` and one on `(client_id, installation_id)`), lock leases, the key that
 * seals the records commits notify (`…message_key`, one random row), and a `…schema_migrations`
 * table with one row per applied version. Runs in one transaction under
 * `pg_advisory_xact_lock`, so any number of processes may call it at once: one applies, the others
 * wait and then find nothing to do. Idempotent. Works through PgBouncer in transaction pooling
 * mode (the advisory lock is transaction-scoped).
 *
 * Never runs by itself: call it at deploy time or when your app starts, before
 * `createPostgresStore` is used. It never ends the pool.
 *
 * @example
 * import pg from 'pg';
 * import { migrate } from 'slack-rotator/postgres';
 * await migrate(new pg.Pool({ connectionString: process.env.DATABASE_URL }));
 * @returns The schema version now in the database.
 * @throws StorageError (`store_failed`) when the database fails or holds a newer schema than this
 *   library knows.
 * @throws TypeError (`ERR_INVALID_ARG_TYPE` / `ERR_INVALID_ARG_VALUE`) for invalid arguments.
 */
export async function migrate(pool: PostgresPool, options: MigrateOptions = {}): Promise<number> {
  const checked = checkPool(pool);
  const tables = tablesFor(options ?? {});
  let client: PostgresClient;
  try {
    client = await checked.connect();
  } catch (error) {
    throw postgresFailed('migration', error);
  }
  let failure: unknown;
  try {
    return await inTransaction(client, async () => {
      await client.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [MIGRATION_LOCK_KEY]);
      if (tables.schema !== undefined) await client.query(`CREATE SCHEMA IF NOT EXISTS ${tables.schema}`);
      await client.query(`CREATE TABLE IF NOT EXISTS ${tables.migrations} (
        version integer PRIMARY KEY,
        applied_at timestamptz NOT NULL DEFAULT now()
      )`);
      const { rows } = await client.query(`SELECT max(version) AS version FROM ${tables.migrations}`);
      const current = Number(toNumber(rows[0]?.version ?? 0));
      if (current > SCHEMA_VERSION) {
        throw new StorageError(
          'store_failed',
          `[slack-rotator] the PostgreSQL schema is at version ${current}, newer than this slack-rotator knows (${SCHEMA_VERSION}); upgrade slack-rotator`,
        );
      }
      for (let version = current + 1; version <= SCHEMA_VERSION; version += 1) {
        for (const statement of (MIGRATIONS[version - 1] as (t: PostgresTables) => string[])(tables)) {
          await client.query(statement);
        }
        await client.query(`INSERT INTO ${tables.migrations} (version) VALUES ($1)`, [version]);
      }
      return SCHEMA_VERSION;
    });
  } catch (error) {
    failure = error;
    throw postgresFailed('migration', error);
  } finally {
    // A connection that failed mid-transaction is not given back to the pool for reuse.
    client.release(failure instanceof Error && !('severity' in failure) ? failure : undefined);
  }
}
