import { invalidArgument } from '../errors.js';
import { refreshLockName } from '../lock/names.js';
import { createPairedPostgresLock, type PostgresLockOptions } from '../lock/postgres.js';
import { LISTENER_TAG } from '../lock/postgres-listener.js';
import type { Lock } from '../lock/types.js';
import { createGuardedReads } from '../lock/wait.js';
import { RECORD_COLUMNS } from './columns.js';
import { pageOf, planList } from './list.js';
import { createBatchedReads, createRereads } from './postgres-batches.js';
import { createCommitMessages } from './postgres-messages.js';
import {
  checkPool,
  checkPrepare,
  namedStatement,
  type PostgresLocation,
  type PostgresPool,
  type PostgresPrepareOption,
  postgresFailed,
  run,
  tablesFor,
  toNumber,
} from './postgres-pool.js';
import {
  checkChainKey,
  checkDeleteQuery,
  checkIntent,
  checkNewRecord,
  checkStoredRecord,
  checkUpdate,
  checkVersion,
} from './record.js';
import type {
  CompareAndSetOptions,
  DeleteQuery,
  ListPage,
  ListQuery,
  NewTokenRecord,
  RefreshIntent,
  TokenRecord,
  TokenStore,
  TokenUpdate,
} from './types.js';

/** Options of {@link createPostgresStore}. */
export interface PostgresStoreOptions extends PostgresLocation, PostgresPrepareOption {
  /** Your `pg.Pool` (node-postgres 8). Direct, or through PgBouncer in transaction pooling mode. */
  pool: PostgresPool;
  /** The clock of the store's lock, used only for the holder's estimate of a lease's end. Default `Date.now`. */
  now?: () => number;
  /** Where the store's lock listens for releases; see {@link PostgresLockOptions.listen}. Default `pool`. */
  listen?: PostgresLockOptions['listen'];
  /** See {@link PostgresLockOptions.pollMinMs}. */
  lockPollMinMs?: number;
  /** See {@link PostgresLockOptions.pollMaxMs}. */
  lockPollMaxMs?: number;
  /** See {@link PostgresLockOptions.recheckMs}. */
  lockRecheckMs?: number;
}

/**
 * How many reads of records through the pool run at once, each a statement for one chain or for up
 * to READ_BATCH asked for meanwhile. Measured in the storm benchmark (8 processes × 1,000 chains due
 * at once, docs/BENCHMARKS.md), with the lock's attempts batched alike: callers' waits less than half,
 * the workers' CPU time down by 40 %. The batch size was measured too: with 500 or 50 rows, each
 * answer's callers all went on in one run of microtasks and held the event loop (woken callers'
 * p99 142 ms at 50); with 8, the statements cost more CPU than they saved; 16 it is.
 */
const READ_STATEMENTS = 4;
const READ_BATCH = 16;

/** How long woken waiters' re-reads are gathered before they go out together (ms). */
const REREAD_GATHER_MS = 1;

/** How many chains' last records this process read or wrote are kept, to seal commits' messages. */
const SEEN_MAX = 10_000;

/** Each plain record field and its column. `refreshIntent` has four columns of its own. */
const COLUMNS = RECORD_COLUMNS;

const INTENT_COLUMNS = [
  'refresh_intent_version',
  'refresh_intent_fingerprint',
  'refresh_intent_started_at',
  'refresh_intent_deadline_at',
] as const;

const NUMBER_FIELDS = new Set<string>(['expiresAt', 'refreshedAt', 'createdAt', 'updatedAt']);

/** The columns a field is stored in, in order. */
function columnsOf(field: string): readonly string[] {
  if (field === 'refreshIntent') return INTENT_COLUMNS;
  const column = COLUMNS.find(([name]) => name === field)?.[1];
  if (column === undefined) throw new Error(`no column for ${field}`);
  return [column];
}

/** The values of a field's columns (see {@link columnsOf}). */
function valuesOf(field: string, value: unknown): unknown[] {
  if (field !== 'refreshIntent') return [field === 'scopes' ? [...(value as string[])] : value];
  const intent = value as RefreshIntent | null;
  return intent === null
    ? [null, null, null, null]
    : [intent.version, intent.fingerprint, intent.startedAt, intent.deadlineAt];
}

