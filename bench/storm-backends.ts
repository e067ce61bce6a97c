/**
 * The storm benchmark's backends: a database of its own on the shared PostgreSQL, a key prefix of its
 * own on the shared Redis; each opened as a worker opens it (the store with its own lock).
 */
import { createHash, randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import pg from 'pg';
import type { Lock } from '../packages/rotator/src/lock/types.js';
import {
  createPostgresStore,
  migrate,
  type PostgresPool,
  type PostgresQueryConfig,
} from '../packages/rotator/src/postgres.js';
import { createRedisStore } from '../packages/rotator/src/redis.js';
import { COMPARE_AND_SET } from '../packages/rotator/src/store/redis-scripts.js';
import type { TokenStore } from '../packages/rotator/src/store/types.js';
import type { BackendKind, StormBackend } from './storm-shared.js';

const ADMIN = 'postgres://postgres@127.0.0.1:5432/postgres';
const REDIS = 'redis://127.0.0.1:6379';

/** The backend of one run and how to remove it. */
export interface PreparedBackend {
  config: StormBackend;
  dispose(): Promise<void>;
}

/** Fails loudly, saying what to run, when a shared server does not answer. */
async function reachable(kind: BackendKind): Promise<void> {
  try {
    if (kind === 'redis') {
      const client = new Redis(REDIS, {
        lazyConnect: true,
        maxRetriesPerRequest: 0,
        retryStrategy: () => null,
      });
      try {
        await client.connect();
        await client.ping();
      } finally {
        client.disconnect();
      }
    } else {
      const client = new pg.Client({ connectionString: ADMIN });
      await client.connect();
      await client.end();
    }
  } catch (error) {
    throw new Error(
      `[storm] ${kind === 'redis' ? `Redis (${REDIS})` : 'PostgreSQL (127.0.0.1:5432)'} does not answer; run scripts/services.sh`,
      { cause: error },
    );
  }
}

/** Creates the run's own database (migrated) or picks its own Redis key prefix. */
export async function prepareBackend(kind: BackendKind): Promise<PreparedBackend> {
  await reachable(kind);
  const id = randomBytes(5).toString('hex');
  if (kind === 'redis') {
    const prefix = `slack-rotator-bench-${id}`;
    return {
      config: { kind, url: REDIS, prefix },
      async dispose() {
        const client = new Redis(REDIS);
        try {
          let cursor = '0';
          do {
            const [next, keys] = await client.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
            cursor = next;
            if (keys.length > 0) await client.del(...keys);
          } while (cursor !== '0');
        } finally {
          client.disconnect();
        }
      },
    };
  }
  const name = `slack_rotator_bench_${id}`;
  const admin = new pg.Client({ connectionString: ADMIN, application_name: 'slack-rotator-bench-admin' });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  const connectionString = `postgres://postgres@127.0.0.1:5432/${name}`;
  const pool = new pg.Pool({ connectionString, max: 1 });
  await migrate(pool);
  await pool.end();
  return {
    config: { kind, connectionString },
    async dispose() {
      const client = new pg.Client({
        connectionString: ADMIN,
        application_name: 'slack-rotator-bench-admin',
      });
      await client.connect();
      try {
        await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await client.end();
      }
    },
  };
}

/** A store (with its own lock) as one process opens it, and a bare read of one chain's row. */
export interface OpenedStore {
  store: TokenStore;
  lock: Lock;
  /** `SELECT * FROM <chains table> WHERE chain_key = $1` on the same pool / `HGETALL` on the same client. */
  bareRead(chainKey: string): Promise<unknown>;
  /** Warms the connections (every pooled PostgreSQL connection is opened). */
  warm(): Promise<void>;
  /** The same store over a client that counts the statements / commands sent through it. */
  counted(): { store: TokenStore; sent(): number };
  close(): Promise<void>;
}

/** A compare-and-set of the PostgreSQL store: `UPDATE … version = version + 1 … RETURNING *`. */
const PG_CAS = /^\s*(?:WITH[\s\S]*)?UPDATE\b[\s\S]*\bversion = version \+ 1\b[\s\S]*RETURNING \*/;
const PG_COMMIT_COLUMN = 'storm_server_ms';
const REDIS_CAS_SHA = createHash('sha1').update(COMPARE_AND_SET).digest('hex');

const REDIS_COMMANDS = new Set(['eval', 'evalsha', 'hgetall', 'smembers', 'zrangebylex', 'scan', 'hscan']);

/**
 * Opens the store as one process does. `onLockCall` is told the name of the lock each statement (a
 * parameter `refresh:<chain key>`) or script (a key `<prefix>:lock:{refresh:<chain key>}`) concerns
 * as it is sent, and returns what to call when it is answered: how often a waiter looked at the
 * lock, and how long it slept in between.
 */
export async function openStore(
  backend: StormBackend,
  options: {
    name: string;
    poolMax: number;
    lockRecheckMs: number;
    onLockCall?: (name: string) => () => void;
    /**
     * Told the server's clock (epoch ms) of each compare-and-set that matched, as the server ran it:
     * PostgreSQL's `clock_timestamp()` inside the statement (before its commit), or Redis's `TIME`
     * sent right before the script on the same connection. The honest start of a wake-up.
     */
    onCommit?: (chainKey: string, serverMs: number) => void;
  },
): Promise<OpenedStore> {
  const heard = options.onLockCall ?? (() => () => {});
  const onCommit = options.onCommit;
  if (backend.kind === 'postgres') {
    const pool = new pg.Pool({
      connectionString: backend.connectionString,
      application_name: options.name,
      max: options.poolMax,
    });
    pool.on('error', () => {});
    // The store's statements come as SQL and values, or named (prepared, the default).
    const send = (text: string, values: unknown[] | undefined, statement: string | undefined) =>
      statement === undefined
        ? pool.query(text, values)
        : pool.query(values === undefined ? { name: statement, text } : { name: statement, text, values });
    const query = (textOrConfig: string | PostgresQueryConfig, maybeValues?: unknown[]) => {
      const named = typeof textOrConfig === 'string' ? undefined : textOrConfig;
      const text = named?.text ?? (textOrConfig as string);
      const values = named === undefined ? maybeValues : named.values;
      const name = values?.[0];
      if (onCommit !== undefined && PG_CAS.test(text)) {
        // The server's clock in the statement's answer: the commit follows it at once.
        const timed = text.replace(
          'RETURNING *',
          `RETURNING *, (extract(epoch FROM clock_timestamp()) * 1000)::float8 AS ${PG_COMMIT_COLUMN}`,
        );
        return send(timed, values, named?.name).then((result) => {
          const row = result.rows[0];
          if (row !== undefined && typeof row.chain_key === 'string') {
            onCommit(row.chain_key, Number(row[PG_COMMIT_COLUMN]));
          }
          return result;
        });
      }
      // Lock attempts go out batched: one statement's names ($1) each count as a call about its lock.
      const names = (Array.isArray(name) ? name : [name]).filter(
        (n): n is string => typeof n === 'string' && n.startsWith('refresh:'),
      );
      if (names.length === 0) return send(text, values, named?.name);
      const answered = names.map((n) => heard(n));
      return send(text, values, named?.name).finally(() => {
        for (const answer of answered) answer();
      });
    };
    const watched = { query: query as PostgresPool['query'], connect: () => pool.connect() };
    const store = createPostgresStore({
      pool: watched,
      lockRecheckMs: options.lockRecheckMs,
      // STORM_PREPARE=0: the lone read as text, unnamed (as before session 10).
      prepare: process.env.STORM_PREPARE !== '0',
    });
    const sql = 'SELECT * FROM "slack_rotator_chains" WHERE chain_key = $1';
    return {
      store,
      lock: store.lock,
      // Named, like the store's own statements: the cheapest way to ask for the row.
      bareRead: (chainKey) => pool.query({ name: 'storm_bare_read', text: sql, values: [chainKey] }),
      async warm() {
        await Promise.all(Array.from({ length: options.poolMax }, () => pool.query('SELECT 1')));
      },
      counted() {
        let sent = 0;
        const counting = {
          query: ((textOrConfig: string | PostgresQueryConfig, values?: unknown[]) => {
            sent++;
            return typeof textOrConfig === 'string'
              ? pool.query(textOrConfig, values)
              : pool.query(textOrConfig);
          }) as PostgresPool['query'],
          connect: () => pool.connect(),
        };
        return { store: createPostgresStore({ pool: counting, listen: false }), sent: () => sent };
      },
      async close() {
        await store.close();
        await pool.end();
      },
    };
  }
  const client = new Redis(backend.url, { enableAutoPipelining: process.env.STORM_AUTOPIPELINE === '1' });
  client.on('error', () => {});
  const lockKey = `${backend.prefix}:lock:{`;
  const chainKeyOf = `${backend.prefix}:chain:{`;
  const watched = new Proxy(client, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver);
      if (typeof value !== 'function') return value;
      if (property === 'evalsha' || property === 'eval') {
        return (...args: unknown[]) => {
          const key = args[2];
          const cas = args[0] === REDIS_CAS_SHA || args[0] === COMPARE_AND_SET;
          if (onCommit !== undefined && cas && typeof key === 'string' && key.startsWith(chainKeyOf)) {
            // TIME on the same connection, right before the script: Redis runs them back to back.
            const time = target.time();
            const reply = value.apply(target, args) as Promise<unknown>;
            return Promise.all([time, reply]).then(([[seconds, micros], answer]) => {
              if (answer !== null)
                onCommit(key.slice(chainKeyOf.length, -1), Number(seconds) * 1000 + Number(micros) / 1000);
              return answer;
            });
          }
          if (args[1] !== 1 || typeof key !== 'string' || !key.startsWith(lockKey)) {
            return value.apply(target, args);
          }
          const answered = heard(key.slice(lockKey.length, -1));
          return (value.apply(target, args) as Promise<unknown>).finally(answered);
        };
      }
      return value.bind(target);
    },
  });
  const store = createRedisStore({
    client: watched,
    prefix: backend.prefix,
    lockRecheckMs: options.lockRecheckMs,
  });
  return {
    store,
    lock: store.lock,
    bareRead: (chainKey) => client.hgetall(`${backend.prefix}:chain:{${chainKey}}`),
    async warm() {
      await client.ping();
    },
    counted() {
      let sent = 0;
      const counting = new Proxy(client, {
        get(target, property, receiver) {
          const value = Reflect.get(target, property, receiver);
          if (typeof value !== 'function') return value;
          if (typeof property === 'string' && REDIS_COMMANDS.has(property)) {
            return (...args: unknown[]) => {
              sent++;
              return value.apply(target, args);
            };
          }
          return value.bind(target);
        },
      });
      return { store: createRedisStore({ client: counting, prefix: backend.prefix }), sent: () => sent };
    },
    async close() {
      await store.close();
      client.disconnect();
    },
  };
}
