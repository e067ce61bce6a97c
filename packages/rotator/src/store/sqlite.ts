import { invalidArgument } from '../errors.js';
import { createSqliteLock } from '../lock/sqlite.js';
import type { Lock } from '../lock/types.js';
import { checkClock } from '../lock/wait.js';
import { RECORD_COLUMNS } from './columns.js';
import { pageOf, planList } from './list.js';
import {
  checkChainKey,
  checkDeleteQuery,
  checkIntent,
  checkNewRecord,
  checkStoredRecord,
  checkUpdate,
  checkVersion,
} from './record.js';
import {
  type BusyOptions,
  type SqliteDatabase,
  type SqliteStatement,
  toNumber,
  withBusyRetry,
} from './sqlite-database.js';
import { openSchema } from './sqlite-schema.js';
import type {
  DeleteQuery,
  ListPage,
  ListQuery,
  NewTokenRecord,
  RefreshIntent,
  TokenRecord,
  TokenStore,
  TokenUpdate,
} from './types.js';

/** Options of {@link createSqliteStore}. */
export interface SqliteStoreOptions extends BusyOptions {
  /** Your better-sqlite3 `Database` (a file shared by every process of the app, or `:memory:`). */
  database: SqliteDatabase;
  /** Prefix of the table names (letters, digits, `_`). Default `slack_rotator_`. */
  tablePrefix?: string;
  /** The clock of the store's lock (epoch ms). Default `Date.now`. */
  now?: () => number;
  /** The first pause of a lock waiter between two looks (ms). Default 5. */
  lockPollMinMs?: number;
  /** The longest pause of a lock waiter between two looks (ms). Default 100. */
  lockPollMaxMs?: number;
}

/** Each record field and its column, in the order of the INSERT. */
const COLUMNS = [...RECORD_COLUMNS, ['refreshIntent', 'refresh_intent']] as const;

const COLUMN_OF = new Map<string, string>(COLUMNS);

function toColumn(field: string, value: unknown): unknown {
  if (field === 'scopes') return JSON.stringify(value);
  if (field === 'refreshIntent') return value === null ? null : JSON.stringify(value);
  if (field === 'isEnterpriseInstall') return value === true ? 1 : 0;
  return value;
}

function toRecord(row: unknown): TokenRecord {
  const columns = row as Record<string, unknown>;
  const chainKey = typeof columns.chain_key === 'string' ? columns.chain_key : undefined;
  const record: Record<string, unknown> = { version: toNumber(columns.version) };
  for (const [field, column] of COLUMNS) {
    const value = toNumber(columns[column]);
    if (field === 'scopes' || field === 'refreshIntent')
      record[field] = value === null ? null : parseJson(value);
    else if (field === 'isEnterpriseInstall')
      record[field] = value === 1 ? true : value === 0 ? false : value;
    else record[field] = value;
  }
  return checkStoredRecord(record, chainKey);
}

function parseJson(value: unknown): unknown {
  if (typeof value !== 'string') return value;
  try {
    return JSON.parse(value);
  } catch {
    return undefined;
  }
}

/**
 * A token store in a SQLite database opened with better-sqlite3 — one file shared by the processes
 * of one machine. Writes are single statements (an upsert for `put`, `UPDATE … WHERE chain_key = ?
 * AND version = ?` for `compareAndSet`); listing uses an index on `(expires_at, chain_key)` and
 * keyset pagination. `store.lock` is a {@link createSqliteLock} on the same database.
 *
 * The factory sets WAL mode and a short `busy_timeout` on the connection and runs {@link migrate}
 * (idempotent). A busy database is retried asynchronously for up to `busyWaitMs`. It never closes
 * the database.
 *
 * @example
 * import Database from 'better-sqlite3';
 * import { createSqliteStore } from 'slack-rotator/sqlite';
 * const store = createSqliteStore({ database: new Database('tokens.db') });
 * @throws TypeError (`ERR_INVALID_ARG_TYPE` / `ERR_INVALID_ARG_VALUE`) for invalid options.
 * @throws StorageError (`store_failed`) when the database cannot be set up.
 */