function readIntent(columns: Record<string, unknown>): unknown {
  const [version, fingerprint, startedAt, deadlineAt] = INTENT_COLUMNS.map((column) => columns[column]);
  if (version === null && fingerprint === null && startedAt === null && deadlineAt === null) return null;
  return {
    version: toNumber(version),
    fingerprint,
    startedAt: toNumber(startedAt),
    deadlineAt: toNumber(deadlineAt),
  };
}

function toRecord(row: Record<string, unknown>): TokenRecord {
  const chainKey = typeof row.chain_key === 'string' ? row.chain_key : undefined;
  const record: Record<string, unknown> = { version: toNumber(row.version), refreshIntent: readIntent(row) };
  for (const [field, column] of COLUMNS) {
    const value = row[column];
    if (NUMBER_FIELDS.has(field)) record[field] = value === null ? null : toNumber(value);
    else if (field === 'scopes') record[field] = Array.isArray(value) ? [...value] : value;
    else record[field] = value;
  }
  return checkStoredRecord(record, chainKey);
}

/** `$1, $2, …` for `count` parameters after the first `offset`. */
const placeholders = (count: number, offset = 0) =>
  Array.from({ length: count }, (_, i) => `$${offset + i + 1}`).join(', ');

/**
 * A token store in PostgreSQL over your `pg.Pool` — the shared truth of a fleet of processes. Every
 * method is one statement on a pooled connection (no transaction spans an `await`), so it works
 * through PgBouncer in transaction pooling mode. `put` is an `INSERT … ON CONFLICT DO UPDATE`;
 * `compareAndSet` is `UPDATE … SET …, version = version + 1 WHERE chain_key = $1 AND version = $2
 * RETURNING *`; `recordIntent` updates only the intent columns under the same `WHERE`, leaving the
 * version alone. Listing by expiry walks an index on `(expires_at, chain_key)` with keyset
 * pagination. `store.lock` is a {@link createPostgresLock} on the same pool and schema. A
 * compare-and-set that matches also `pg_notify`s that lock's channel with the chain's refresh lock
 * name (in the same statement, so PostgreSQL delivers it at the commit): the lock's waiters in every
 * process wake when the holder's pair is stored, not when its release gets through, and re-read it
 * on the lock's listening connection. With `listen: false` nothing is notified.
 *
 * The tables must exist: run {@link migrate} first (the store never migrates by itself). Until then
 * every call fails with `store_failed`, saying so. It never ends the pool; `close()` closes the lock
 * (its listening connection), so call it before `pool.end()`.
 *
 * @example
 * import pg from 'pg';
 * import { createPostgresStore, migrate } from 'slack-rotator/postgres';
 * const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL });
 * await migrate(pool);
 * const store = createPostgresStore({ pool });
 * const rotator = createRotator({ clientId, clientSecret, store }); // uses store.lock
 * @throws TypeError (`ERR_INVALID_ARG_TYPE` / `ERR_INVALID_ARG_VALUE`) for invalid options.
 */
