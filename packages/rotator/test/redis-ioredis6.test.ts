import { Redis as Redis6 } from 'ioredis6';
import { describe, expect, test } from 'vitest';
import { createRedisLock, createRedisStore, type RedisClient } from '../src/redis.js';
import { describeLock } from '../src/testing/lock-suite.js';
import { describeTokenStore } from '../src/testing/store-suite.js';
import { REDIS, randomPrefix } from './helpers/redis.js';

// The structural client type covers ioredis 6 as well as 5: the same suites, through an ioredis 6 client.
const open = () => new Redis6({ ...REDIS, maxRetriesPerRequest: 2 });

async function deletePrefix(client: Redis6, prefix: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await client.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
    cursor = next;
    await Promise.all(keys.map((key) => client.del(key)));
  } while (cursor !== '0');
}

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
      const prefix = randomPrefix();
      const client = open();
      const other = open();
      return {
        store: createRedisStore({ client, prefix }),
        peer: createRedisStore({ client: other, prefix }),
        async cleanup() {
          await deletePrefix(client, prefix);
          await Promise.all([client.quit(), other.quit()]);
        },
      };
    },
  },
);

describeLock(
  { describe, test },
  {
    name: 'redis lock through ioredis 6',
    create() {
      const prefix = randomPrefix();
      const client = open();
      const other = open();
      return {
        lock: createRedisLock({ client, prefix }),
        peer: createRedisLock({ client: other, prefix }),
        async cleanup() {
          await deletePrefix(client, prefix);
          await Promise.all([client.quit(), other.quit()]);
        },
      };
    },
  },
);
