// A store paired with its own lock (PostgreSQL, Redis) wakes the waiters of a chain's refresh lock
// when a compare-and-set to the chain commits, not only when the holder releases: a waiter resumes
// with the holder's pair while the holder's release is still on its way.
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { refreshLockName } from '../src/lock/names.js';
import type { Lease, Lock } from '../src/lock/types.js';
import { createPostgresLock, createPostgresStore, migrate, type PostgresPool } from '../src/postgres.js';
import { createRedisStore } from '../src/redis.js';
import { tablesFor } from '../src/store/postgres-pool.js';
import type { TokenRecord, TokenStore } from '../src/store/types.js';
import { sampleRecord } from '../src/testing/store-fixtures.js';
import {
  countingPool,
  createTestDatabase,
  listeners,
  type TestDatabase,
  type TestPool,
  until,
  within,
  wrapPool,
} from './helpers/postgres.js';
import { deletePrefix, openClient, randomPrefix } from './helpers/redis.js';
import { harness } from './helpers/setup.js';

type PairedStore = TokenStore & { readonly lock: Lock };

interface Pair {
  /** The holder's store (and its lock). */
  store: PairedStore;
  /** Another process's store on the same data, with its own lock and connections. */
  peer: PairedStore;
  /** Resolves once the peer's lock hears messages (PostgreSQL: its LISTEN is active). */
  peerListening(): Promise<void>;
  cleanup(): Promise<void>;
}

let db: TestDatabase;
let main: TestPool;
let second: TestPool;

beforeAll(async () => {
  db = await createTestDatabase('wake');
  main = db.pool({ label: 'a' });
  second = db.pool({ label: 'b' });
});
afterAll(async () => {
  await db?.drop();
});

const backends: { name: string; create(): Promise<Pair> }[] = [
  {
    name: 'postgres',
    async create() {
      const schema = db.schema();
      await migrate(main, { schema });
      const store = createPostgresStore({ pool: main, schema });
      const peer = createPostgresStore({ pool: second, schema });
      return {
        store,
        peer,
        peerListening: () =>
          until(
            async () => (await listeners(db.admin, second.applicationName)).length > 0,
            'the peer listens',
          ),
        async cleanup() {
          await Promise.all([store.close?.(), peer.close?.()]);
          await db.dropSchema(schema);
        },
      };
    },
  },
  {
    name: 'redis',
    async create() {
      const prefix = randomPrefix();
      const client = openClient();
      const other = openClient();
      const store = createRedisStore({ client, prefix });
      const peer = createRedisStore({ client: other, prefix });
      return {
        store,
        peer,
        // Its lock subscribes on its first wait; under load that takes longer than any fixed pause.
        peerListening: () => subscribed(client, prefix),
        async cleanup() {
          await Promise.all([store.close(), peer.close()]);
          await deletePrefix(client, prefix);
          await Promise.all([client.quit(), other.quit()]);
        },
      };
    },
  },
];

const LONG_MS = 30_000;

/** Resolves once some lock with this prefix subscribes (its first wait subscribes; under load that takes a while). */
function subscribed(client: ReturnType<typeof openClient>, prefix: string): Promise<void> {
  return until(async () => {
    const reply = (await client.pubsub('NUMSUB', `${prefix}:lock:released`)) as unknown[];
    return Number(reply[1]) > 0;
  }, 'a lock subscribes');
}
const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * The holder takes `name` (and a keeper lock the waiter waits on, so the waiter's process listens
 * already); then the waiter's own attempt on `name` is answered "held".
 */
async function heldWhileListening(
  holder: PairedStore,
  waiter: PairedStore,
  listening: () => Promise<void>,
  name: string,
) {
  const lease = await holder.lock.acquire(name, { ttlMs: LONG_MS, waitMs: 0 });
  const other = await holder.lock.acquire(`${name}:keeper`, { ttlMs: LONG_MS, waitMs: 0 });
  const keeper = track(waiter.lock.wait?.(`${name}:keeper`, { waitMs: LONG_MS }) ?? Promise.resolve());
  await listening();
  await pause(50);
  await expect(waiter.lock.acquire(name, { ttlMs: LONG_MS, waitMs: 0 })).rejects.toMatchObject({
    code: 'lock_timeout',
  });
  return {
    /** Releases both leases and waits for the keeper's wait to end. */
    async releaseAll() {
      await Promise.all([holder.lock.release(lease), holder.lock.release(other)]);
      await keeper.promise;
    },
  };
}

/** `client` with the calls of `methods` counted (everything else passes through). */
function countCalls(client: ReturnType<typeof openClient>, methods: string[]) {
  let calls = 0;
  const counted = new Proxy(client, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver);
      if (typeof value !== 'function') return value;
      if (typeof property === 'string' && methods.includes(property)) {
        return (...args: unknown[]) => {
          calls += 1;
          return value.apply(target, args);
        };
      }
      return value.bind(target);
    },
  });
  return { counted, calls: () => calls };
}

/**
 * A `listen` pool over `pool` whose checked-out (listening) connections record every statement, and
 * every payload they hear (recorded before the lock's own listener runs).
 */
function recordingListen(pool: TestPool): { listen: PostgresPool; statements: string[]; heard: string[] } {
  const statements: string[] = [];
  const heard: string[] = [];
  const listen = {
    ...wrapPool(pool, (_, send) => send()),
    async connect() {
      const client = await pool.connect();
      client.on('notification', (message: { payload?: string | undefined }) => {
        heard.push(message.payload ?? '');
      });
      const query = client.query.bind(client) as (text: string, values?: unknown[]) => Promise<unknown>;
      Object.assign(client, {
        query(text: string, values?: unknown[]) {
          statements.push(text);
          return query(text, values);
        },
      });
      return client;
    },
  };
  return { listen, statements, heard };
}

/** Starts a wait and reports whether it settled. */
function track(promise: Promise<void>): { promise: Promise<void>; settled: () => boolean } {
  let settled = false;
  promise.then(
    () => {
      settled = true;
    },
    () => {
      settled = true;
    },
  );
  return { promise, settled: () => settled };
}

