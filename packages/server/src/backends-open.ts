/**
 * Opens the clients behind each kind of store (a better-sqlite3 database, a pg pool, an ioredis
 * client), the library's store on them and the server's state beside it. `openBackends` composes
 * these; each returns what it opened so that everything can be closed in order.
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { Redis } from 'ioredis';
import pg from 'pg';
import type { Lock, TokenStore } from 'slack-rotator';
import { createPostgresStore, migrate as migratePostgres, SCHEMA_VERSION } from 'slack-rotator/postgres';
import { createRedisStore } from 'slack-rotator/redis';
import { createSqliteStore } from 'slack-rotator/sqlite';
import { ServerError } from './errors.js';
import type { Logger } from './logger.js';
import { createPostgresState, postgresStateMigrated } from './state/postgres.js';
import { createRedisState } from './state/redis.js';
import { createSqliteState } from './state/sqlite.js';
import type { ServerConfig, ServerState } from './types.js';

/** The default first part of every Redis key (the library's own default). */
export const DEFAULT_REDIS_PREFIX = 'slack-rotator';
/** How long opening a Redis connection may take before the store counts as unreachable. */
const CONNECT_TIMEOUT_MS = 5_000;

/** A store and state opened on one backing system, with the checks and teardown of its client. */
export interface OpenedStore {
  /** The library's store (unencrypted), with its own lock. */
  store: TokenStore & { readonly lock: Lock };
  state: ServerState;
  /** The backend as messages name it: `sqlite:<path>` or its URL without credentials. */
  target: string;
  /** Checks the client itself (a query or PING); throws the driver's error. */
  pingClient(): Promise<void>;
  /** Closes the client opened for the store (after the store and state are closed). */
  closeClient(): Promise<void>;
}

/** `host:port/db` of a URL without its credentials, to name a backend in messages and logs. */
export function describeUrl(url: string): string {
  try {
    const parsed = new URL(url);
    return `${parsed.protocol}//${parsed.host}${parsed.pathname === '/' ? '' : parsed.pathname}`;
  } catch {
    return 'an invalid URL';
  }
}

/** Failing to open: the message names the backend (never its credentials) and the driver's reason. */
export function unreachable(what: string, target: string, error: unknown): ServerError {
  if (error instanceof ServerError) return error;
  const reason = error instanceof Error ? error.message : String(error);
  return new ServerError('backend_unavailable', `${what} unreachable (${target}): ${reason}`, {
    cause: error,
  });
}

export function openSqlite(path: string): OpenedStore {
  if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
  const database = new Database(path);
  try {
    // The embedded default has no separate deploy step: the library store migrates its tables.
    const store = createSqliteStore({ database });
    const state = createSqliteState({ database });
    return {
      store,
      state,
      target: `sqlite:${path}`,
      async pingClient() {
        if (!database.open) throw new Error('the database is closed');
        database.prepare('SELECT 1').get();
      },
      async closeClient() {
        if (database.open) database.close();
      },
    };
  } catch (error) {
    database.close();
    throw unreachable('store', `sqlite:${path}`, error);
  }
}

export async function openPostgres(
  url: string,
  migrate: boolean,
  logger: Logger,
  listenUrl?: string,
): Promise<OpenedStore> {
  const target = describeUrl(url);
  const pool = new pg.Pool({ connectionString: url, max: 10, application_name: 'slack-rotator' });
  // The lock's LISTEN needs a session: behind PgBouncer (transaction pooling) it gets its own small
  // pool straight to PostgreSQL; one connection is checked out while anyone waits.
  const listenPool =
    listenUrl === undefined
      ? undefined
      : new pg.Pool({ connectionString: listenUrl, max: 2, application_name: 'slack-rotator-listen' });
  // An idle connection the server drops must not crash the process; the next query reconnects.
  for (const each of listenPool === undefined ? [pool] : [pool, listenPool]) {
    each.on('error', (error) =>
      logger.warn({ err: error, store: target }, 'idle PostgreSQL connection failed'),
    );
  }
  const endPools = async () => {
    await pool.end();
    await listenPool?.end();
  };
  try {
    const state = createPostgresState({ pool });
    if (migrate) {
      await migratePostgres(pool);
      await state.migrate();
    } else {
      await checkPostgresSchema(pool, target);
    }
    return {
      store: createPostgresStore(listenPool === undefined ? { pool } : { pool, listen: listenPool }),
      state,
      target,
      async pingClient() {
        await pool.query('SELECT 1');
        await listenPool?.query('SELECT 1');
      },
      closeClient: endPools,
    };
  } catch (error) {
    await endPools().catch(() => undefined);
    throw unreachable('store', target, error);
  }
}

