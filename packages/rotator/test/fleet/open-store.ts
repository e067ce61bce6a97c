import Database from 'better-sqlite3';
import { Redis } from 'ioredis';
import pg from 'pg';
import type { Lock } from '../../src/lock/types.js';
import { createPostgresStore } from '../../src/postgres.js';
import { createRedisLock, createRedisStore } from '../../src/redis.js';
import { createSqliteStore } from '../../src/sqlite.js';
import type { TokenStore } from '../../src/store/types.js';
import type { FleetBackend } from './config.js';

/** A store (and lock) on a fleet backend, with what must be closed afterwards. */
export interface OpenedStore {
  store: TokenStore;
  lock: Lock | undefined;
  /** Connections this process opened, for pg_terminate_backend to find: application_name. */
  close(): Promise<void>;
}

/** Opens the backend as one process of the fleet does. */
export async function openStore(backend: FleetBackend, name: string): Promise<OpenedStore> {
  switch (backend.kind) {
    case 'sqlite': {
      const database = new Database(backend.path);
      const store = createSqliteStore({ database });
      return {
        store,
        lock: undefined,
        close: async () => {
          database.close();
        },
      };
    }
    case 'postgres': {
      const pool = new pg.Pool({
        connectionString: backend.connectionString,
        application_name: name,
        max: 4,
      });
      pool.on('error', () => {});
      const store = createPostgresStore({ pool, schema: backend.schema });
      return {
        store,
        lock: undefined,
        async close() {
          await store.close();
          await pool.end();
        },
      };
    }
    case 'redis': {
      const client = new Redis(backend.url, { lazyConnect: false, maxRetriesPerRequest: 2 });
      client.on('error', () => {});
      const store = createRedisStore({ client, prefix: backend.prefix });
      return {
        store,
        lock: undefined,
        async close() {
          await store.close();
          client.disconnect();
        },
      };
    }
    case 'postgres+redis': {
      const pool = new pg.Pool({
        connectionString: backend.connectionString,
        application_name: name,
        max: 4,
      });
      pool.on('error', () => {});
      const client = new Redis(backend.url, { maxRetriesPerRequest: 2 });
      client.on('error', () => {});
      const store = createPostgresStore({ pool, schema: backend.schema });
      const lock = createRedisLock({ client, prefix: backend.prefix });
      return {
        store,
        lock,
        async close() {
          await lock.close();
          await store.close();
          await pool.end();
          client.disconnect();
        },
      };
    }
  }
}