for (const backend of backends) {
  describe(`${backend.name}: a compare-and-set wakes the chain's lock waiters`, () => {
    test('a CAS wakes a waiter while the holder still holds the lease; the waiter reads the new version', async () => {
      const pair = await backend.create();
      try {
        const record = await pair.store.put(sampleRecord('T0000001'));
        const name = refreshLockName(record.chainKey);
        const lease = await pair.store.lock.acquire(name, { ttlMs: LONG_MS, waitMs: 0 });
        const waiting = track(pair.peer.lock.wait?.(name, { waitMs: LONG_MS }) ?? Promise.resolve());
        await pair.peerListening();
        await pause(50);
        expect(waiting.settled(), 'wait resolved before anything happened').toBe(false);

        const stored = await pair.store.compareAndSet(record.chainKey, record.version, {
          expiresAt: 1,
          updatedAt: 1,
        });
        expect(stored?.version).toBe(record.version + 1);
        await within(waiting.promise, 10_000, 'the waiter woke on the commit');
        await expect(pair.peer.lock.acquire(name, { ttlMs: LONG_MS, waitMs: 0 })).rejects.toMatchObject({
          code: 'lock_timeout',
        });
        expect((await pair.peer.get(record.chainKey))?.version).toBe(record.version + 1);
        await pair.store.lock.release(lease);
      } finally {
        await pair.cleanup();
      }
    });

    test('a CAS that does not match wakes nobody; the release still does', async () => {
      const pair = await backend.create();
      try {
        const record = await pair.store.put(sampleRecord('T0000002'));
        const name = refreshLockName(record.chainKey);
        const lease = await pair.store.lock.acquire(name, { ttlMs: LONG_MS, waitMs: 0 });
        const waiting = track(pair.peer.lock.wait?.(name, { waitMs: LONG_MS }) ?? Promise.resolve());
        await pair.peerListening();
        expect(
          await pair.store.compareAndSet(record.chainKey, record.version + 7, { expiresAt: 1, updatedAt: 1 }),
        ).toBe(undefined);
        // A CAS of another chain wakes nobody here either.
        const other = await pair.store.put(sampleRecord('T0000003'));
        await pair.store.compareAndSet(other.chainKey, other.version, { expiresAt: 1, updatedAt: 1 });
        await pause(100);
        expect(waiting.settled(), 'a failed CAS or another chain woke the waiter').toBe(false);
        await pair.store.lock.release(lease);
        await within(waiting.promise, 10_000, 'the waiter woke on the release');
      } finally {
        await pair.cleanup();
      }
    });

    test('a waiter that found the lock held before the commit and waits after it returns at once', async () => {
      const pair = await backend.create();
      try {
        const record = await pair.store.put(sampleRecord('T0000007'));
        const name = refreshLockName(record.chainKey);
        const held = await heldWhileListening(pair.store, pair.peer, pair.peerListening, name);
        await pair.store.compareAndSet(record.chainKey, record.version, { expiresAt: 1, updatedAt: 1 });
        await pause(200);
        // The lease is still held and no release comes: only the commit heard can end this wait.
        await within(
          pair.peer.lock.wait?.(name, { waitMs: LONG_MS }) ?? Promise.resolve(),
          5_000,
          'returned',
        );
        expect((await pair.peer.get(record.chainKey))?.version).toBe(record.version + 1);
        await held.releaseAll();
      } finally {
        await pair.cleanup();
      }
    });

    test('a waiter gets the holder’s new token while the holder’s release is held back', async () => {
      const pair = await backend.create();
      // Slack answers slowly, so the second rotator is waiting long before the holder commits.
      const h = await harness({ store: pair.store, slack: { latencyMs: 400 } });
      try {
        const [chainKey] = await h.installWith({ teamId: 'T100' }, 0);
        if (chainKey === undefined) throw new Error('no chain installed');
        let holding: () => void = () => {};
        const held = new Promise<void>((resolve) => {
          holding = resolve;
        });
        let letGo: () => void = () => {};
        const gate = new Promise<void>((resolve) => {
          letGo = resolve;
        });
        let released = false;
        const lock = pair.store.lock;
        const slowRelease: Lock = {
          ...lock,
          acquire: async (name, options) => {
            const lease = await lock.acquire(name, options);
            holding();
            return lease;
          },
          release: async (lease: Lease) => {
            await gate;
            await lock.release(lease);
            released = true;
          },
        };
        // Leases and waits far longer than the test: only a wake-up can let the waiter resume.
        const holder = h.another({ lock: slowRelease, lockTtlMs: 120_000 });
        const waiter = h.another({ store: pair.peer, lockWaitMs: 120_000 });
        const first = holder.getToken({ teamId: 'T100' });
        await held;
        const second = waiter.getToken({ teamId: 'T100' });
        const token = await within(second, 20_000, 'the waiter resumed before the holder released');
        expect(released).toBe(false);
        letGo();
        expect(await first).toBe(token);
        expect((await pair.store.get(chainKey))?.accessToken).toBe(token);
        expect(h.slack.calls.filter((c) => c.grantType === 'refresh_token')).toHaveLength(1);
      } finally {
        await h.close();
        await pair.cleanup();
      }
    });
  });
}