/** Without `--migrate`, `serve` must find the schema in place (it never changes it behind an operator's back). */
async function checkPostgresSchema(pool: pg.Pool, target: string): Promise<void> {
  const { rows } = await pool.query<{ table: string | null }>(
    "SELECT to_regclass('slack_rotator_schema_migrations')::text AS table",
  );
  let version = 0;
  if (rows[0]?.table != null) {
    const result = await pool.query<{ version: number | null }>(
      'SELECT max(version) AS version FROM slack_rotator_schema_migrations',
    );
    version = Number(result.rows[0]?.version ?? 0);
  }
  const fix = 'run `slack-rotator migrate` (or `slack-rotator serve --migrate`)';
  if (version > SCHEMA_VERSION) {
    throw new ServerError(
      'invalid_config',
      `the PostgreSQL schema at ${target} is at version ${version}, newer than this server knows (${SCHEMA_VERSION}): upgrade slack-rotator-server`,
    );
  }
  if (version < SCHEMA_VERSION) {
    const found =
      version === 0 ? 'has no slack-rotator schema' : `has schema version ${version}, not ${SCHEMA_VERSION}`;
    throw new ServerError('invalid_config', `the PostgreSQL database at ${target} ${found}: ${fix}`);
  }
  if (!(await postgresStateMigrated(pool))) {
    throw new ServerError(
      'invalid_config',
      `the PostgreSQL database at ${target} lacks the server's tables: ${fix}`,
    );
  }
}

/**
 * An ioredis client for a `redis://` / `rediss://` URL; `?prefix=` names the key prefix (default
 * `slack-rotator`). It fails commands after a few retries instead of queueing them for long while
 * Redis is away, so requests answer 503 promptly.
 */
export async function openRedisClient(
  url: string,
  what: string,
  logger: Logger,
): Promise<{ client: Redis; prefix: string; target: string }> {
  const parsed = new URL(url);
  const prefix = parsed.searchParams.get('prefix') ?? DEFAULT_REDIS_PREFIX;
  parsed.searchParams.delete('prefix');
  const target = describeUrl(url);
  const client = new Redis(parsed.toString(), {
    lazyConnect: true,
    maxRetriesPerRequest: 2,
    connectTimeout: CONNECT_TIMEOUT_MS,
    connectionName: 'slack-rotator',
  });
  let lastError: Error | undefined;
  client.on('error', (error: Error) => {
    // ioredis reconnects on its own; log each distinct failure once rather than every retry.
    if (lastError?.message !== error.message)
      logger.warn({ err: error, [what]: target }, 'Redis connection failed');
    lastError = error;
  });
  client.on('ready', () => {
    lastError = undefined;
  });
  try {
    await client.connect();
  } catch (error) {
    client.disconnect();
    throw unreachable(what, target, error);
  }
  return { client, prefix, target };
}

export async function openRedis(url: string, logger: Logger): Promise<OpenedStore> {
  const { client, prefix, target } = await openRedisClient(url, 'store', logger);
  let store: OpenedStore['store'];
  try {
    store = createRedisStore({ client, prefix });
  } catch (error) {
    await quit(client);
    throw new ServerError('invalid_config', `store ${target}: ${(error as Error).message}`, { cause: error });
  }
  return {
    target,
    store,
    state: createRedisState({ client, prefix: `${prefix}:` }),
    async pingClient() {
      if (client.status !== 'ready') throw new Error(`the connection is ${client.status}`);
      await client.ping();
    },
    closeClient: () => quit(client),
  };
}

/** QUIT, or a hard disconnect when the server is gone (QUIT would wait for a reconnect). */
export async function quit(client: Redis): Promise<void> {
  if (client.status === 'end') return;
  if (client.status !== 'ready') {
    client.disconnect();
    return;
  }
  await client.quit().catch(() => client.disconnect());
}

/** Opens the store (and state) a configuration names. */
export function openStore(
  store: ServerConfig['store'],
  options: { migrate: boolean; logger: Logger },
): Promise<OpenedStore> {
  switch (store.kind) {
    case 'sqlite':
      return Promise.resolve().then(() => openSqlite(store.path));
    case 'postgres':
      return openPostgres(store.url, options.migrate, options.logger, store.listenUrl);
    case 'redis':
      return openRedis(store.url, options.logger);
  }
}
