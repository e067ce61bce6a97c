import { afterEach, describe, expect, test } from 'vitest';
import { type Harness, harness, refreshCalls } from './helpers/setup.js';

describe('single-flight refresh', () => {
  let h: Harness;
  afterEach(async () => {
    await h?.close();
  });

  test('1,000 concurrent getToken calls on one expiring chain make exactly one refresh at Slack', async () => {
    h = await harness({ slack: { latencyMs: 30 } });
    const [chainKey] = (await h.installWith({ teamId: 'T1' }, 0)) as [string];
    const before = (await h.store.get(chainKey))?.accessToken;

    const tokens = await Promise.all(
      Array.from({ length: 1000 }, () => h.rotator.getToken({ teamId: 'T1' })),
    );

    expect(refreshCalls(h.slack)).toBe(1);
    const stored = await h.store.get(chainKey);
    expect(new Set(tokens).size).toBe(1);
    expect(tokens[0] === stored?.accessToken).toBe(true);
    expect(tokens[0] === before).toBe(false);
    expect(h.slack.peekAccessToken(tokens[0] as string)).toBe('active');
  });

  test('two rotators on one store racing the same refresh make one refresh and agree', async () => {
    h = await harness({ slack: { latencyMs: 50 } });
    const other = h.another();
    await h.installWith({ teamId: 'T2' }, 0);

    const [a, b] = await Promise.all([
      h.rotator.getToken({ teamId: 'T2' }),
      other.getToken({ teamId: 'T2' }),
    ]);

    expect(refreshCalls(h.slack)).toBe(1);
    expect(a === b).toBe(true);
    expect(h.slack.chains().every((c) => c.duplicates === 0)).toBe(true);
  });
});

describe('client credentials', () => {
  let h: Harness;
  afterEach(async () => {
    await h?.close();
  });

  test.each(['basic', 'form'] as const)('sent as %s', async (clientAuth) => {
    h = await harness({ rotator: { clientAuth } });
    await h.installWith({ teamId: 'T1' }, 0);
    await h.rotator.getToken({ teamId: 'T1' });
    const refreshes = h.slack.calls.filter((c) => c.grantType === 'refresh_token');
    expect(refreshes.map((c) => [c.clientAuth, c.outcome])).toEqual([[clientAuth, 'ok']]);
  });
});