describe('postgres: what the woken waiter and the holder send', () => {
  test('the woken waiter’s re-read goes on the listening connection, not the pool; later reads use the pool', async () => {
    const schema = db.schema();
    await migrate(main, { schema });
    const counted = countingPool(second, 'SELECT * FROM');
    const store = createPostgresStore({ pool: main, schema });
    const peer = createPostgresStore({ pool: counted, schema });
    try {
      const record = await store.put(sampleRecord('T0000004'));
      const name = refreshLockName(record.chainKey);
      const lease = await store.lock.acquire(name, { ttlMs: LONG_MS, waitMs: 0 });
      const waiting = track(peer.lock.wait?.(name, { waitMs: LONG_MS }) ?? Promise.resolve());
      await until(async () => (await listeners(db.admin, second.applicationName)).length > 0, 'listening');
      await store.compareAndSet(record.chainKey, record.version, { expiresAt: 1, updatedAt: 1 });
      await within(waiting.promise, 10_000, 'woken');
      const before = counted.statements.length;
      expect((await peer.get(record.chainKey))?.version).toBe(record.version + 1);
      expect(counted.statements.length, 'the re-read went through the pool').toBe(before);
      expect((await peer.get(record.chainKey))?.version).toBe(record.version + 1);
      expect(counted.statements.length, 'a later read skipped the pool').toBe(before + 1);
      await store.lock.release(lease);
    } finally {
      await Promise.all([store.close(), peer.close()]);
      await db.dropSchema(schema);
    }
  });

  test('waiters woken together re-read together: each gets its own chain, none through the pool', async () => {
    const schema = db.schema();
    await migrate(main, { schema });
    const counted = countingPool(second, 'SELECT * FROM');
    // The listening connection, watched: a statement sent while another is running on it would be
    // queued by pg itself, which pg 8 deprecates.
    const listenPool = db.pool({ label: 'listen' });
    let overlaps = 0;
    const watched = {
      ...wrapPool(listenPool, (_, send) => send()),
      async connect() {
        const client = await listenPool.connect();
        const query = client.query.bind(client) as (text: string, values?: unknown[]) => Promise<unknown>;
        let running = 0;
        Object.assign(client, {
          async query(text: string, values?: unknown[]) {
            if (running > 0) overlaps += 1;
            running += 1;
            try {
              return await query(text, values);
            } finally {
              running -= 1;
            }
          },
        });
        return client;
      },
    };
    const store = createPostgresStore({ pool: main, schema });
    const peer = createPostgresStore({ pool: counted, schema, listen: watched as PostgresPool });
    try {
      const records = await Promise.all(
        ['T0000011', 'T0000012', 'T0000013'].map((id) => store.put(sampleRecord(id))),
      );
      const names = records.map((record) => refreshLockName(record.chainKey));
      const leases = await Promise.all(
        names.map((name) => store.lock.acquire(name, { ttlMs: LONG_MS, waitMs: 0 })),
      );
      const waits = names.map((name) =>
        track(peer.lock.wait?.(name, { waitMs: LONG_MS }) ?? Promise.resolve()),
      );
      await until(
        async () => (await listeners(db.admin, listenPool.applicationName)).length > 0,
        'listening',
      );
      // The second chain moves twice, the others once.
      await Promise.all(
        records.map((r) => store.compareAndSet(r.chainKey, r.version, { expiresAt: 1, updatedAt: 1 })),
      );
      const [, twice] = records;
      if (twice === undefined) throw new Error('no record');
      await store.compareAndSet(twice.chainKey, twice.version + 1, { expiresAt: 2, updatedAt: 2 });
      await within(Promise.all(waits.map((w) => w.promise)), 10_000, 'all woken');
      const peerLease = await peer.lock.acquire('refresh:other', { ttlMs: LONG_MS, waitMs: 0 });
      const before = counted.statements.length;
      // The re-reads go on the listening connection, one statement at a time; the release through
      // the pool (it must not hold up the re-reads while it waits for its notify turn).
      const [read] = await Promise.all([
        Promise.all(records.map((r) => peer.get(r.chainKey))),
        peer.lock.release(peerLease),
      ]);
      expect(overlaps, 'a statement was sent while another ran on the listening connection').toBe(0);
      expect(
        counted.statements.slice(before).map((sql) => sql.trimStart().split(/\s+/).slice(0, 3).join(' ')),
        'only the release went through the pool',
      ).toEqual([`WITH released AS`]);
      expect(read.map((r) => [r?.chainKey, r?.version])).toEqual(
        records.map((r, i) => [r.chainKey, r.version + (i === 1 ? 2 : 1)]),
      );
      await Promise.all(leases.map((lease) => store.lock.release(lease)));
    } finally {
      await Promise.all([store.close(), peer.close()]);
      await db.dropSchema(schema);
    }
  });

  test('with listen: false the CAS notifies nobody (no pg_notify is sent)', async () => {
    const schema = db.schema();
    await migrate(main, { schema });
    const counted = countingPool(main, 'UPDATE');
    const store = createPostgresStore({ pool: counted, schema, listen: false });
    const listening = createPostgresStore({ pool: counted, schema });
    try {
      const record = await store.put(sampleRecord('T0000005'));
      await store.compareAndSet(record.chainKey, record.version, { expiresAt: 1, updatedAt: 1 });
      expect(counted.statements.some((sql) => sql.includes('pg_notify'))).toBe(false);
      await listening.compareAndSet(record.chainKey, record.version + 1, { expiresAt: 2, updatedAt: 2 });
      expect(counted.statements.some((sql) => sql.includes('pg_notify'))).toBe(true);
    } finally {
      await Promise.all([store.close(), listening.close()]);
      await db.dropSchema(schema);
    }
  });
});

