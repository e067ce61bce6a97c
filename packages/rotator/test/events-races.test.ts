import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import type { RotatorEventName, RotatorEvents } from '../src/events.js';
import { createLocalLock } from '../src/lock/local.js';
import type { Lock } from '../src/lock/types.js';
import { createPostgresStore, migrate } from '../src/postgres.js';
import type { Rotator } from '../src/rotator.js';
import { tablesFor } from '../src/store/postgres-pool.js';
import { createTestDatabase, type TestDatabase, type TestPool } from './helpers/postgres.js';
import { assertNoTokens, type Harness, harness, refreshCalls, rejection } from './helpers/setup.js';

/** A clock that moves only when told. */
function manualClock(start = Date.now()) {
  let at = start;
  return { now: () => at, advance: (ms: number) => void (at += ms) };
}

const NAMES: RotatorEventName[] = [
  'refreshed',
  'refresh-failed',
  'reauthorization_required',
  'lock-acquired',
  'peer-refreshed',
  'cas-conflict',
  'race-recovered',
];

/** Every event a rotator emits, in order, by name. */
function record(rotator: Rotator) {
  const seen: { name: RotatorEventName; event: RotatorEvents[RotatorEventName] }[] = [];
  for (const name of NAMES) rotator.on(name, (event) => seen.push({ name, event }));
  return {
    seen,
    names: () => seen.map((s) => s.name),
    of: <E extends RotatorEventName>(name: E) =>
      seen.filter((s) => s.name === name).map((s) => s.event as RotatorEvents[E]),
  };
}

/** `lock`, but `onWait` is called as soon as a caller starts waiting for a held lock. */
function watchedLock(lock: Lock, onWait: () => void): Lock {
  const watched: Lock = {
    acquire: (name, options) => {
      const pending = lock.acquire(name, options);
      if (options.waitMs > 0) onWait();
      return pending;
    },
    release: (lease) => lock.release(lease),
    renew: (lease, ttlMs) => lock.renew(lease, ttlMs),
  };
  if (lock.wait !== undefined) {
    const wait = lock.wait.bind(lock);
    watched.wait = (name, options) => {
      const pending = wait(name, options);
      onWait();
      return pending;
    };
  }
  return watched;
}

let h: Harness;
afterEach(async () => {
  await h?.close();
});

/**
 * A holds the refresh lock while its request is at Slack; B asks for the same chain meanwhile and
 * waits; the shared clock moves 5 s while B waits.
 */
async function contend(lock: Lock, clock: ReturnType<typeof manualClock>) {
  let b!: Rotator;
  let bDone: Promise<string> | undefined;
  const a = h.another({
    lock,
    now: clock.now,
    fetch: async (url, init) => {
      if (String(url).endsWith('oauth.v2.access') && bDone === undefined) {
        const waiting = new Promise<void>((resolve) => {
          b = h.another({ lock: watchedLock(lock, resolve), now: clock.now });
          bEvents = record(b);
          bDone = b.getToken({ teamId: 'T1' });
        });
        await waiting;
        clock.advance(5_000);
      }
      return fetch(url, init);
    },
  });
  let bEvents!: ReturnType<typeof record>;
  const aEvents = record(a);
  const aToken = await a.getToken({ teamId: 'T1' });
  const bToken = await (bDone as Promise<string>);
  expect(bToken === aToken).toBe(true);
  expect(refreshCalls(h.slack)).toBe(1);
  return { aEvents, bEvents };
}

