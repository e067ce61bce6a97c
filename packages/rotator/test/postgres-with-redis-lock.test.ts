import { afterAll, beforeAll, describe, test } from 'vitest';
import { createPostgresStore, migrate } from '../src/postgres.js';
import { createRedisLock } from '../src/redis.js';
import type { TokenStore } from '../src/store/types.js';
import { describeTokenStore } from '../src/testing/store-suite.js';
import { createTestDatabase, type TestDatabase, type TestPool } from './helpers/postgres.js';
import { deletePrefix, openClient, randomPrefix } from './helpers/redis.js';

let db: TestDatabase;
let main: TestPool;
let second: TestPool;

beforeAll(async () => {
  db = await createTestDatabase('pg_redis_lock');
  main = db.pool({ label: 'a' });
  second = db.pool({ label: 'b' });
});
afterAll(async () => {
  await db?.drop();
});

/** The PostgreSQL store with its lock replaced by a Redis lock: the pair a fleet may run. */
function withLock(store: TokenStore, lock: ReturnType<typeof createRedisLock>): TokenStore {
  return {
    get: (chainKey) => store.get(chainKey),
    put: (record) => store.put(record),
    compareAndSet: (chainKey, version, update) => store.compareAndSet(chainKey, version, update),
    recordIntent: (chainKey, version, intent) => store.recordIntent(chainKey, version, intent),
    list: (query) => store.list(query),
    delete: (query) => store.delete(query),
    lock,
    async close() {
      await lock.close();
      await store.close();
    },
  };
}

// Every case of the suite, including two rotators racing one refresh, a holder dying with the lock
// and a lease expiring mid-refresh, with the chains in PostgreSQL and the refresh lock in Redis.
describeTokenStore(
  { describe, test },
  {
    name: 'PostgreSQL store + Redis lock',
    async create() {
      const schema = db.schema();
      await migrate(main, { schema });
      const prefix = randomPrefix();
      const client = openClient();
      const other = openClient();
      return {
        store: withLock(createPostgresStore({ pool: main, schema }), createRedisLock({ client, prefix })),
        peer: withLock(
          createPostgresStore({ pool: second, schema }),
          createRedisLock({ client: other, prefix }),
        ),
        async cleanup() {
          await db.dropSchema(schema);
          await deletePrefix(client, prefix);
          await Promise.all([client.quit(), other.quit()]);
        },
      };
    },
  },
);
