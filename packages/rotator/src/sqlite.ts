/**
 * `slack-rotator/sqlite`: a token store and a lock in a SQLite database opened with
 * [better-sqlite3](https://github.com/WiseLibs/better-sqlite3) (an optional peer dependency the
 * library never imports itself).
 *
 * @example
 * import Database from 'better-sqlite3';
 * import { createSqliteStore } from 'slack-rotator/sqlite';
 * const store = createSqliteStore({ database: new Database('tokens.db') });
 * const rotator = createRotator({ clientId, clientSecret, store }); // uses store.lock
 *
 * @module
 */
export type { SqliteLockOptions } from './lock/sqlite.js';
export { createSqliteLock } from './lock/sqlite.js';
export type { SqliteStoreOptions } from './store/sqlite.js';
export { createSqliteStore } from './store/sqlite.js';
export type { BusyOptions, SqliteDatabase, SqliteStatement } from './store/sqlite-database.js';
export type { MigrateOptions } from './store/sqlite-schema.js';
export { migrate, SCHEMA_VERSION } from './store/sqlite-schema.js';
