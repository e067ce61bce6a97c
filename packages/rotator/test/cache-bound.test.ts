import { afterEach, describe, expect, test } from 'vitest';
import { createMemoryStore } from '../src/store/memory.js';
import type { TokenStore } from '../src/store/types.js';
import { type Harness, harness } from './helpers/setup.js';

let h: Harness;
afterEach(async () => {
  await h?.close();
});

/** A memory store that counts reads, so a test can tell a cache hit from a store read. */
function countingStore(): TokenStore & { reads: number } {
  const inner = createMemoryStore();
  const counted = {
    ...inner,
    reads: 0,
    get(chainKey: string) {
      counted.reads++;
      return inner.get(chainKey);
    },
  };
  return counted;
}

describe('the token cache is bounded', () => {
  test('beyond cacheMaxEntries the oldest chains are dropped and read again; the newest stay cached', async () => {
    const store = countingStore();
    h = await harness({ store, rotator: { cacheMaxEntries: 4 } });
    const teams = Array.from({ length: 10 }, (_, i) => `T${i}`);
    for (const teamId of teams) await h.installWith({ teamId });
    const tokens = new Map<string, string>();
    for (const teamId of teams) tokens.set(teamId, await h.rotator.getToken({ teamId }));

    const before = store.reads;
    expect(await h.rotator.getToken({ teamId: 'T9' })).toBe(tokens.get('T9'));
    expect(store.reads).toBe(before);

    expect(await h.rotator.getToken({ teamId: 'T0' })).toBe(tokens.get('T0'));
    expect(store.reads).toBeGreaterThan(before);
  });

  test('an unbounded number of chains touched once (as a sweeper does) leaves at most cacheMaxEntries keys', async () => {
    const store = countingStore();
    h = await harness({ store, rotator: { cacheMaxEntries: 3 } });
    const teams = Array.from({ length: 8 }, (_, i) => `T${i}`);
    for (const teamId of teams) await h.installWith({ teamId });
    for (const teamId of teams) await h.rotator.getTokenInfo({ teamId });
    // Every early chain was evicted: asking again reads each from the store.
    const before = store.reads;
    for (const teamId of teams.slice(0, 5)) await h.rotator.getToken({ teamId });
    expect(store.reads - before).toBeGreaterThanOrEqual(5);
  });

  test('cacheMaxEntries must be a positive integer', async () => {
    h = await harness();
    expect(() => h.another({ cacheMaxEntries: 0 })).toThrow(/cacheMaxEntries must be a positive integer/);
    expect(() => h.another({ cacheMaxEntries: 1.5 })).toThrow(TypeError);
  });
});