describe('a waiter already listening when its attempt was answered "held" sends no look', () => {
  // The attempt's answer (the holder's remaining time) stands in for the wait's first look: any
  // commit or release after it is a message the waiter hears. In a storm that look would queue
  // behind the process's own statements; here it is counted.
  const cases: {
    name: string;
    open(): Promise<{
      holder: PairedStore;
      waiter: PairedStore;
      looks(): number;
      listening(): Promise<void>;
      cleanup(): Promise<void>;
    }>;
  }[] = [
    {
      name: 'postgres',
      async open() {
        const schema = db.schema();
        await migrate(main, { schema });
        const counted = countingPool(second, 'holder_remaining_ms');
        // Looks go on the listening connection when there is one: its statements are counted too.
        const { listen, statements: onListen } = recordingListen(second);
        const holder = createPostgresStore({ pool: main, schema });
        const waiter = createPostgresStore({ pool: counted, schema, listen });
        return {
          holder,
          waiter,
          looks: () =>
            [...counted.statements, ...onListen].filter((sql) => sql.includes('holder_remaining_ms')).length,
          listening: () =>
            until(async () => (await listeners(db.admin, second.applicationName)).length > 0, 'listening'),
          async cleanup() {
            await Promise.all([holder.close(), waiter.close()]);
            await db.dropSchema(schema);
          },
        };
      },
    },
    {
      name: 'redis',
      async open() {
        const prefix = randomPrefix();
        const client = openClient();
        const other = openClient();
        // Every script the waiter's client runs (attempts and looks), counted.
        const { counted, calls } = countCalls(other, ['evalsha', 'eval']);
        const holder = createRedisStore({ client, prefix });
        const waiter = createRedisStore({ client: counted, prefix });
        return {
          holder,
          waiter,
          looks: calls,
          listening: () => subscribed(client, prefix),
          async cleanup() {
            await Promise.all([holder.close(), waiter.close()]);
            await deletePrefix(client, prefix);
            await Promise.all([client.quit(), other.quit()]);
          },
        };
      },
    },
  ];

  for (const backend of cases) {
    test(`${backend.name}: the wait is woken by the release alone`, async () => {
      const pair = await backend.open();
      try {
        const record = await pair.holder.put(sampleRecord('T0000021'));
        const name = refreshLockName(record.chainKey);
        const held = await heldWhileListening(pair.holder, pair.waiter, pair.listening, name);
        const before = pair.looks();
        const waiting = track(pair.waiter.lock.wait?.(name, { waitMs: LONG_MS }) ?? Promise.resolve());
        await pause(100);
        expect(waiting.settled(), 'the wait returned while the lock was held').toBe(false);
        expect(pair.looks() - before, 'statements or scripts the wait sent').toBe(0);
        await held.releaseAll();
        await within(waiting.promise, 10_000, 'the waiter woke on the release');
      } finally {
        await pair.cleanup();
      }
    });
  }
});

describe('redis: the commit pushes the new record to the waiters it wakes', () => {
  /**
   * A store and a peer store (as in another process) on one new prefix; the peer's HGETALLs (record
   * reads) are counted. Everything is closed and deleted after `body`.
   */
  async function withPeer(
    body: (pair: {
      client: ReturnType<typeof openClient>;
      prefix: string;
      store: ReturnType<typeof createRedisStore>;
      peer: ReturnType<typeof createRedisStore>;
      reads: () => number;
    }) => Promise<void>,
  ): Promise<void> {
    const prefix = randomPrefix();
    const client = openClient();
    const peerClient = openClient();
    const { counted, calls } = countCalls(peerClient, ['hgetall']);
    const store = createRedisStore({ client, prefix });
    const peer = createRedisStore({ client: counted, prefix });
    try {
      await body({ client, prefix, store, peer, reads: calls });
    } finally {
      await Promise.all([store.close(), peer.close()]);
      await deletePrefix(client, prefix);
      await Promise.all([client.quit(), peerClient.quit()]);
    }
  }

  test('a woken waiter gets the new record from the message; the next read goes to Redis', async () => {
    await withPeer(async ({ client, prefix, store, peer, reads }) => {
      const record = await store.put(sampleRecord('T0000031'));
      const name = refreshLockName(record.chainKey);
      const lease = await store.lock.acquire(name, { ttlMs: LONG_MS, waitMs: 0 });
      const waiting = track(peer.lock.wait?.(name, { waitMs: LONG_MS }) ?? Promise.resolve());
      await subscribed(client, prefix);
      const stored = await store.compareAndSet(record.chainKey, record.version, {
        accessToken: 'xoxe.xoxb-1-pushed',
        expiresAt: 5,
        updatedAt: 5,
      });
      await within(waiting.promise, 10_000, 'the waiter woke on the commit');
      const before = reads();
      const woken = await peer.get(record.chainKey);
      expect(woken).toEqual(stored);
      expect(reads() - before, 'records read from Redis for the woken waiter').toBe(0);
      expect(await peer.get(record.chainKey)).toEqual(stored);
      expect(reads() - before, 'a later read is a read').toBe(1);
      await store.lock.release(lease);
    });
  });

  test('a commit nobody in the process waits for is not kept: a later get reads from Redis', async () => {
    await withPeer(async ({ client, prefix, store, peer, reads }) => {
      const record = await store.put(sampleRecord('T0000033'));
      // The peer listens (it waits on another lock), but not for this chain.
      const keeperLease = await store.lock.acquire('refresh:keeper', { ttlMs: LONG_MS, waitMs: 0 });
      const keeper = track(peer.lock.wait?.('refresh:keeper', { waitMs: LONG_MS }) ?? Promise.resolve());
      await subscribed(client, prefix);
      const stored = await store.compareAndSet(record.chainKey, record.version, {
        expiresAt: 7,
        updatedAt: 7,
      });
      await pause(100);
      const before = reads();
      expect(await peer.get(record.chainKey)).toEqual(stored);
      expect(reads() - before, 'the record was read, not taken from a message').toBe(1);
      await store.lock.release(keeperLease);
      await keeper.promise;
    });
  });

  test('a peer that read the record before a commit it heard sends no try: "held" at once, the wait returns, the re-read is the record the commit pushed', async () => {
    const prefix = randomPrefix();
    const client = openClient();
    const peerClient = openClient();
    // What the peer lock's subscriber (its client's duplicate) hears, recorded before the lock's own
    // listener runs.
    const peerHeard: string[] = [];
    const duplicate = peerClient.duplicate.bind(peerClient);
    Object.assign(peerClient, {
      duplicate: (...args: Parameters<typeof peerClient.duplicate>) => {
        const connection = duplicate(...args);
        connection.on('message', (_channel: string, message: string) => peerHeard.push(message));
        return connection;
      },
    });
    const reading = countCalls(peerClient, ['hgetall']);
    const trying = countCalls(reading.counted, ['evalsha', 'eval']);
    const store = createRedisStore({ client, prefix });
    const peer = createRedisStore({ client: trying.counted, prefix });
    try {
      const record = await store.put(sampleRecord('T0000034'));
      const name = refreshLockName(record.chainKey);
      // The peer listens (it waits on another lock) and reads the record: the chain is due.
      const keeperLease = await store.lock.acquire('refresh:keeper', { ttlMs: LONG_MS, waitMs: 0 });
      const keeper = track(peer.lock.wait?.('refresh:keeper', { waitMs: LONG_MS }) ?? Promise.resolve());
      await subscribed(client, prefix);
      expect((await peer.get(record.chainKey))?.version).toBe(record.version);
      // Meanwhile the holder refreshes (nobody in the peer waits on this lock) and releases.
      const lease = await store.lock.acquire(name, { ttlMs: LONG_MS, waitMs: 0 });
      const stored = await store.compareAndSet(record.chainKey, record.version, {
        accessToken: 'xoxe.xoxb-1-behind',
        expiresAt: 9,
        updatedAt: 9,
      });
      await store.lock.release(lease);
      await until(() => peerHeard.includes(name), 'the peer heard the release');
      const before = { reads: reading.calls(), tries: trying.calls() };
      // Behind, the peer now tries the lock its read said to take: it answers "held" without asking.
      await expect(peer.lock.acquire(name, { ttlMs: LONG_MS, waitMs: 0 })).rejects.toMatchObject({
        code: 'lock_timeout',
      });
      expect(trying.calls() - before.tries, 'scripts sent for the try').toBe(0);
      await within(
        peer.lock.wait?.(name, { waitMs: LONG_MS }) ?? Promise.resolve(),
        1_000,
        'the wait returned',
      );
      expect(await peer.get(record.chainKey)).toEqual(stored);
      expect(reading.calls() - before.reads, 'records read from Redis').toBe(0);
      // One such answer per read: the next try, after that re-read, asks (and the lock is free).
      const taken = await peer.lock.acquire(name, { ttlMs: LONG_MS, waitMs: 0 });
      await peer.lock.release(taken);
      await store.lock.release(keeperLease);
      await keeper.promise;
    } finally {
      await Promise.all([store.close(), peer.close()]);
      await deletePrefix(client, prefix);
      await Promise.all([client.quit(), peerClient.quit()]);
    }
  });

  test('a message whose record is unusable wakes the waiter, who then reads the record', async () => {
    await withPeer(async ({ client, prefix, store, peer, reads }) => {
      const record = await store.put(sampleRecord('T0000032'));
      const name = refreshLockName(record.chainKey);
      const waiting = track(peer.lock.wait?.(name, { waitMs: LONG_MS }) ?? Promise.resolve());
      await subscribed(client, prefix);
      await client.publish(`${prefix}:lock:released`, `${name}\n["not", "a record`);
      await within(waiting.promise, 10_000, 'the waiter woke on the message');
      const before = reads();
      expect(await peer.get(record.chainKey)).toEqual(record);
      expect(reads() - before).toBe(1);
    });
  });

  test('a commit over a corrupt field pushes nothing usable: the woken waiter reads, and is told which field', async () => {
    await withPeer(async ({ client, prefix, store, peer, reads }) => {
      const record = await store.put(sampleRecord('T0000034'));
      await client.hset(`${prefix}:chain:{${record.chainKey}}`, 'scopes', '[not json');
      const name = refreshLockName(record.chainKey);
      const lease = await store.lock.acquire(name, { ttlMs: LONG_MS, waitMs: 0 });
      const waiting = track(peer.lock.wait?.(name, { waitMs: LONG_MS }) ?? Promise.resolve());
      await subscribed(client, prefix);
      // The compare-and-set writes other fields and matches: it commits, and its message carries the bad one.
      await expect(
        store.compareAndSet(record.chainKey, record.version, { expiresAt: 9, updatedAt: 9 }),
      ).rejects.toThrow(/invalid scopes/);
      await within(waiting.promise, 10_000, 'the waiter woke on the commit');
      const before = reads();
      await expect(peer.get(record.chainKey)).rejects.toMatchObject({ code: 'record_invalid' });
      expect(reads() - before, 'the record was read, not taken from the message').toBe(1);
      await store.lock.release(lease);
    });
  });
});