export function createPostgresStore(options: PostgresStoreOptions): TokenStore & { readonly lock: Lock } {
  if (options === null || typeof options !== 'object') {
    throw invalidArgument('options must be an object with a pool', 'ERR_INVALID_ARG_TYPE');
  }
  const pool = checkPool(options.pool);
  const { chains: t, channel, messageKey } = tablesFor(options);
  // A lone read, the statement every cache miss sends, goes named (see `prepare`): a lookup by
  // primary key, whatever the table's size when PostgreSQL settles on its plan. Everything else goes
  // as text. A batch's `= ANY($1)`, planned once while the table was small (a new table, an import),
  // would scan it for good. Writes come once per rotation: named, they cut PostgreSQL's CPU in a
  // storm by a fifth, but the storm's wake-ups did not improve (docs/BENCHMARKS.md).
  const readOne = namedStatement(
    pool,
    `SELECT * FROM ${t} WHERE chain_key = $1`,
    checkPrepare(options.prepare),
  );
  const messages = createCommitMessages(pool, messageKey, channel);
  // When this process last asked for each chain's record, until the lock's next try of the chain:
  // a commit heard since makes the try pointless.
  const guarded = createGuardedReads();
  const { lock, listener, leases } = createPairedPostgresLock(
    {
      pool,
      ...(options.schema === undefined ? {} : { schema: options.schema }),
      ...(options.tablePrefix === undefined ? {} : { tablePrefix: options.tablePrefix }),
      ...(options.now === undefined ? {} : { now: options.now }),
      ...(options.listen === undefined ? {} : { listen: options.listen }),
      ...(options.lockPollMinMs === undefined ? {} : { pollMinMs: options.lockPollMinMs }),
      ...(options.lockPollMaxMs === undefined ? {} : { pollMaxMs: options.lockPollMaxMs }),
      ...(options.lockRecheckMs === undefined ? {} : { recheckMs: options.lockRecheckMs }),
    },
    // A process that waits loads the key that opens commits' messages as it starts listening.
    () => messages.prepare(),
    guarded,
  );
  // The store's own lock listens on `channel`: each compare-and-set notifies it with the chain's
  // refresh lock name, delivered by PostgreSQL at the commit, so waiters wake then rather than at
  // the holder's release. Not when the lock never listens (`listen: false`): nobody would hear it.
  const notify = options.listen !== false;
  // A compare-and-set's message carries the new record, sealed (see postgres-messages.ts): a waiter
  // it wakes resumes with it, no re-read. The holder makes that record from the one it last read or
  // wrote of the chain at the version it sets from (`seen`), with the update applied.
  const seen = new Map<string, TokenRecord>();
  const remember = (record: TokenRecord): TokenRecord => {
    if (!notify) return record;
    if (seen.size >= SEEN_MAX) seen.clear();
    seen.delete(record.chainKey);
    seen.set(record.chainKey, record);
    return record;
  };
  /** The record a commit message carried, checked, or `undefined` if unusable (then it is read). */
  const carried = (chainKey: string, name: string, sealed: string): TokenRecord | undefined => {
    const opened = messages.open(name, sealed) as { chainKey?: unknown } | undefined;
    if (opened === undefined || opened === null || opened.chainKey !== chainKey) return undefined;
    try {
      return checkStoredRecord(opened, chainKey);
    } catch {
      return undefined;
    }
  };
  /**
   * The message of a compare-and-set of `chainKey` from `expectedVersion`: the new record, sealed,
   * when this process knows the record at that version and the update sets every field that changes
   * without a new version (the refresh intent); otherwise only the lock name (waiters re-read). The
   * statement sends the sealed one only if the row it updated has the `createdAt` of the record the
   * holder knew: a chain deleted and put again starts over at version 1.
   */
  const commitMessage = async (
    chainKey: string,
    expectedVersion: number,
    update: TokenUpdate,
    fields: readonly string[],
  ): Promise<{ name: string; sealed?: string; createdAt?: number }> => {
    const name = refreshLockName(chainKey);
    const before = seen.get(chainKey);
    if (before === undefined || before.version !== expectedVersion || !fields.includes('refreshIntent')) {
      messages.prepare();
      return { name };
    }
    // The key's load (started by the holder's intent, before Slack was called) has ended by now;
    // if not (the first refresh of a process), the commit waits that one statement.
    await messages.settled();
    const next: Record<string, unknown> = { ...before, version: expectedVersion + 1 };
    for (const field of fields) next[field] = update[field as keyof TokenUpdate];
    const sealed = messages.seal(name, next);
    return sealed === undefined ? { name } : { name, sealed, createdAt: next.createdAt as number };
  };
  // Reads through the pool: a lone one is one statement; in a burst (every installation due at
  // once) the reads asked for while READ_STATEMENTS are running go out together in the next one.
  const reads = createBatchedReads(
    (chainKeys) =>
      chainKeys.length === 1
        ? readOne(chainKeys)
        : pool.query(`SELECT * FROM ${t} WHERE chain_key = ANY($1::text[])`, [chainKeys]),
    { concurrency: READ_STATEMENTS, maxBatch: READ_BATCH },
  );
  // Woken waiters' re-reads are gathered for a millisecond: commits wake a process's callers one
  // notification at a time, a fraction of a millisecond apart, and without the wait nearly each
  // re-read was a statement of its own (measured: CPU per woken caller 187-212 µs against 235-270,
  // and the storm's wake-up p99 73 ms against 92, median of 4 runs; docs/BENCHMARKS.md).
  const rereads = createRereads(
    (chainKeys) =>
      listener.query(`${LISTENER_TAG} SELECT * FROM ${t} WHERE chain_key = ANY($1::text[])`, [chainKeys]),
    { defer: (flush) => setTimeout(flush, REREAD_GATHER_MS) },
  );
  const insertColumns: string[] = [...COLUMNS.map(([, column]) => column), ...INTENT_COLUMNS];
  const putSql = `INSERT INTO ${t} AS c (${insertColumns.join(', ')}, version)
    VALUES (${placeholders(insertColumns.length)}, 1)
    ON CONFLICT (chain_key) DO UPDATE SET
      ${insertColumns
        .filter((column) => column !== 'chain_key')
        .map((column) => `${column} = excluded.${column}`)
        .join(', ')},
      version = c.version + 1
    RETURNING *`;
  const intentSql = `UPDATE ${t} SET ${INTENT_COLUMNS.map((column, i) => `${column} = $${i + 1}`).join(', ')}
    WHERE chain_key = $5 AND version = $6`;

  return {
    lock,

    async get(chainKey: string): Promise<TokenRecord | undefined> {
      checkChainKey(chainKey);
      // The re-read of a waiter its lock just woke goes on the listening connection, which carries
      // nothing else, batched with the other waiters woken meanwhile, rather than behind every
      // statement queued for the pool.
      // A commit's message that carried the new record spares even that.
      const name = refreshLockName(chainKey);
      if (notify) guarded.note(name);
      const heard = listener.takeHeard(name);
      // The key starts loading as the connection starts listening, so before any message is heard;
      // the first message may come while it loads: it waits for that one statement.
      if (heard?.sealed !== undefined && !messages.ready()) await messages.settled();
      const pushed = heard?.sealed === undefined ? undefined : carried(chainKey, name, heard.sealed);
      if (pushed !== undefined) return remember(pushed);
      const woken = heard === undefined ? undefined : await rereads.read(chainKey);
      if (woken !== undefined) return woken.row === undefined ? undefined : remember(toRecord(woken.row));
      const found = await reads.read(chainKey).catch((error: unknown) => {
        throw postgresFailed('get', error, chainKey);
      });
      return found.row === undefined ? undefined : remember(toRecord(found.row));
    },

    async put(record: NewTokenRecord): Promise<TokenRecord> {
      checkNewRecord(record);
      const values = [
        ...COLUMNS.flatMap(([field]) => valuesOf(field, record[field])),
        ...valuesOf('refreshIntent', record.refreshIntent),
      ];
      const { rows } = await run(pool, 'put', putSql, values, record.chainKey);
      return remember(toRecord(rows[0] as Record<string, unknown>));
    },

    async compareAndSet(
      chainKey: string,
      expectedVersion: number,
      update: TokenUpdate,
      casOptions?: CompareAndSetOptions,
    ): Promise<TokenRecord | undefined> {
      checkChainKey(chainKey);
      checkVersion(expectedVersion);
      const fields = checkUpdate(update);
      // The holder's lease of this store's own lock on the chain goes in the same statement: the
      // commit's message then wakes waiters to a free lock, and no release (nor its message) follows.
      const releasing =
        notify &&
        casOptions?.releasing !== undefined &&
        leases.owns(casOptions.releasing) &&
        casOptions.releasing.name === refreshLockName(chainKey)
          ? casOptions.releasing
          : undefined;
      const columns = fields.flatMap(columnsOf);
      const values = fields.flatMap((field) => valuesOf(field, update[field]));
      const n = columns.length;
      const updateSql = `UPDATE ${t} SET ${columns.map((column, i) => `${column} = $${i + 1}`).join(', ')},
        version = version + 1
        WHERE chain_key = $${n + 1} AND version = $${n + 2} RETURNING *`;
      const params: unknown[] = [...values, chainKey, expectedVersion];
      let sql = updateSql;
      if (notify) {
        const message = await commitMessage(chainKey, expectedVersion, update, fields);
        params.push(channel, message.name);
        const payload =
          message.sealed === undefined
            ? `$${n + 4}`
            : `CASE WHEN updated.created_at = $${params.push(message.createdAt)} THEN $${params.push(message.sealed)} ELSE $${n + 4} END`;
        const released =
          releasing === undefined
            ? ''
            : `, released AS (DELETE FROM ${leases.table} WHERE name = $${params.push(releasing.name)}
                AND owner = $${params.push(releasing.owner)} AND EXISTS (SELECT 1 FROM updated) RETURNING name)`;
        sql = `WITH updated AS (${updateSql})${released} SELECT updated.*, pg_notify($${n + 3}, ${payload}) AS notified${
          releasing === undefined ? '' : ', (SELECT count(*) FROM released)::int AS released_leases'
        } FROM updated`;
      }
      const { rows } = await run(pool, 'compareAndSet', sql, params, chainKey);
      const row = rows[0];
      if (row === undefined) {
        seen.delete(chainKey);
        return undefined;
      }
      if (releasing !== undefined && Number(row.released_leases) > 0) leases.releasedWithCommit(releasing);
      return remember(toRecord(row));
    },

    async recordIntent(
      chainKey: string,
      expectedVersion: number,
      intent: RefreshIntent | null,
    ): Promise<boolean> {
      checkChainKey(chainKey);
      checkVersion(expectedVersion);
      checkIntent(intent);
      // The holder is about to call Slack: the key that seals its commit's message is loaded meanwhile.
      if (notify) messages.prepare();
      const values = [...valuesOf('refreshIntent', intent), chainKey, expectedVersion];
      const { rowCount } = await run(pool, 'recordIntent', intentSql, values, chainKey);
      return rowCount === 1;
    },

    async list(query?: ListQuery): Promise<ListPage> {
      const plan = planList(query);
      const where: string[] = [];
      const params: unknown[] = [];
      const filter = (condition: (...at: string[]) => string, ...values: unknown[]) => {
        const at = values.map((value) => `$${params.push(value)}`);
        where.push(condition(...at));
      };
      if (plan.clientId !== undefined) filter((at) => `client_id = ${at}`, plan.clientId);
      if (plan.installationId !== undefined) filter((at) => `installation_id = ${at}`, plan.installationId);
      if (plan.status !== undefined) filter((at) => `status = ${at}`, plan.status);
      if (plan.expiresBefore !== undefined) filter((at) => `expires_at < ${at}`, plan.expiresBefore);
      if (plan.after !== undefined) {
        if (plan.byExpiry) {
          filter(
            (e, k) => `(expires_at, chain_key) > (${e}, ${k})`,
            plan.after.expiresAt,
            plan.after.chainKey,
          );
        } else filter((at) => `chain_key > ${at}`, plan.after.chainKey);
      }
      // One row past the page tells whether another page follows.
      const limit = `$${params.push(plan.limit + 1)}`;
      const sql = `SELECT * FROM ${t}${where.length === 0 ? '' : ` WHERE ${where.join(' AND ')}`}
        ORDER BY ${plan.byExpiry ? 'expires_at, chain_key' : 'chain_key'} LIMIT ${limit}`;
      const { rows } = await run(pool, 'list', sql, params);
      return pageOf(rows.map(toRecord), plan);
    },

    async delete(query: DeleteQuery): Promise<number> {
      const target = checkDeleteQuery(query);
      // A chain put again after a delete starts over at version 1: no record kept from before may
      // stand in for it.
      seen.clear();
      const { rowCount } =
        'chainKey' in target
          ? await run(
              pool,
              'delete',
              `DELETE FROM ${t} WHERE chain_key = $1`,
              [target.chainKey],
              target.chainKey,
            )
          : await run(pool, 'delete', `DELETE FROM ${t} WHERE client_id = $1 AND installation_id = $2`, [
              target.clientId,
              target.installationId,
            ]);
      return rowCount ?? 0;
    },

    async close(): Promise<void> {
      rereads.clear();
      await lock.close?.();
    },
  };
}
