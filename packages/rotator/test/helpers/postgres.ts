import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { LISTENER_TAG } from '../../src/lock/postgres-listener.js';
import type { PostgresPool, PostgresQueryConfig, PostgresQueryResult } from '../../src/postgres.js';

/** The shared servers (see scripts/services.sh). */
export const POSTGRES_PORT = 5432;
export const PGBOUNCER_PORT = 6432;
const HOST = '127.0.0.1';
const USER = 'postgres';

/** A short random identifier: lowercase letters and digits. */
export function uniqueName(prefix: string): string {
  return `${prefix}_${randomBytes(6).toString('hex')}`;
}

/** A pool of a test, with the `application_name` of its connections and its idle connections' errors. */
export type TestPool = pg.Pool & { applicationName: string; errors: Error[] };

/** One test file's own database on the shared server, with pools that are ended at teardown. */
export interface TestDatabase {
  name: string;
  /** Marks every connection of this file, so a test terminates only its own. */
  applicationName: string;
  /** A pool on an admin connection to this database (direct, port 5432). */
  admin: pg.Pool;
  /**
   * A new pool on this database with its own `application_name` (`<file's>_<label>`), ended at
   * teardown. Errors of idle connections (e.g. terminated on purpose) are collected, not thrown.
   */
  pool(options?: { label?: string; port?: number; max?: number }): TestPool;
  /** A schema name not used yet; drop it with {@link dropSchema}. */
  schema(): string;
  dropSchema(schema: string): Promise<void>;
  /** Ends every pool and drops the database (terminating what is still connected to it). */
  drop(): Promise<void>;
}

async function answers(port: number): Promise<void> {
  const client = new pg.Client({ host: HOST, port, user: USER, database: 'postgres' });
  try {
    await client.connect();
    await client.query('SELECT 1');
  } catch (error) {
    throw new Error(
      `nothing answers as PostgreSQL on ${HOST}:${port}; run scripts/services.sh (it installs and starts PostgreSQL and PgBouncer)`,
      { cause: error },
    );
  } finally {
    await client.end().catch(() => undefined);
  }
}

/**
 * Creates `slack_rotator_test_<random>` on the shared server (direct connection), after checking
 * that the server answers — a missing server fails the file, it never skips it.
 */
export async function createTestDatabase(label: string): Promise<TestDatabase> {
  await answers(POSTGRES_PORT);
  const name = uniqueName('slack_rotator_test');
  const applicationName = `${name}_${label}`.slice(0, 50);
  const server = new pg.Pool({ host: HOST, port: POSTGRES_PORT, user: USER, database: 'postgres', max: 1 });
  server.on('error', () => undefined);
  await server.query(`CREATE DATABASE "${name}"`);
  const pools: pg.Pool[] = [];
  const pool: TestDatabase['pool'] = (options = {}) => {
    const poolName = `${applicationName}_${options.label ?? 'main'}`.slice(0, 63);
    const created = new pg.Pool({
      host: HOST,
      port: options.port ?? POSTGRES_PORT,
      user: USER,
      database: name,
      max: options.max ?? 10,
      application_name: poolName,
    }) as TestPool;
    created.applicationName = poolName;
    created.errors = [];
    created.on('error', (error) => {
      created.errors.push(error);
    });
    pools.push(created);
    return created;
  };
  const admin = pool({ label: 'admin', max: 2 });
  return {
    name,
    applicationName,
    admin,
    pool,
    schema: () => uniqueName('s'),
    async dropSchema(schema) {
      await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    },
    async drop() {
      // A pool still lending a connection (a test that failed mid-wait) would keep end() waiting:
      // give up after a while; the forced drop below disconnects what is left.
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([
        Promise.all(pools.map((p) => p.end().catch(() => undefined))),
        new Promise((resolve) => {
          timer = setTimeout(resolve, 3_000);
        }),
      ]);
      clearTimeout(timer);
      try {
        await server.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
      } finally {
        await server.end();
      }
    },
  };
}

