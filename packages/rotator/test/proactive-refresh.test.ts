import { afterEach, describe, expect, test } from 'vitest';
import { type Harness, harness, refreshCalls } from './helpers/setup.js';

let h: Harness;
afterEach(async () => {
  await h?.close();
});

const until = async (check: () => boolean | Promise<boolean>, timeoutMs = 5_000) => {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not reached');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
};

describe('proactive refresh', () => {
  test('a token inside the window is served at once and refreshed behind the caller', async () => {
    h = await harness({ lifetimeMs: 60_000 });
    const [chainKey] = (await h.installWith({ teamId: 'T1' }, 14_000)) as [string];
    const before = await h.store.get(chainKey);
    const token = await h.rotator.getToken({ teamId: 'T1' });
    expect(token === before?.accessToken).toBe(true);
    await until(async () => (await h.store.get(chainKey))?.version !== before?.version);
    expect(refreshCalls(h.slack)).toBe(1);
    const next = await h.rotator.getToken({ teamId: 'T1' });
    expect(next === before?.accessToken).toBe(false);
  });

  test('a token outside the window is not refreshed', async () => {
    h = await harness({ lifetimeMs: 60_000 });
    await h.installWith({ teamId: 'T1' }, 50_000);
    await h.rotator.getToken({ teamId: 'T1' });
    await h.rotator.getTokenInfo({ teamId: 'T1' });
    await h.rotator.refresh({ teamId: 'T1' });
    expect(refreshCalls(h.slack)).toBe(0);
  });

  test('minValidityMs makes the caller wait for a token that lasts long enough', async () => {
    h = await harness({ lifetimeMs: 60_000 });
    const [chainKey] = (await h.installWith({ teamId: 'T1' }, 14_000)) as [string];
    const before = await h.store.get(chainKey);
    const info = await h.rotator.getTokenInfo({ teamId: 'T1' }, { minValidityMs: 20_000 });
    expect(info.token === before?.accessToken).toBe(false);
    expect(info.expiresAt - Date.now()).toBeGreaterThan(20_000);
  });

  test('refresh({ force: true }) rotates a fresh chain once; concurrent forces share it', async () => {
    h = await harness();
    await h.installWith({ teamId: 'T1' });
    const results = await Promise.all([
      h.rotator.refresh({ teamId: 'T1' }, { force: true }),
      h.rotator.refresh({ teamId: 'T1' }, { force: true }),
    ]);
    expect(refreshCalls(h.slack)).toBe(1);
    expect(results[0]?.token === results[1]?.token).toBe(true);
  });
});

describe('sweeper', () => {
  test('sweep() refreshes quiet chains that are due and leaves the rest', async () => {
    h = await harness({ lifetimeMs: 60_000 });
    for (let i = 0; i < 12; i++) await h.installWith({ teamId: `T${i}` }, i < 8 ? 5_000 : 50_000);
    const result = await h.rotator.sweep({ concurrency: 3 });
    expect(result).toEqual({ checked: 8, refreshed: 8, failed: 0 });
    expect(refreshCalls(h.slack)).toBe(8);
    const again = await h.rotator.sweep();
    expect(again.refreshed).toBe(0);
  });

  test('sweep() counts failures without stopping', async () => {
    h = await harness({ lifetimeMs: 60_000, slack: { refreshGraceMs: 0 } });
    const [dead] = (await h.installWith({ teamId: 'T0' }, 1_000)) as [string];
    await h.installWith({ teamId: 'T1' }, 1_000);
    h.slack.revokeChain((await h.store.get(dead))?.refreshToken as string);
    const result = await h.rotator.sweep({ concurrency: 1 });
    expect(result).toEqual({ checked: 2, refreshed: 1, failed: 1 });
    expect((await h.store.get(dead))?.status).toBe('reauthorization_required');
  });

  test('startSweeper() keeps a workspace that nobody uses rotating', async () => {
    h = await harness({ lifetimeMs: 2_000 });
    const [chainKey] = (await h.installWith({ teamId: 'T1' })) as [string];
    const sweeper = h.rotator.startSweeper({ intervalMs: 100 });
    await new Promise((resolve) => setTimeout(resolve, 4_500));
    await sweeper.stop();
    const chain = h.slack.chains()[0];
    expect(chain?.rotations).toBeGreaterThanOrEqual(2);
    expect(chain?.duplicates).toBe(0);
    const record = await h.store.get(chainKey);
    expect(h.slack.peekAccessToken(record?.accessToken as string)).toBe('active');
  });
});
