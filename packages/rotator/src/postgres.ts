/**
 * `slack-rotator/postgres`: a token store and a lock in PostgreSQL over your
 * [node-postgres](https://node-postgres.com) `pg.Pool` (an optional peer dependency the library never
 * imports itself). Run {@link migrate} before first use; it never runs by itself.
 *
 * @example
 * import pg from 'pg';
 * import { createPostgresStore, migrate } from 'slack-rotator/postgres';
 * const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL });
 * await migrate(pool);
 * const store = createPostgresStore({ pool });
 * const rotator = createRotator({ clientId, clientSecret, store }); // uses store.lock
 *
 * @module
 */
export type { PostgresLockOptions } from './lock/postgres.js';
export { createPostgresLock } from './lock/postgres.js';
export type { PostgresStoreOptions } from './store/postgres.js';
export { createPostgresStore } from './store/postgres.js';
export type {
  PostgresClient,
  PostgresLocation,
  PostgresNotification,
  PostgresPool,
  PostgresPrepareOption,
  PostgresQueryConfig,
  PostgresQueryResult,
} from './store/postgres-pool.js';
export type { MigrateOptions } from './store/postgres-schema.js';
export { migrate, SCHEMA_VERSION } from './store/postgres-schema.js';