export function createSqliteStore(options: SqliteStoreOptions): TokenStore & { readonly lock: Lock } {
  if (options === null || typeof options !== 'object') {
    throw invalidArgument('options must be an object with a database', 'ERR_INVALID_ARG_TYPE');
  }
  const now = checkClock(options.now);
  const { database: db } = options;
  const { tables, busy } = openSchema(db, options);
  const lock = createSqliteLock({
    database: db,
    now,
    busyTimeoutMs: busy.busyTimeoutMs,
    busyWaitMs: busy.busyWaitMs,
    ...(options.tablePrefix === undefined ? {} : { tablePrefix: options.tablePrefix }),
    ...(options.lockPollMinMs === undefined ? {} : { pollMinMs: options.lockPollMinMs }),
    ...(options.lockPollMaxMs === undefined ? {} : { pollMaxMs: options.lockPollMaxMs }),
  });
  const t = tables.chains;
  const columnList = COLUMNS.map(([, column]) => column).join(', ');
  const getStatement = db.prepare(`SELECT * FROM ${t} WHERE chain_key = ?`);
  const putStatement = db.prepare(
    `INSERT INTO ${t} (${columnList}, version) VALUES (${COLUMNS.map(() => '?').join(', ')}, 1)
     ON CONFLICT (chain_key) DO UPDATE SET
       ${COLUMNS.filter(([field]) => field !== 'chainKey')
         .map(([, column]) => `${column} = excluded.${column}`)
         .join(', ')},
       version = ${t}.version + 1
     RETURNING *`,
  );
  const deleteChain = db.prepare(`DELETE FROM ${t} WHERE chain_key = ?`);
  const deleteInstallation = db.prepare(`DELETE FROM ${t} WHERE client_id = ? AND installation_id = ?`);
  // SQL built at run time comes from the fixed column list only; values are always parameters.
  const statements = new Map<string, SqliteStatement>();
  const prepared = (sql: string): SqliteStatement => {
    let statement = statements.get(sql);
    if (statement === undefined) {
      statement = db.prepare(sql);
      statements.set(sql, statement);
    }
    return statement;
  };

  return {
    lock,

    async get(chainKey: string): Promise<TokenRecord | undefined> {
      checkChainKey(chainKey);
      const row = await withBusyRetry('get', busy.busyWaitMs, () => getStatement.get(chainKey), chainKey);
      return row === undefined ? undefined : toRecord(row);
    },

    async put(record: NewTokenRecord): Promise<TokenRecord> {
      checkNewRecord(record);
      const values = COLUMNS.map(([field]) => toColumn(field, record[field]));
      const row = await withBusyRetry(
        'put',
        busy.busyWaitMs,
        () => putStatement.get(...values),
        record.chainKey,
      );
      return toRecord(row);
    },

    async compareAndSet(
      chainKey: string,
      expectedVersion: number,
      update: TokenUpdate,
    ): Promise<TokenRecord | undefined> {
      checkChainKey(chainKey);
      checkVersion(expectedVersion);
      const fields = checkUpdate(update).sort();
      const values = fields.map((field) => toColumn(field, update[field]));
      const assignments = fields.map((field) => `${COLUMN_OF.get(field)} = ?`).join(', ');
      const sql = `UPDATE ${t} SET ${assignments}, version = version + 1 WHERE chain_key = ? AND version = ? RETURNING *`;
      const row = await withBusyRetry(
        'compareAndSet',
        busy.busyWaitMs,
        () => prepared(sql).get(...values, chainKey, expectedVersion),
        chainKey,
      );
      return row === undefined ? undefined : toRecord(row);
    },

    async recordIntent(
      chainKey: string,
      expectedVersion: number,
      intent: RefreshIntent | null,
    ): Promise<boolean> {
      checkChainKey(chainKey);
      checkVersion(expectedVersion);
      checkIntent(intent);
      const sql = `UPDATE ${t} SET refresh_intent = ? WHERE chain_key = ? AND version = ?`;
      const result = await withBusyRetry(
        'recordIntent',
        busy.busyWaitMs,
        () => prepared(sql).run(toColumn('refreshIntent', intent), chainKey, expectedVersion),
        chainKey,
      );
      return result.changes === 1;
    },

    async list(query?: ListQuery): Promise<ListPage> {
      const plan = planList(query);
      const where: string[] = [];
      const params: unknown[] = [];
      const filter = (condition: string, ...values: unknown[]) => {
        where.push(condition);
        params.push(...values);
      };
      if (plan.clientId !== undefined) filter('client_id = ?', plan.clientId);
      if (plan.installationId !== undefined) filter('installation_id = ?', plan.installationId);
      if (plan.status !== undefined) filter('status = ?', plan.status);
      if (plan.expiresBefore !== undefined) filter('expires_at < ?', plan.expiresBefore);
      if (plan.after !== undefined) {
        if (plan.byExpiry)
          filter('(expires_at, chain_key) > (?, ?)', plan.after.expiresAt, plan.after.chainKey);
        else filter('chain_key > ?', plan.after.chainKey);
      }
      const sql = `SELECT * FROM ${t}${where.length === 0 ? '' : ` WHERE ${where.join(' AND ')}`}
        ORDER BY ${plan.byExpiry ? 'expires_at, chain_key' : 'chain_key'} LIMIT ?`;
      // One row past the page tells whether another page follows.
      const rows = await withBusyRetry('list', busy.busyWaitMs, () =>
        prepared(sql).all(...params, plan.limit + 1),
      );
      return pageOf(rows.map(toRecord), plan);
    },

    async delete(query: DeleteQuery): Promise<number> {
      const target = checkDeleteQuery(query);
      if ('chainKey' in target) {
        const { chainKey } = target;
        return (await withBusyRetry('delete', busy.busyWaitMs, () => deleteChain.run(chainKey), chainKey))
          .changes;
      }
      const { clientId, installationId } = target;
      const result = await withBusyRetry('delete', busy.busyWaitMs, () =>
        deleteInstallation.run(clientId, installationId),
      );
      return result.changes;
    },

    async close(): Promise<void> {
      await lock.close?.();
    },
  };
}
