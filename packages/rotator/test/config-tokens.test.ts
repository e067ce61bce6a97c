import { afterEach, describe, expect, test } from 'vitest';
import { type Harness, harness, rejection } from './helpers/setup.js';

let h: Harness;
afterEach(async () => {
  await h?.close();
});

const rotateCalls = (h: Harness) => h.slack.calls.filter((c) => c.method === 'tooling.tokens.rotate');

describe('app configuration tokens (tooling.tokens.rotate)', () => {
  test('an expired configuration token is rotated once for many concurrent callers, and stored', async () => {
    h = await harness({ slack: { latencyMs: 20 } });
    const pair = h.slack.createConfigToken({ teamId: 'T1', userId: 'U1' });
    const { chainKey } = await h.rotator.saveConfigToken({
      ...pair,
      teamId: 'T1',
      userId: 'U1',
      exp: Math.floor(Date.now() / 1000) - 1,
    });
    expect(chainKey).toBe('config:T1:U1');
    const tokens = await Promise.all(
      Array.from({ length: 50 }, () => h.rotator.getConfigToken({ teamId: 'T1', userId: 'U1' })),
    );
    expect(rotateCalls(h)).toHaveLength(1);
    expect(rotateCalls(h)[0]?.clientAuth).toBe('none');
    expect(new Set(tokens).size).toBe(1);
    expect(tokens[0] === pair.token).toBe(false);
    const stored = await h.store.get(chainKey);
    expect(stored?.kind).toBe('config');
    expect(tokens[0] === stored?.accessToken).toBe(true);
    expect(h.slack.peekRefreshToken(stored?.refreshToken as string)).toBe('active');
    expect(stored?.expiresAt).toBeGreaterThan(Date.now());
  });

  test('a fresh configuration token is served without a call', async () => {
    h = await harness();
    const pair = h.slack.createConfigToken({ teamId: 'T1', userId: 'U1' });
    await h.rotator.saveConfigToken({ ...pair, teamId: 'T1', userId: 'U1' });
    expect((await h.rotator.getConfigToken({ teamId: 'T1', userId: 'U1' })) === pair.token).toBe(true);
    expect(rotateCalls(h)).toHaveLength(0);
  });

  test('the sweeper rotates configuration tokens too', async () => {
    h = await harness();
    const pair = h.slack.createConfigToken({ teamId: 'T1', userId: 'U1' });
    await h.rotator.saveConfigToken({
      ...pair,
      teamId: 'T1',
      userId: 'U1',
      exp: Math.floor(Date.now() / 1000) + 5,
    });
    const result = await h.rotator.sweep();
    expect(result.refreshed).toBe(1);
    expect(rotateCalls(h)).toHaveLength(1);
  });

  test('a refused refresh token marks the chain and raises the typed error', async () => {
    h = await harness({ slack: { refreshGraceMs: 0 } });
    const pair = h.slack.createConfigToken({ teamId: 'T1', userId: 'U1' });
    await h.rotator.saveConfigToken({
      ...pair,
      teamId: 'T1',
      userId: 'U1',
      exp: Math.floor(Date.now() / 1000) - 1,
    });
    h.slack.revokeChain(pair.refreshToken);
    const error = await rejection(h.rotator.getConfigToken({ teamId: 'T1', userId: 'U1' }));
    expect((error as { code?: string }).code).toBe('invalid_refresh_token');
    expect((await h.store.get('config:T1:U1'))?.status).toBe('reauthorization_required');
  });

  test('a lost answer is retried with the same refresh token inside the grace period', async () => {
    h = await harness({ slack: { siblingSurvivor: 'last' } });
    const pair = h.slack.createConfigToken({ teamId: 'T1', userId: 'U1' });
    await h.rotator.saveConfigToken({
      ...pair,
      teamId: 'T1',
      userId: 'U1',
      exp: Math.floor(Date.now() / 1000) - 1,
    });
    h.slack.injectFault('rotate_then_drop', { method: 'tooling.tokens.rotate' });
    await h.rotator.getConfigToken({ teamId: 'T1', userId: 'U1' });
    const calls = rotateCalls(h);
    expect(calls.map((c) => c.outcome)).toEqual(['fault:rotate_then_drop', 'ok']);
    expect(calls.every((c) => c.refreshToken === pair.refreshToken)).toBe(true);
    const stored = await h.store.get('config:T1:U1');
    expect(h.slack.peekRefreshToken(stored?.refreshToken as string)).toBe('active');
  });

  test('bad input is a TypeError and stores nothing', async () => {
    h = await harness();
    await expect(
      h.rotator.saveConfigToken({ teamId: 'T1', userId: 'U1', token: '', refreshToken: 'x', exp: 1 }),
    ).rejects.toMatchObject({
      code: 'ERR_INVALID_ARG_TYPE',
    });
    await expect(h.rotator.getConfigToken({ teamId: 'T1:x', userId: 'U1' })).rejects.toBeInstanceOf(
      TypeError,
    );
    expect((await h.store.list()).records).toHaveLength(0);
  });
});
