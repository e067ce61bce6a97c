import { afterEach, describe, expect, test } from 'vitest';
import { expireSoon, type Harness, harness, refreshCalls } from './helpers/setup.js';

let h: Harness;
afterEach(async () => {
  await h?.close();
});

describe('refresh(key, { ifToken })', () => {
  test('refreshes a token that is still stored, though not due', async () => {
    h = await harness();
    const [chainKey] = (await h.installWith({ teamId: 'T1' })) as [string];
    const failed = (await h.store.get(chainKey))?.accessToken as string;
    const info = await h.rotator.refresh({ teamId: 'T1' }, { ifToken: failed });
    expect(info.token === failed).toBe(false);
    expect(refreshCalls(h.slack)).toBe(1);
    expect(info.token === (await h.store.get(chainKey))?.accessToken).toBe(true);
  });

  test('concurrent reports of the same token cause exactly one refresh, and all get the new token', async () => {
    h = await harness({ slack: { latencyMs: 50 } });
    const [chainKey] = (await h.installWith({ teamId: 'T1' })) as [string];
    const failed = (await h.store.get(chainKey))?.accessToken as string;
    const results = await Promise.all(
      Array.from({ length: 5 }, () => h.rotator.refresh({ teamId: 'T1' }, { ifToken: failed })),
    );
    expect(refreshCalls(h.slack)).toBe(1);
    const stored = (await h.store.get(chainKey))?.accessToken;
    expect(results.every((r) => r.token === stored && r.token !== failed)).toBe(true);
  });

  test('two rotators (two processes in miniature) reporting the same token refresh once', async () => {
    h = await harness({ slack: { latencyMs: 50 } });
    const [chainKey] = (await h.installWith({ teamId: 'T1' })) as [string];
    const failed = (await h.store.get(chainKey))?.accessToken as string;
    const other = h.another();
    const [a, b] = await Promise.all([
      h.rotator.refresh({ teamId: 'T1' }, { ifToken: failed }),
      other.refresh({ teamId: 'T1' }, { ifToken: failed }),
    ]);
    expect(refreshCalls(h.slack)).toBe(1);
    expect(a.token === b.token).toBe(true);
  });

  test('a report of a token already replaced returns the current token without refreshing', async () => {
    h = await harness();
    const [chainKey] = (await h.installWith({ teamId: 'T1' })) as [string];
    const old = (await h.store.get(chainKey))?.accessToken as string;
    const fresh = await h.rotator.refresh({ teamId: 'T1' }, { ifToken: old });
    const again = await h.rotator.refresh({ teamId: 'T1' }, { ifToken: old });
    expect(refreshCalls(h.slack)).toBe(1);
    expect(again.token === fresh.token).toBe(true);
  });

  test('a report of a replaced token, when the current one is due, gets a refreshed token', async () => {
    h = await harness();
    const [chainKey] = (await h.installWith({ teamId: 'T1' })) as [string];
    const old = (await h.store.get(chainKey))?.accessToken as string;
    const current = await h.rotator.refresh({ teamId: 'T1' }, { ifToken: old });
    await expireSoon(h.store, chainKey, 1_000);
    const served = await h.rotator.refresh({ teamId: 'T1' }, { ifToken: old });
    expect(refreshCalls(h.slack)).toBe(2);
    expect(served.token === current.token).toBe(false);
    expect(served.expiresAt).toBeGreaterThan(Date.now() + h.lifetimeMs / 2);
  });

  test('an ifToken that is not a non-empty string is a TypeError', async () => {
    h = await harness();
    await h.installWith({ teamId: 'T1' });
    await expect(h.rotator.refresh({ teamId: 'T1' }, { ifToken: '' })).rejects.toMatchObject({
      name: 'TypeError',
      code: 'ERR_INVALID_ARG_TYPE',
    });
    expect(refreshCalls(h.slack)).toBe(0);
  });
});