/** Checks that PgBouncer answers on its port and pools by transaction; fails loudly otherwise. */
export async function assertPgBouncer(): Promise<void> {
  await answers(PGBOUNCER_PORT).catch((error: unknown) => {
    throw new Error(
      `PgBouncer does not answer on ${HOST}:${PGBOUNCER_PORT}; run scripts/services.sh (it installs and starts it)`,
      { cause: error },
    );
  });
  // The admin console speaks the simple query protocol only.
  const console = new pg.Client({ host: HOST, port: PGBOUNCER_PORT, user: USER, database: 'pgbouncer' });
  await console.connect();
  try {
    const { rows } = await console.query({ text: 'SHOW CONFIG', rowMode: 'array' } as pg.QueryArrayConfig);
    const mode = rows.find((row) => row[0] === 'pool_mode')?.[1];
    if (mode !== 'transaction') {
      throw new Error(`the PgBouncer on port ${PGBOUNCER_PORT} pools by ${String(mode)}, not by transaction`);
    }
  } finally {
    await console.end();
  }
}

/** Terminates every backend of one application (only this test's own connections). */
export async function terminate(admin: pg.Pool, applicationName: string): Promise<number> {
  const { rows } = await admin.query(
    'SELECT count(*)::int AS n FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1 AND pid <> pg_backend_pid()) t',
    [applicationName],
  );
  return (rows[0] as { n: number }).n;
}

/** A statement as a pool is asked for it: its SQL and values, and its name when it is a prepared one. */
export interface SentQuery {
  text: string;
  values: unknown[] | undefined;
  name: string | undefined;
}

/**
 * A pool over `pool` whose every statement (SQL and values, or a named statement) goes through
 * `around`, which sends it with `send()`.
 */
export function wrapPool(
  pool: PostgresPool,
  around: (query: SentQuery, send: () => Promise<PostgresQueryResult>) => Promise<PostgresQueryResult>,
): PostgresPool {
  const query = (textOrConfig: string | PostgresQueryConfig, values?: unknown[]) => {
    const sent =
      typeof textOrConfig === 'string'
        ? { text: textOrConfig, values, name: undefined }
        : { text: textOrConfig.text, values: textOrConfig.values, name: textOrConfig.name };
    return around(sent, () =>
      typeof textOrConfig === 'string' ? pool.query(textOrConfig, values) : pool.query(textOrConfig),
    );
  };
  return { query: query as PostgresPool['query'], connect: () => pool.connect() };
}

/** A pool that counts the completed statements whose SQL contains `marker`, and records every statement. */
export function countingPool(
  pool: pg.Pool,
  marker: string,
): PostgresPool & { completed(): number; statements: string[] } {
  let completed = 0;
  const statements: string[] = [];
  const wrapped = wrapPool(pool as PostgresPool, async ({ text }, send) => {
    statements.push(text);
    const result = await send();
    if (text.includes(marker)) completed += 1;
    return result;
  });
  return { ...wrapped, statements, completed: () => completed };
}

/** Resolves once `condition()` holds, checking every 10 ms; fails after `timeoutMs` saying `what`. */
export async function until(
  condition: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 20_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** The pids of an application's backends that are listening (their last statement was LISTEN). */
export async function listeners(admin: pg.Pool, applicationName: string): Promise<number[]> {
  const { rows } = await admin.query(
    `SELECT pid FROM pg_stat_activity WHERE application_name = $1
       AND (query LIKE 'LISTEN %' OR query LIKE $2) ORDER BY pid`,
    [applicationName, `${LISTENER_TAG}%`],
  );
  return rows.map((row) => (row as { pid: number }).pid);
}

/** `promise`, or a failure saying `what` did not happen within `ms`. */
export async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  // A later rejection of `promise` (e.g. when its lock closes) is not left unhandled.
  promise.catch(() => undefined);
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${what} within ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