describe('lock events', () => {
  test('lock-acquired: 0 ms for the holder, the time spent waiting for a waiter that then takes the lock', async () => {
    const clock = manualClock();
    h = await harness({ rotator: { now: clock.now } });
    await h.installWith({ teamId: 'T1' }, 0);
    const { aEvents, bEvents } = await contend(createLocalLock(), clock);
    expect(aEvents.names()).toEqual(['lock-acquired', 'refreshed']);
    expect(aEvents.of('lock-acquired')[0]).toMatchObject({ teamId: 'T1', kind: 'bot', waitedMs: 0 });
    // A lock without `wait`: B queues on the lock, takes it after A, and finds the chain fresh.
    expect(bEvents.names()).toEqual(['lock-acquired']);
    expect(bEvents.of('lock-acquired')[0]).toMatchObject({ teamId: 'T1', kind: 'bot', waitedMs: 5_000 });
    assertNoTokens([], [...aEvents.seen, ...bEvents.seen]);
  });

  describe('on PostgreSQL (a lock with wait)', () => {
    let db: TestDatabase;
    let pool: TestPool;
    beforeAll(async () => {
      db = await createTestDatabase('events');
      pool = db.pool();
    });
    afterAll(async () => {
      await db?.drop();
    });

    async function postgresHarness(clock: ReturnType<typeof manualClock>) {
      const schema = db.schema();
      await migrate(pool, { schema });
      h = await harness({ store: createPostgresStore({ pool, schema }), rotator: { now: clock.now } });
      return schema;
    }

    test('peer-refreshed: a waiter served by the holder never takes the lock', async () => {
      const clock = manualClock();
      await postgresHarness(clock);
      await h.installWith({ teamId: 'T1' }, 0);
      const lock = (h.store as { lock?: Lock }).lock as Lock;
      expect(typeof lock.wait).toBe('function');
      const { aEvents, bEvents } = await contend(lock, clock);
      expect(aEvents.names()).toEqual(['lock-acquired', 'refreshed']);
      expect(bEvents.names()).toEqual(['peer-refreshed']);
      expect(bEvents.of('peer-refreshed')[0]).toMatchObject({ teamId: 'T1', kind: 'bot', waitedMs: 5_000 });
    });

    test('refresh-failed carries the StorageError of a store that fails mid-refresh', async () => {
      const schema = await postgresHarness(manualClock());
      const [chainKey] = (await h.installWith({ teamId: 'T1' }, 0)) as [string];
      const chains = tablesFor({ schema }).chains;
      const a = h.another({
        fetch: async (url, init) => {
          const answer = await fetch(url, init);
          // The compare-and-set that follows finds no table.
          await pool.query(`ALTER TABLE ${chains} RENAME TO gone`);
          return answer;
        },
      });
      const events = record(a);
      const error = await rejection(a.refresh({ teamId: 'T1' }));
      await pool.query(`ALTER TABLE "${schema}".gone RENAME TO ${chains.split('.')[1]}`);
      expect((error as Error).name).toBe('StorageError');
      expect(events.names()).toEqual(['lock-acquired', 'refresh-failed']);
      const failed = events.of('refresh-failed')[0];
      expect(failed?.chainKey).toBe(chainKey);
      expect(failed?.error.name).toBe('StorageError');
      expect(failed?.error.code).toBe('store_failed');
    });
  });
});

/**
 * Two rotators on one store, each with its own lock, so both get past it: while A's request for
 * the chain is at Slack, B refreshes the same chain with the same refresh token first.
 */
async function race() {
  const [chainKey] = (await h.installWith({ teamId: 'T1' }, 0)) as [string];
  const b = h.another({ lock: createLocalLock() });
  const bEvents = record(b);
  let raced = false;
  const a = h.another({
    fetch: async (url, init) => {
      if (String(url).endsWith('oauth.v2.access') && !raced) {
        raced = true;
        await b.refresh({ teamId: 'T1' }, { force: true });
      }
      return fetch(url, init);
    },
  });
  const aEvents = record(a);
  return { chainKey, a, aEvents, bEvents };
}

describe('race events', () => {
  test('cas-conflict and race-recovered (adopted_winner): the loser serves the winner and keeps its pair as the sibling', async () => {
    h = await harness({ slack: { refreshGraceMs: 60_000 } });
    const { chainKey, a, aEvents, bEvents } = await race();
    const token = await a.getToken({ teamId: 'T1' });
    const stored = await h.store.get(chainKey);
    expect(token === stored?.accessToken).toBe(true);
    expect(stored?.fallbackRefreshToken).not.toBeNull();
    expect(bEvents.names()).toEqual(['lock-acquired', 'refreshed']);
    expect(aEvents.names()).toEqual(['lock-acquired', 'cas-conflict', 'race-recovered', 'refreshed']);
    expect(aEvents.of('cas-conflict')[0]).toMatchObject({ chainKey, operation: 'commit' });
    expect(aEvents.of('race-recovered')[0]).toMatchObject({ chainKey, how: 'adopted_winner' });
    assertNoTokens([], [...aEvents.seen, ...bEvents.seen]);
  });

  test('race-recovered (sibling_fallback): the sibling kept from a race refreshes a chain whose token Slack refuses', async () => {
    const clock = manualClock();
    h = await harness({ slack: { refreshGraceMs: 1_000, siblingSurvivor: 'last', now: clock.now } });
    const { chainKey, a, aEvents } = await race();
    await a.getToken({ teamId: 'T1' });
    // Past the grace period Slack keeps A's (the last) pair: the stored one, B's, is dead.
    clock.advance(2_000);
    const info = await a.refresh({ teamId: 'T1' }, { force: true });
    expect(h.slack.peekAccessToken(info.token)).toBe('active');
    expect((await h.store.get(chainKey))?.status).toBe('active');
    expect(aEvents.of('race-recovered').map((e) => e.how)).toEqual(['adopted_winner', 'sibling_fallback']);
    expect(aEvents.of('reauthorization_required')).toHaveLength(0);
  });

  test('race-recovered (peer_rotated): Slack refuses the spent token, and the peer had stored a new pair', async () => {
    h = await harness({ slack: { refreshGraceMs: 0 } });
    const { chainKey, a, aEvents, bEvents } = await race();
    const token = await a.getToken({ teamId: 'T1' });
    expect(token === (await h.store.get(chainKey))?.accessToken).toBe(true);
    expect(bEvents.names()).toEqual(['lock-acquired', 'refreshed']);
    expect(aEvents.names()).toEqual(['lock-acquired', 'race-recovered']);
    expect(aEvents.of('race-recovered')[0]).toMatchObject({ chainKey, how: 'peer_rotated' });
  });
});
