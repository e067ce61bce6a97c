/**
 * The server's state in PostgreSQL, next to the chains: API keys and the refresh budget. Every
 * operation is one statement (or one transaction) through `pool.query`, with no session state and
 * no named prepared statements, so it works behind PgBouncer in transaction pooling mode.
 */
import type pg from 'pg';
import { ServerError } from '../errors.js';
import type { ApiKeyRecord, ServerState } from '../types.js';
import {
  API_KEYS_TABLE,
  type ApiKeyRow,
  BUDGET_TABLE,
  checkApiKey,
  duplicateKey,
  encodeInstallations,
  fromRow,
  guarded,
  reservation,
} from './records.js';

/** Options of {@link createPostgresState}. */
export interface PostgresStateOptions {
  /** The caller's pool; never ended here. */
  pool: pg.Pool;
}

const KIND = 'postgres';
const COLUMNS = 'id, name, digest, installations, created_at, revoked_at';
/** Shared with nothing else: state migrations never run side by side. */
const MIGRATION_LOCK_KEY = 'slack-rotator-server:migrate-state';

/**
 * Creates the PostgreSQL {@link ServerState}. `migrate()` creates its tables (idempotent; safe to run
 * from several processes at once).
 */
export function createPostgresState(options: PostgresStateOptions): ServerState {
  const { pool } = options;
  let closed = false;
  const run = <T>(what: string, work: () => Promise<T>): Promise<T> =>
    guarded(KIND, what, () => {
      if (closed) throw new ServerError('backend_unavailable', 'state unreachable (postgres): closed');
      return work();
    });

  return {
    migrate: () =>
      run('migration', async () => {
        const client = await pool.connect();
        let failure: Error | undefined;
        try {
          await client.query('BEGIN');
          await client.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [MIGRATION_LOCK_KEY]);
          await client.query(`CREATE TABLE IF NOT EXISTS ${API_KEYS_TABLE} (
            id text PRIMARY KEY,
            name text NOT NULL,
            digest text NOT NULL UNIQUE,
            installations text NOT NULL,
            created_at bigint NOT NULL,
            revoked_at bigint
          )`);
          await client.query(`CREATE TABLE IF NOT EXISTS ${BUDGET_TABLE} (
            name text PRIMARY KEY,
            tat bigint NOT NULL
          )`);
          await client.query('COMMIT');
        } catch (error) {
          failure = error as Error;
          await client.query('ROLLBACK').catch(() => undefined);
          throw error;
        } finally {
          // A connection that broke is discarded rather than given back to the pool.
          client.release(failure !== undefined && !('severity' in failure) ? failure : undefined);
        }
      }),

    async createApiKey(record: ApiKeyRecord) {
      checkApiKey(record);
      await run('createApiKey', async () => {
        try {
          await pool.query(`INSERT INTO ${API_KEYS_TABLE} (${COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6)`, [
            record.id,
            record.name,
            record.digest,
            encodeInstallations(record.installations),
            record.createdAt,
            record.revokedAt,
          ]);
        } catch (error) {
          if ((error as { code?: unknown }).code === '23505') throw duplicateKey();
          throw error;
        }
      });
    },

    listApiKeys: () =>
      run('listApiKeys', async () => {
        const { rows } = await pool.query<ApiKeyRow>(
          `SELECT ${COLUMNS} FROM ${API_KEYS_TABLE} ORDER BY created_at, id`,
        );
        return rows.map(fromRow);
      }),

    revokeApiKey: (id, at) =>
      run('revokeApiKey', async () => {
        const result = await pool.query(
          `UPDATE ${API_KEYS_TABLE} SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL`,
          [at, id],
        );
        return result.rowCount === 1;
      }),

    findApiKey: (digest) =>
      run('findApiKey', async () => {
        const { rows } = await pool.query<ApiKeyRow>(
          `SELECT ${COLUMNS} FROM ${API_KEYS_TABLE} WHERE digest = $1 AND revoked_at IS NULL`,
          [digest],
        );
        return rows[0] === undefined ? undefined : fromRow(rows[0]);
      }),

    async reserveSlots(name, count, intervalMs, now) {
      const { incrementMs, nowMs } = reservation(count, intervalMs, now);
      // One statement: ON CONFLICT DO UPDATE locks the row and re-reads its latest tat, so
      // concurrent reservations queue up instead of overlapping.
      const { rows } = await run('reserveSlots', () =>
        pool.query<{ tat: string }>(
          `INSERT INTO ${BUDGET_TABLE} AS b (name, tat) VALUES ($1, $2::bigint + $3::bigint)
           ON CONFLICT (name) DO UPDATE SET tat = GREATEST(b.tat, $2::bigint) + $3::bigint
           RETURNING tat`,
          [name, nowMs, incrementMs],
        ),
      );
      return Number(rows[0]?.tat) - incrementMs;
    },

    ping: () =>
      run('ping', async () => {
        await pool.query('SELECT 1');
      }),

    async close() {
      closed = true;
    },
  };
}

/**
 * Whether the state's tables exist (for `serve` without `--migrate`, which must not create them).
 * @throws ServerError `backend_unavailable` when the database can't be reached.
 */
export function postgresStateMigrated(pool: pg.Pool): Promise<boolean> {
  return guarded(KIND, 'schema check', async () => {
    const { rows } = await pool.query<{ keys: string | null; budget: string | null }>(
      'SELECT to_regclass($1)::text AS keys, to_regclass($2)::text AS budget',
      [API_KEYS_TABLE, BUDGET_TABLE],
    );
    return rows[0]?.keys != null && rows[0]?.budget != null;
  });
}