describe('postgres: the commit carries the new record, sealed, to the waiters it wakes', () => {
  /** The rotation's update: a new pair, the intent cleared (what a refresh stores). */
  const rotation = (n: number) => ({
    accessToken: `xoxe.xoxb-1-sealed-${n}`,
    refreshToken: `xoxe-1-sealed-${n}`,
    expiresAt: 1_000 + n,
    refreshIntent: null,
    updatedAt: 1_000 + n,
  });

  /**
   * A holder store and a peer store (as in another process) on a new schema; the peer's pool
   * statements and its listening connection's statements are recorded, and a bare client LISTENs
   * on the lock channel as any role of the database could, keeping every payload it hears.
   */
  async function withPeer(
    body: (pair: {
      schema: string;
      store: ReturnType<typeof createPostgresStore>;
      peer: ReturnType<typeof createPostgresStore>;
      /** Statements the peer sent (its pool and its listening connection) that read chains. */
      reads: () => number;
      /** Payloads the bare listener heard. */
      heard: string[];
      /** Payloads the peer's listening connection heard. */
      peerHeard: string[];
      /** The peer listens (its lock waits on something). */
      listening: () => Promise<void>;
    }) => Promise<void>,
    prepare: (schema: string) => Promise<void> = async () => {},
    /** Wraps the peer's pool (its statements are still recorded). */
    wrapPeerPool: (pool: PostgresPool) => PostgresPool = (pool) => pool,
  ): Promise<void> {
    const schema = db.schema();
    await migrate(main, { schema });
    await prepare(schema);
    const counted = countingPool(second, 'SELECT * FROM');
    const listenPool = db.pool({ label: 'sealed' });
    const recorded = recordingListen(listenPool);
    const store = createPostgresStore({ pool: main, schema });
    const peer = createPostgresStore({ pool: wrapPeerPool(counted), schema, listen: recorded.listen });
    const bare = await db.pool({ label: 'bare' }).connect();
    const heard: string[] = [];
    bare.on('notification', (message: { payload?: string | undefined }) => {
      heard.push(message.payload ?? '');
    });
    await bare.query(`LISTEN "${tablesFor({ schema }).channel}"`);
    const chainReads = (statements: string[]) =>
      statements.filter((sql) => /SELECT \* FROM/.test(sql)).length;
    try {
      await body({
        schema,
        store,
        peer,
        reads: () => chainReads(counted.statements) + chainReads(recorded.statements),
        heard,
        peerHeard: recorded.heard,
        listening: () =>
          until(
            async () => (await listeners(db.admin, listenPool.applicationName)).length > 0,
            'the peer listens',
          ),
      });
    } finally {
      bare.release(true);
      await Promise.all([store.close(), peer.close()]);
      await db.dropSchema(schema);
    }
  }

  /**
   * Holds `record`'s refresh lock with `lease` (from `lockOf`, default the store's own), with the
   * peer waiting on it, and runs what a refresh does before it commits (the read, the intent).
   */
  async function holdAndPrepare(
    store: ReturnType<typeof createPostgresStore>,
    peer: ReturnType<typeof createPostgresStore>,
    listening: () => Promise<void>,
    record: TokenRecord,
    lockOf: Lock = store.lock,
  ) {
    const name = refreshLockName(record.chainKey);
    const lease = await lockOf.acquire(name, { ttlMs: LONG_MS, waitMs: 0 });
    const waiting = track(peer.lock.wait?.(name, { waitMs: LONG_MS }) ?? Promise.resolve());
    await listening();
    expect((await store.get(record.chainKey))?.version).toBe(record.version);
    const intent = { version: record.version, fingerprint: 'f'.repeat(64), startedAt: 1, deadlineAt: 2 };
    expect(await store.recordIntent(record.chainKey, record.version, intent)).toBe(true);
    return { name, lease, waiting };
  }

  /** The holder rotates `record`'s chain while the peer waits on it; returns what the holder stored. */
  async function rotateWhileWaiting(
    store: ReturnType<typeof createPostgresStore>,
    peer: ReturnType<typeof createPostgresStore>,
    listening: () => Promise<void>,
    record: TokenRecord,
    n: number,
    /** Runs once the waiter woke, before the release (whose message would replace the commit's). */
    woken: (stored: TokenRecord | undefined) => Promise<void> = async () => {},
  ): Promise<TokenRecord | undefined> {
    const { lease, waiting } = await holdAndPrepare(store, peer, listening, record);
    const stored = await store.compareAndSet(record.chainKey, record.version, rotation(n));
    await within(waiting.promise, 10_000, 'the waiter woke on the commit');
    await woken(stored);
    await store.lock.release(lease);
    return stored;
  }

  test('a woken waiter gets the new record from the message, no statement; the next get reads', async () => {
    await withPeer(async ({ store, peer, reads, listening }) => {
      const record = await store.put(sampleRecord('T0000041'));
      await rotateWhileWaiting(store, peer, listening, record, 1, async (stored) => {
        expect(stored?.version).toBe(record.version + 1);
        const before = reads();
        expect(await peer.get(record.chainKey)).toEqual(stored);
        expect(reads() - before, 'statements that read the record for the woken waiter').toBe(0);
        expect(await peer.get(record.chainKey)).toEqual(stored);
        expect(reads() - before, 'a later get is a read').toBe(1);
      });
    });
  });

  test('a peer that read the record before a commit it heard sends no try: "held" at once, the wait returns, the re-read is the record the message carried', async () => {
    const sent: string[] = [];
    const recordSent = (pool: PostgresPool): PostgresPool =>
      wrapPool(pool, ({ text }, send) => {
        sent.push(text);
        return send();
      });
    await withPeer(
      async ({ store, peer, reads, peerHeard, listening }) => {
        const record = await store.put(sampleRecord('T0000048'));
        const name = refreshLockName(record.chainKey);
        // The peer listens (it waits on another lock) and reads the record: the chain is due.
        const keeper = await store.lock.acquire(`${name}:keeper`, { ttlMs: LONG_MS, waitMs: 0 });
        const keeping = track(peer.lock.wait?.(`${name}:keeper`, { waitMs: LONG_MS }) ?? Promise.resolve());
        await listening();
        expect((await peer.get(record.chainKey))?.version).toBe(record.version);
        // Meanwhile the holder refreshes (nobody in the peer waits on this lock): its commit frees the
        // lock and its message reaches the peer.
        const lease = await store.lock.acquire(name, { ttlMs: LONG_MS, waitMs: 0 });
        expect((await store.get(record.chainKey))?.version).toBe(record.version);
        const intent = { version: record.version, fingerprint: 'f'.repeat(64), startedAt: 1, deadlineAt: 2 };
        expect(await store.recordIntent(record.chainKey, record.version, intent)).toBe(true);
        const stored = await store.compareAndSet(record.chainKey, record.version, rotation(8), {
          releasing: lease,
        });
        await until(
          () => peerHeard.some((payload) => payload.startsWith(`${name}\n`)),
          'the peer heard the commit',
        );
        const before = { reads: reads(), sent: sent.length };
        // Behind, the peer now tries the lock its read said to take: it answers "held" without asking.
        await expect(peer.lock.acquire(name, { ttlMs: LONG_MS, waitMs: 0 })).rejects.toMatchObject({
          code: 'lock_timeout',
        });
        expect(sent.slice(before.sent), 'statements of the try').toEqual([]);
        await within(
          peer.lock.wait?.(name, { waitMs: LONG_MS }) ?? Promise.resolve(),
          1_000,
          'the wait returned',
        );
        expect(await peer.get(record.chainKey)).toEqual(stored);
        expect(reads() - before.reads, 'statements that read the record').toBe(0);
        // One such answer per read: the next try, after that re-read, asks (and the lock is free).
        const taken = await peer.lock.acquire(name, { ttlMs: LONG_MS, waitMs: 0 });
        await peer.lock.release(taken);
        await store.lock.release(keeper);
        await keeping.promise;
      },
      async () => {},
      recordSent,
    );
  });

  test('a message heard while the key still loads waits for the key, not for a re-read', async () => {
    // The peer's key load (started as its connection starts listening) takes 500 ms: the commit's
    // message arrives first, and the woken get waits for the key rather than reading the record.
    const slowKey = (pool: PostgresPool): PostgresPool =>
      wrapPool(pool, async ({ text }, send) => {
        if (text.includes('message_key')) await new Promise((resolve) => setTimeout(resolve, 500));
        return send();
      });
    await withPeer(
      async ({ store, peer, reads, listening }) => {
        const record = await store.put(sampleRecord('T0000046'));
        await rotateWhileWaiting(store, peer, listening, record, 1, async (stored) => {
          const before = reads();
          expect(await peer.get(record.chainKey)).toEqual(stored);
          expect(reads() - before, 'statements that read the record for the woken waiter').toBe(0);
        });
      },
      undefined,
      slowKey,
    );
  });

  /** The payloads the bare listener heard about `name`, once a later message shows all came in. */
  async function heardAbout(schema: string, heard: string[], name: string): Promise<string[]> {
    const mark = `sentinel-${heard.length}`;
    await main.query('SELECT pg_notify($1, $2)', [tablesFor({ schema }).channel, mark]);
    await until(() => heard.includes(mark), 'the bare listener heard the sentinel');
    return heard.filter((payload) => payload === name || payload.startsWith(`${name}\n`));
  }

  test('a compare-and-set given the holder’s lease releases it in the same statement: one message, and the release sends nothing', async () => {
    await withPeer(async ({ schema, store, peer, heard, listening }) => {
      const record = await store.put(sampleRecord('T0000047'));
      const { name, lease, waiting } = await holdAndPrepare(store, peer, listening, record);
      const stored = await store.compareAndSet(record.chainKey, record.version, rotation(5), {
        releasing: lease,
      });
      expect(stored?.version).toBe(record.version + 1);
      await within(waiting.promise, 10_000, 'the waiter woke on the commit');
      // The lock is free as the commit is: the peer takes it before the holder calls release.
      const taken = await peer.lock.acquire(name, { ttlMs: LONG_MS, waitMs: 0 });
      await store.lock.release(lease);
      expect(await heardAbout(schema, heard, name), 'the commit alone').toHaveLength(1);
      // The holder's release sent nothing: the peer's lease is still held.
      await expect(store.lock.acquire(name, { ttlMs: LONG_MS, waitMs: 0 })).rejects.toMatchObject({
        code: 'lock_timeout',
      });
      await peer.lock.release(taken);
    });
  });

  test('a compare-and-set that does not match keeps the holder’s lease, and its release then frees the lock', async () => {
    await withPeer(async ({ schema, store, peer, heard, listening }) => {
      const record = await store.put(sampleRecord('T0000048'));
      const { name, lease } = await holdAndPrepare(store, peer, listening, record);
      const missed = await store.compareAndSet(record.chainKey, record.version + 1, rotation(6), {
        releasing: lease,
      });
      expect(missed).toBeUndefined();
      await expect(peer.lock.acquire(name, { ttlMs: LONG_MS, waitMs: 0 })).rejects.toMatchObject({
        code: 'lock_timeout',
      });
      await store.lock.release(lease);
      expect(await heardAbout(schema, heard, name), 'the release').toEqual([name]);
      await peer.lock.release(await peer.lock.acquire(name, { ttlMs: LONG_MS, waitMs: 0 }));
    });
  });

  test('a lease from a lock that is not the store’s own is left alone', async () => {
    await withPeer(async ({ schema, store, peer, listening }) => {
      const record = await store.put(sampleRecord('T0000049'));
      // Another lock on the same table (as another store object would have): its lease is not one
      // the store's lock gave out, so the store does not delete it.
      const other = createPostgresLock({ pool: main, schema, listen: false });
      const { name, lease } = await holdAndPrepare(store, peer, listening, record, other);
      expect(
        await store.compareAndSet(record.chainKey, record.version, rotation(7), { releasing: lease }),
      ).toMatchObject({
        version: record.version + 1,
      });
      await expect(peer.lock.acquire(name, { ttlMs: LONG_MS, waitMs: 0 })).rejects.toMatchObject({
        code: 'lock_timeout',
      });
      await other.release(lease);
      await other.close?.();
    });
  });

  test('the message holds no token in the clear: a bare LISTEN of any role sees the name and a sealed blob', async () => {
    await withPeer(async ({ store, peer, heard, listening }) => {
      const record = await store.put(sampleRecord('T0000042'));
      await rotateWhileWaiting(store, peer, listening, record, 2);
      const name = refreshLockName(record.chainKey);
      await until(
        () => heard.some((payload) => payload.startsWith(`${name}\n`)),
        'the bare listener heard it',
      );
      const commit = heard.find((payload) => payload.startsWith(`${name}\n`)) as string;
      expect(commit).toMatch(/^[^\n]+\n[0-9a-f]{16}\.[A-Za-z0-9+/]+=*$/);
      for (const secret of [rotation(2).accessToken, rotation(2).refreshToken, record.refreshToken]) {
        expect(commit.includes(secret)).toBe(false);
        expect(
          Buffer.from(commit.split('.')[1] ?? '', 'base64')
            .toString('latin1')
            .includes(secret),
        ).toBe(false);
      }
    });
  });

  test('a sealed record replayed under another chain’s name does not open: that waiter reads its own record', async () => {
    await withPeer(async ({ schema, store, peer, reads, heard, listening }) => {
      const [first, other] = await Promise.all(
        ['T0000043', 'T0000044'].map((id) => store.put(sampleRecord(id))),
      );
      if (first === undefined || other === undefined) throw new Error('no records');
      await rotateWhileWaiting(store, peer, listening, first, 3);
      const firstName = refreshLockName(first.chainKey);
      await until(() => heard.some((p) => p.startsWith(`${firstName}\n`)), 'heard');
      const sealed = (heard.find((p) => p.startsWith(`${firstName}\n`)) as string).split('\n')[1];
      const otherName = refreshLockName(other.chainKey);
      const waiting = track(peer.lock.wait?.(otherName, { waitMs: LONG_MS }) ?? Promise.resolve());
      await main.query('SELECT pg_notify($1, $2)', [
        tablesFor({ schema }).channel,
        `${otherName}\n${sealed}`,
      ]);
      await within(waiting.promise, 10_000, 'the replay woke the waiter');
      const before = reads();
      expect(await peer.get(other.chainKey)).toEqual(other);
      expect(reads() - before, 'the waiter read its record').toBe(1);
    });
  });

  test('without the key (its table gone) commits carry the name alone, and woken waiters read the record', async () => {
    await withPeer(
      async ({ store, peer, reads, heard, listening }) => {
        const record = await store.put(sampleRecord('T0000045'));
        const stored = await rotateWhileWaiting(store, peer, listening, record, 4);
        const name = refreshLockName(record.chainKey);
        await until(() => heard.length === 2, 'heard the commit and the release');
        expect(heard.filter((payload) => payload.startsWith(name))).toEqual([name, name]);
        const before = reads();
        expect(await peer.get(record.chainKey)).toEqual(stored);
        expect(reads() - before, 'the woken waiter read the record').toBe(1);
      },
      async (schema) => {
        await main.query(`DROP TABLE "${schema}".slack_rotator_message_key`);
      },
    );
  });

  test('a chain deleted and put again by another process (version 1 again) is not sealed from the record known before', async () => {
    await withPeer(async ({ store, peer, reads, heard, listening }) => {
      const record = await store.put(sampleRecord('T0000047'));
      expect(record.version).toBe(1);
      const name = refreshLockName(record.chainKey);
      // Another process deletes the chain and installs it again: version 1, another pair, created later.
      await peer.delete({ chainKey: record.chainKey });
      const again = await peer.put({
        ...sampleRecord('T0000047'),
        accessToken: 'xoxe.xoxb-1-again',
        createdAt: record.createdAt + 1,
      });
      expect(again.version).toBe(1);
      const lease = await store.lock.acquire(name, { ttlMs: LONG_MS, waitMs: 0 });
      const waiting = track(peer.lock.wait?.(name, { waitMs: LONG_MS }) ?? Promise.resolve());
      await listening();
      const intent = { version: 1, fingerprint: 'f'.repeat(64), startedAt: 1, deadlineAt: 2 };
      expect(await store.recordIntent(record.chainKey, 1, intent)).toBe(true);
      // The holder sets from version 1 without reading again (the store's contract allows it).
      const stored = await store.compareAndSet(record.chainKey, 1, rotation(7));
      await within(waiting.promise, 10_000, 'woken');
      await until(() => heard.length > 0, 'the bare listener heard the commit');
      expect(heard, 'the commit carried the name alone').toEqual([name]);
      const before = reads();
      expect(await peer.get(record.chainKey)).toEqual(stored);
      expect(stored?.createdAt).toBe(record.createdAt + 1);
      expect(reads() - before).toBe(1);
      await store.lock.release(lease);
    });
  });

  test('an update that leaves the refresh intent as it is carries the name alone (the intent may have moved)', async () => {
    await withPeer(async ({ store, peer, reads, heard, listening }) => {
      const record = await store.put(sampleRecord('T0000046'));
      const name = refreshLockName(record.chainKey);
      const lease = await store.lock.acquire(name, { ttlMs: LONG_MS, waitMs: 0 });
      const waiting = track(peer.lock.wait?.(name, { waitMs: LONG_MS }) ?? Promise.resolve());
      await listening();
      const stored = await store.compareAndSet(record.chainKey, record.version, {
        expiresAt: 5,
        updatedAt: 5,
      });
      await within(waiting.promise, 10_000, 'woken');
      await until(() => heard.length > 0, 'the bare listener heard the commit');
      expect(heard).toEqual([name]);
      const before = reads();
      expect(await peer.get(record.chainKey)).toEqual(stored);
      expect(reads() - before).toBe(1);
      await store.lock.release(lease);
    });
  });
});

