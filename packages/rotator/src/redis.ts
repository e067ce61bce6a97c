/**
 * `slack-rotator/redis`: a token store and a lock on Redis (standalone or Cluster) through your
 * [ioredis](https://github.com/redis/ioredis) client (an optional peer dependency, 5.x or 6.x, that
 * the library never imports itself).
 *
 * Durability is the server's: run Redis with AOF and `appendfsync always`, and know that a failover
 * to a replica that lags can bring back a refresh token Slack has already spent.
 *
 * @example
 * import { Redis } from 'ioredis';
 * import { createRedisStore } from 'slack-rotator/redis';
 * const store = createRedisStore({ client: new Redis(process.env.REDIS_URL) });
 * const rotator = createRotator({ clientId, clientSecret, store }); // uses store.lock
 *
 * @module
 */
export type { RedisLockOptions } from './lock/redis.js';
export { createRedisLock } from './lock/redis.js';
export type { RedisStore, RedisStoreOptions } from './store/redis.js';
export { createRedisStore } from './store/redis.js';
export type { RedisArgument, RedisClient, RedisSubscriber } from './store/redis-client.js';
export type { RepairReport } from './store/redis-index.js';
