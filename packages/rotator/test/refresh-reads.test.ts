// How many times a refreshing call reads the store. The call's own first read decides that the chain
// is due; the refresh engine takes it as its first look (it used to read again) and reads once more
// under the lock, where it counts.
import { describe, expect, test } from 'vitest';
import { createMemoryStore } from '../src/store/memory.js';
import type { TokenStore } from '../src/store/types.js';
import { harness, refreshCalls } from './helpers/setup.js';

function countingGets(store: TokenStore & { lock: NonNullable<TokenStore['lock']> }) {
  let gets = 0;
  const counted: TokenStore = {
    ...store,
    lock: store.lock,
    get(chainKey) {
      gets += 1;
      return store.get(chainKey);
    },
  };
  return { counted, gets: () => gets };
}

describe('store reads of a refreshing call', () => {
  test('getToken on a due chain reads it twice: its first read and the one under the lock', async () => {
    const { counted, gets } = countingGets(createMemoryStore());
    const h = await harness({ store: counted });
    try {
      await h.installWith({ teamId: 'T1' }, 0);
      const fresh = h.another({ cacheTtlMs: 0 });
      const before = gets();
      await fresh.getToken({ teamId: 'T1' });
      expect(refreshCalls(h.slack)).toBe(1);
      expect(gets() - before).toBe(2);
    } finally {
      await h.close();
    }
  });

  test('refresh() reads twice as well; a chain that is not due is read once', async () => {
    const { counted, gets } = countingGets(createMemoryStore());
    const h = await harness({ store: counted });
    try {
      await h.installWith({ teamId: 'T1' });
      const fresh = h.another({ cacheTtlMs: 0 });
      let before = gets();
      await fresh.getToken({ teamId: 'T1' });
      expect(gets() - before, 'a chain that is not due').toBe(1);
      before = gets();
      await fresh.refresh({ teamId: 'T1' }, { force: true });
      expect(refreshCalls(h.slack)).toBe(1);
      expect(gets() - before, 'a forced refresh').toBe(2);
    } finally {
      await h.close();
    }
  });
});
