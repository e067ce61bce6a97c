import { describe, expect, it } from 'vitest';
import { createFakeSlackState, type FakeSlackStateOptions } from '../src/testing/fake-slack-state.js';
import { testClock } from './fake-slack-helpers.js';

function setup(overrides: Partial<FakeSlackStateOptions> = {}) {
  const clock = testClock();
  const state = createFakeSlackState({
    appId: 'A1',
    expiresInSeconds: 10,
    accessTokenLifetimeMs: 10_000,
    refreshGraceMs: 1_000,
    siblingSurvivor: 'first',
    maxActiveTokens: 0,
    rotationEnabled: true,
    now: clock.now,
    ...overrides,
  });
  /** Refreshes; returns the new refresh token, or the error code prefixed with '!'. */
  const spend = (token: string) => {
    const outcome = state.refresh(token, 'oauth');
    return outcome.ok ? String(outcome.body.refresh_token) : `!${outcome.error}`;
  };
  return { clock, state, spend };
}

describe('fake Slack state (no HTTP, injected clock)', () => {
  it('ends the grace period exactly refreshGraceMs after the first spending', () => {
    const { clock, state, spend } = setup({ refreshGraceMs: 1_000 });
    const { refresh_token: root } = state.install({ teamId: 'T1' });
    spend(root);
    clock.advance(999);
    expect(state.peekRefreshToken(root)).toBe('grace');
    clock.advance(1);
    expect(state.peekRefreshToken(root)).toBe('dead');
    expect(spend(root)).toBe('!invalid_refresh_token');
  });

  it('measures grace from the first spending, not from later forks', () => {
    const { clock, state, spend } = setup({ refreshGraceMs: 1_000 });
    const { refresh_token: root } = state.install({ teamId: 'T1' });
    spend(root);
    clock.advance(900);
    expect(spend(root).startsWith('xoxe-1-')).toBe(true);
    clock.advance(100);
    expect(spend(root)).toBe('!invalid_refresh_token');
  });

  it('settles a three-generation tree by the survivor rule, lazily from the clock', () => {
    const { clock, state, spend } = setup({ refreshGraceMs: 1_000, siblingSurvivor: 'first' });
    const { refresh_token: root } = state.install({ teamId: 'T1' });
    const a = spend(root);
    const b = spend(root);
    const a1 = spend(a);
    const b1 = spend(b);
    const b2 = spend(b1);
    expect([a, b, a1, b1, b2].map((token) => state.peekRefreshToken(token))).toEqual([
      'grace',
      'grace',
      'active',
      'grace',
      'active',
    ]);
    clock.advance(1_000);
    expect([a, b, a1, b1, b2].map((token) => state.peekRefreshToken(token))).toEqual([
      'dead',
      'dead',
      'active',
      'dead',
      'dead',
    ]);
    const chain = state.chainOf(root);
    expect([chain?.rotations, chain?.forks, chain?.currentRefreshTokenAlive]).toEqual([4, 1, true]);
  });

  it('counts presentations and duplicates per chain, even of tokens it then refuses', () => {
    const { state } = setup();
    const { refresh_token: root } = state.install({ teamId: 'T1' });
    expect(state.presentRefreshToken(root).duplicate).toBe(false);
    expect(state.presentRefreshToken(root).duplicate).toBe(true);
    expect(state.presentRefreshToken('xoxe-1-unknown')).toEqual({ duplicate: false, chainId: undefined });
    expect(state.presentRefreshToken('xoxe-1-unknown').duplicate).toBe(true);
    expect(state.chainOf(root)).toMatchObject({ refreshCalls: 2, duplicates: 1, rotations: 0 });
  });

  it('reports a revoked token as token_revoked even after it has expired', () => {
    const { clock, state } = setup({ maxActiveTokens: 1 });
    const install = state.install({ teamId: 'T1' });
    state.refresh(install.refresh_token, 'oauth');
    clock.advance(20_000);
    const outcome = state.authenticate(install.access_token);
    expect(outcome.ok ? 'ok' : outcome.error).toBe('token_revoked');
  });

  it('validates install specs with a [slack-rotator] TypeError', () => {
    const { state } = setup();
    expect(() => state.install({ teamId: '' })).toThrow(/^\[slack-rotator\]/);
    expect(() => state.install({ botScopes: 'chat:write' as unknown as string[] })).toThrow(TypeError);
    expect(() => state.createConfigToken({ teamId: 'T1', userId: '' })).toThrow(TypeError);
    expect(() => state.createLegacyToken({ teamId: 'T1', kind: 'app' as 'bot' })).toThrow(TypeError);
  });

  it('generates distinct ids for installs without ids, and org ids for org-wide ones', () => {
    const { state } = setup();
    const a = state.install({});
    const b = state.install({});
    const org = state.install({ isEnterpriseInstall: true });
    expect(a.team?.id === b.team?.id).toBe(false);
    expect(a.bot_user_id === b.bot_user_id).toBe(false);
    expect(org.team).toBeNull();
    expect(org.enterprise?.id).toMatch(/^E/);
  });
});
