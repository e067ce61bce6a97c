/**
 * The server's state in the embedded SQLite database, next to the chains: API keys and the refresh
 * budget. Synchronous better-sqlite3 calls, retried asynchronously while another process holds the
 * write lock.
 */
import type Database from 'better-sqlite3';
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

/** Options of {@link createSqliteState}. */
export interface SqliteStateOptions {
  /** The caller's better-sqlite3 database; never closed here. */
  database: Database.Database;
  /** How long a write keeps retrying a database busy in another process (ms). Default 5000. */
  busyWaitMs?: number;
}

const KIND = 'sqlite';
const COLUMNS = 'id, name, digest, installations, created_at, revoked_at';

/**
 * Creates the SQLite {@link ServerState}. Call `migrate()` before use (idempotent).
 *
 * @example
 * const state = createSqliteState({ database: new Database('tokens.db') });
 * await state.migrate();
 */
export function createSqliteState(options: SqliteStateOptions): ServerState {
  const db = options.database;
  const busyWaitMs = options.busyWaitMs ?? 5000;
  let closed = false;

  const run = <T>(what: string, work: () => T): Promise<T> =>
    guarded(KIND, what, () => {
      if (closed) throw new ServerError('backend_unavailable', 'state unreachable (sqlite): closed');
      return withBusyRetry(busyWaitMs, work);
    });

  return {
    migrate: () =>
      run('migration', () => {
        db.exec(`CREATE TABLE IF NOT EXISTS ${API_KEYS_TABLE} (
          id TEXT PRIMARY KEY,
          name TEXT NOT NULL,
          digest TEXT NOT NULL UNIQUE,
          installations TEXT NOT NULL,
          created_at INTEGER NOT NULL,
          revoked_at INTEGER
        );
        CREATE TABLE IF NOT EXISTS ${BUDGET_TABLE} (
          name TEXT PRIMARY KEY,
          tat INTEGER NOT NULL
        );`);
      }),

    async createApiKey(record: ApiKeyRecord) {
      checkApiKey(record);
      await run('createApiKey', () => {
        try {
          db.prepare(`INSERT INTO ${API_KEYS_TABLE} (${COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)`).run(
            record.id,
            record.name,
            record.digest,
            encodeInstallations(record.installations),
            record.createdAt,
            record.revokedAt,
          );
        } catch (error) {
          const code = (error as { code?: unknown }).code;
          if (code === 'SQLITE_CONSTRAINT_PRIMARYKEY' || code === 'SQLITE_CONSTRAINT_UNIQUE')
            throw duplicateKey();
          throw error;
        }
      });
    },

    listApiKeys: () =>
      run('listApiKeys', () =>
        (
          db.prepare(`SELECT ${COLUMNS} FROM ${API_KEYS_TABLE} ORDER BY created_at, id`).all() as ApiKeyRow[]
        ).map(fromRow),
      ),

    revokeApiKey: (id, at) =>
      run(
        'revokeApiKey',
        () =>
          db
            .prepare(`UPDATE ${API_KEYS_TABLE} SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL`)
            .run(at, id).changes === 1,
      ),

    findApiKey: (digest) =>
      run('findApiKey', () => {
        const row = db
          .prepare(`SELECT ${COLUMNS} FROM ${API_KEYS_TABLE} WHERE digest = ? AND revoked_at IS NULL`)
          .get(digest) as ApiKeyRow | undefined;
        return row === undefined ? undefined : fromRow(row);
      }),

    async reserveSlots(name, count, intervalMs, now) {
      const { incrementMs, nowMs } = reservation(count, intervalMs, now);
      // One statement: the upsert reads and moves the theoretical arrival time atomically.
      const row = await run(
        'reserveSlots',
        () =>
          db
            .prepare(
              `INSERT INTO ${BUDGET_TABLE} (name, tat) VALUES (@name, @now + @increment)
               ON CONFLICT (name) DO UPDATE SET tat = max(${BUDGET_TABLE}.tat, @now) + @increment
               RETURNING tat`,
            )
            .get({ name, now: nowMs, increment: incrementMs }) as { tat: number | bigint },
      );
      return Number(row.tat) - incrementMs;
    },

    ping: () =>
      run('ping', () => {
        if (!db.open) throw new Error('the database is closed');
        db.prepare('SELECT 1').get();
      }),

    async close() {
      closed = true;
    },
  };
}

async function withBusyRetry<T>(busyWaitMs: number, work: () => T): Promise<T> {
  const deadline = performance.now() + busyWaitMs;
  let delayMs = 2;
  for (;;) {
    try {
      return work();
    } catch (error) {
      const code = (error as { code?: unknown } | null)?.code;
      const busy = typeof code === 'string' && code.startsWith('SQLITE_BUSY');
      if (!busy || performance.now() >= deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, delayMs * (0.5 + Math.random() / 2)));
      delayMs = Math.min(delayMs * 2, 50);
    }
  }
}