describe('postgres: waiters look at the lease on the listening connection', () => {
  test('once the connection listens, the waiters’ looks go there (batched), none through the pool', async () => {
    const schema = db.schema();
    await migrate(main, { schema });
    const counted = countingPool(second, 'holder_remaining_ms');
    const listenPool = db.pool({ label: 'looks' });
    const { listen, statements: onListen } = recordingListen(listenPool);
    const looks = (statements: string[]) => statements.filter((sql) => sql.includes('holder_remaining_ms'));
    const holder = createPostgresStore({ pool: main, schema });
    // Waiters look again every 200 ms while the lease is held (the safety recheck).
    const waiter = createPostgresStore({
      pool: counted,
      schema,
      listen,
      lockRecheckMs: 200,
    });
    try {
      const names = ['refresh:A1:T1:bot', 'refresh:A1:T2:bot', 'refresh:A1:T3:bot'];
      const leases = await Promise.all(
        names.map((name) => holder.lock.acquire(name, { ttlMs: LONG_MS, waitMs: 0 })),
      );
      const waits = names.map((name) =>
        track(waiter.lock.wait?.(name, { waitMs: LONG_MS }) ?? Promise.resolve()),
      );
      await until(
        async () => (await listeners(db.admin, listenPool.applicationName)).length > 0,
        'listening',
      );
      await until(() => looks(onListen).length > 0, 'a look on the listening connection');
      const throughPool = looks(counted.statements).length;
      const onConnection = looks(onListen).length;
      await pause(700);
      expect(looks(counted.statements).length, 'looks through the pool once listening').toBe(throughPool);
      expect(looks(onListen).length, 'looks on the listening connection').toBeGreaterThan(onConnection);
      expect(looks(onListen).every((sql) => sql.includes('= ANY('))).toBe(true);
      expect(
        waits.some((w) => w.settled()),
        'a wait returned while its lock was held',
      ).toBe(false);
      await Promise.all(leases.map((lease) => holder.lock.release(lease)));
      await within(Promise.all(waits.map((w) => w.promise)), 10_000, 'every waiter woke on the releases');
    } finally {
      await Promise.all([holder.close(), waiter.close()]);
      await db.dropSchema(schema);
    }
  });
});
