import { Redis as Redis6 } from 'ioredis6';
import { describe, expect, test } from 'vitest';
import { createRedisLock, createRedisStore, type RedisClient } from '../src/redis.js';
import { describeLock } from '../src/testing/lock-suite.js';
import { describeTokenStore } from '../src/testing/store-suite.js';
import { REDIS, twoClients } from './helpers/redis.js';

// The structural client type covers ioredis 6 as well as 5: the same suites, through an ioredis 6 client.
const open = () => new Redis6({ ...REDIS, maxRetriesPerRequest: 2 });

test('an ioredis 6 client is a RedisClient', () => {
  const client: RedisClient = open();
  expect(typeof client.eval).toBe('function');
  (client as unknown as Redis6).disconnect();
});

describeTokenStore(
  { describe, test },
  {
    name: 'redis through ioredis 6',
    create() {
      const { prefix, client, other, cleanup } = twoClients(open);
      return {
        store: createRedisStore({ client, prefix }),
        peer: createRedisStore({ client: other, prefix }),
        cleanup,
      };
    },
  },
);

describeLock(
  { describe, test },
  {
    name: 'redis lock through ioredis 6',
    create() {
      const { prefix, client, other, cleanup } = twoClients(open);
      return {
        lock: createRedisLock({ client, prefix }),
        peer: createRedisLock({ client: other, prefix }),
        cleanup,
      };
    },
  },
);
