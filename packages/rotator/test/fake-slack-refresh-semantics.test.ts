import { afterEach, describe, expect, it } from 'vitest';
import { createFakeSlack, type FakeSlack, type FakeSlackOptions } from '../src/testing/fake-slack.js';
import { authTest, field, refresh, type TestClock, testClock } from './fake-slack-helpers.js';

const open: FakeSlack[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((slack) => slack.close()));
});

async function start(options: FakeSlackOptions & { clock?: TestClock } = {}) {
  const clock = options.clock ?? testClock();
  const slack = await createFakeSlack({ now: clock.now, ...options });
  open.push(slack);
  return { slack, clock };
}

describe('refresh tokens are single use', () => {
  it('a first presentation spends the token and issues a new pair', async () => {
    const { slack } = await start();
    const install = slack.install({ teamId: 'T1' });
    expect(slack.peekRefreshToken(install.refresh_token)).toBe('active');

    const reply = await refresh(slack, install.refresh_token);
    expect(reply.status).toBe(200);
    expect(reply.body?.ok).toBe(true);
    const next = field(reply, 'refresh_token');
    const access = field(reply, 'access_token');
    expect(next.startsWith('xoxe-1-')).toBe(true);
    expect(access.startsWith('xoxe.xoxb-1-')).toBe(true);
    expect(next === install.refresh_token).toBe(false);
    expect(reply.body?.token_type).toBe('bot');
    expect(reply.body?.expires_in).toBe(43_200);
    expect(reply.body?.bot_user_id).toBe(install.bot_user_id);
    expect(reply.body?.team).toEqual({ id: 'T1', name: 'Fake Team T1' });
    expect(reply.body?.enterprise).toBeNull();
    expect(reply.body?.is_enterprise_install).toBe(false);
    expect(reply.body?.app_id).toBe('A0FAKEAPP');
    expect(reply.body?.scope).toBe('chat:write');
    expect(slack.peekRefreshToken(install.refresh_token)).toBe('grace');
    expect(slack.peekRefreshToken(next)).toBe('active');
  });

  it('refuses a spent token once its grace period is over', async () => {
    const { slack, clock } = await start({ refreshGraceMs: 1_000 });
    const install = slack.install({ teamId: 'T1' });
    expect((await refresh(slack, install.refresh_token)).body?.ok).toBe(true);
    clock.advance(1_000);
    expect(slack.peekRefreshToken(install.refresh_token)).toBe('dead');
    const again = await refresh(slack, install.refresh_token);
    expect(again.body?.ok).toBe(false);
    expect(again.body?.error).toBe('invalid_refresh_token');
  });

  it('is strict with refreshGraceMs 0: the second presentation is refused at once', async () => {
    const { slack } = await start({ refreshGraceMs: 0 });
    const install = slack.install({ teamId: 'T1' });
    expect((await refresh(slack, install.refresh_token)).body?.ok).toBe(true);
    expect(slack.peekRefreshToken(install.refresh_token)).toBe('dead');
    expect((await refresh(slack, install.refresh_token)).body?.error).toBe('invalid_refresh_token');
    expect(slack.chainOf(install.refresh_token)?.forks).toBe(0);
  });

  it('refuses an unknown refresh token', async () => {
    const { slack } = await start();
    const reply = await refresh(slack, 'xoxe-1-not-a-token-of-this-fake');
    expect(reply.body?.error).toBe('invalid_refresh_token');
  });

  it('refreshes a user chain independently, answering token_type user and user_id', async () => {
    const { slack } = await start();
    const install = slack.install({ teamId: 'T1', userId: 'U1', userScopes: ['search:read'] });
    const userRefresh = install.authed_user.refresh_token ?? '';
    const reply = await refresh(slack, userRefresh);
    expect(reply.body?.token_type).toBe('user');
    expect(reply.body?.user_id).toBe('U1');
    expect(reply.body?.scope).toBe('search:read');
    expect(field(reply, 'access_token').startsWith('xoxe.xoxp-1-')).toBe(true);
    expect(slack.peekRefreshToken(install.refresh_token)).toBe('active');
    expect(slack.chainOf(userRefresh)?.kind).toBe('user');
    expect(slack.chainOf(install.refresh_token)?.rotations).toBe(0);
  });

  it('answers team null and the enterprise for an org-wide chain', async () => {
    const { slack } = await start();
    const install = slack.install({ enterpriseId: 'E1', enterpriseName: 'Org', isEnterpriseInstall: true });
    const reply = await refresh(slack, install.refresh_token);
    expect(reply.body?.team).toBeNull();
    expect(reply.body?.enterprise).toEqual({ id: 'E1', name: 'Org' });
    expect(reply.body?.is_enterprise_install).toBe(true);
  });

  it('refuses every refresh token of a revoked chain', async () => {
    const { slack } = await start();
    const install = slack.install({ teamId: 'T1' });
    slack.revokeChain(install.access_token);
    expect(slack.peekRefreshToken(install.refresh_token)).toBe('dead');
    expect((await refresh(slack, install.refresh_token)).body?.error).toBe('invalid_refresh_token');
    expect(slack.chainOf(install.refresh_token)?.revoked).toBe(true);
    expect(slack.chainOf(install.refresh_token)?.currentRefreshTokenAlive).toBe(false);
    expect(slack.chainOf(install.refresh_token)?.activeAccessTokens).toBe(0);
  });
});

describe('a spent token presented again within grace forks a sibling pair', () => {
  it('issues a second, different pair and counts a fork and a duplicate', async () => {
    const { slack, clock } = await start({ refreshGraceMs: 2_000 });
    const install = slack.install({ teamId: 'T1' });
    const first = await refresh(slack, install.refresh_token);
    clock.advance(500);
    const second = await refresh(slack, install.refresh_token);
    expect(second.body?.ok).toBe(true);
    expect(field(first, 'refresh_token') === field(second, 'refresh_token')).toBe(false);
    expect(field(first, 'access_token') === field(second, 'access_token')).toBe(false);

    const chain = slack.chainOf(install.refresh_token);
    expect(chain?.refreshCalls).toBe(2);
    expect(chain?.rotations).toBe(1);
    expect(chain?.forks).toBe(1);
    expect(chain?.duplicates).toBe(1);
    expect(slack.calls.map((call) => call.duplicate)).toEqual([false, true]);
  });

  it("keeps only the first sibling after grace with siblingSurvivor 'first' (the default)", async () => {
    const { slack, clock } = await start({ refreshGraceMs: 2_000 });
    const install = slack.install({ teamId: 'T1' });
    const first = field(await refresh(slack, install.refresh_token), 'refresh_token');
    const second = field(await refresh(slack, install.refresh_token), 'refresh_token');
    expect(slack.peekRefreshToken(first)).toBe('active');
    expect(slack.peekRefreshToken(second)).toBe('active');

    clock.advance(2_000);
    expect(slack.peekRefreshToken(first)).toBe('active');
    expect(slack.peekRefreshToken(second)).toBe('dead');
    expect((await refresh(slack, second)).body?.error).toBe('invalid_refresh_token');
    expect((await refresh(slack, first)).body?.ok).toBe(true);
    expect(slack.chainOf(first)?.currentRefreshTokenAlive).toBe(true);
  });

  it("keeps only the last sibling after grace with siblingSurvivor 'last'", async () => {
    const { slack, clock } = await start({ refreshGraceMs: 2_000, siblingSurvivor: 'last' });
    const install = slack.install({ teamId: 'T1' });
    const first = field(await refresh(slack, install.refresh_token), 'refresh_token');
    const second = field(await refresh(slack, install.refresh_token), 'refresh_token');
    const third = field(await refresh(slack, install.refresh_token), 'refresh_token');

    clock.advance(2_000);
    expect(slack.peekRefreshToken(first)).toBe('dead');
    expect(slack.peekRefreshToken(second)).toBe('dead');
    expect(slack.peekRefreshToken(third)).toBe('active');
    expect((await refresh(slack, first)).body?.error).toBe('invalid_refresh_token');
    expect((await refresh(slack, third)).body?.ok).toBe(true);
    expect(slack.chainOf(third)?.forks).toBe(2);
  });

  it("kills a losing sibling's descendants too, once the parent's grace is over", async () => {
    // No active-token limit here: only the branch rule is under test.
    const { slack, clock } = await start({
      refreshGraceMs: 2_000,
      siblingSurvivor: 'last',
      maxActiveTokens: 0,
    });
    const install = slack.install({ teamId: 'T1' });
    const loser = field(await refresh(slack, install.refresh_token), 'refresh_token');
    clock.advance(100);
    // The losing branch keeps rotating while the parent is still in grace…
    const loserChild = await refresh(slack, loser);
    const loserGrandchild = field(loserChild, 'refresh_token');
    const loserAccess = field(loserChild, 'access_token');
    const winner = field(await refresh(slack, install.refresh_token), 'refresh_token');
    expect(slack.peekRefreshToken(loserGrandchild)).toBe('active');

    clock.advance(2_000);
    // …and dies with it: the branch issued from the loser is dead, the winner lives.
    expect(slack.peekRefreshToken(loserGrandchild)).toBe('dead');
    expect((await refresh(slack, loserGrandchild)).body?.error).toBe('invalid_refresh_token');
    expect(slack.peekRefreshToken(winner)).toBe('active');
    expect((await refresh(slack, winner)).body?.ok).toBe(true);
    // Access tokens are not killed by the branch dying: they live until they expire.
    expect(await authTest(slack, loserAccess)).toBe('ok');
  });
});

describe('peeking and counters', () => {
  it('peekRefreshToken does not spend, count or record anything', async () => {
    const { slack } = await start();
    const install = slack.install({ teamId: 'T1' });
    for (let i = 0; i < 3; i += 1) expect(slack.peekRefreshToken(install.refresh_token)).toBe('active');
    expect(slack.peekRefreshToken('xoxe-1-unknown')).toBe('unknown');
    expect(slack.calls).toHaveLength(0);
    expect(slack.chainOf(install.refresh_token)?.refreshCalls).toBe(0);
    expect((await refresh(slack, install.refresh_token)).body?.ok).toBe(true);
    expect(slack.calls[0]?.duplicate).toBe(false);
  });

  it('chainOf finds the chain from any generation, and chains() lists every chain with its counters', async () => {
    const { slack } = await start();
    const a = slack.install({ teamId: 'T1', withUserToken: true });
    const b = slack.install({ teamId: 'T2' });
    const reply = await refresh(slack, a.refresh_token);
    const ids = [
      slack.chainOf(a.access_token)?.chainId,
      slack.chainOf(a.refresh_token)?.chainId,
      slack.chainOf(field(reply, 'refresh_token'))?.chainId,
      slack.chainOf(field(reply, 'access_token'))?.chainId,
    ];
    expect(new Set(ids).size).toBe(1);
    expect(ids[0]).toBeDefined();
    expect(slack.chainOf('xoxe-1-unknown')).toBeUndefined();

    const all = slack.chains();
    expect(all.map((chain) => [chain.kind, chain.teamId])).toEqual([
      ['bot', 'T1'],
      ['user', 'T1'],
      ['bot', 'T2'],
    ]);
    expect(all[0]).toMatchObject({
      refreshCalls: 1,
      rotations: 1,
      duplicates: 0,
      forks: 0,
      revoked: false,
      currentRefreshTokenAlive: true,
      activeAccessTokens: 2,
      userId: 'U0INSTALLER',
      enterpriseId: null,
    });
    expect(all[2]?.chainId === slack.chainOf(b.refresh_token)?.chainId).toBe(true);
  });

  it('records every refresh call with its refresh token, grant type, outcome and chain', async () => {
    const { slack, clock } = await start({ refreshGraceMs: 1_000 });
    const install = slack.install({ teamId: 'T1' });
    await refresh(slack, install.refresh_token);
    clock.advance(1_000);
    await refresh(slack, install.refresh_token);
    const calls = slack.calls;
    expect(calls.map((call) => call.outcome)).toEqual(['ok', 'invalid_refresh_token']);
    expect(calls.map((call) => call.duplicate)).toEqual([false, true]);
    expect(calls.every((call) => call.refreshToken === install.refresh_token)).toBe(true);
    expect(calls.every((call) => call.grantType === 'refresh_token' && call.clientAuth === 'basic')).toBe(
      true,
    );
    expect(calls[1]?.at).toBe((calls[0]?.at ?? 0) + 1_000);
    expect(new Set(calls.map((call) => call.chainId))).toEqual(new Set([slack.chains()[0]?.chainId]));
    const chain = slack.chainOf(install.refresh_token);
    expect([chain?.refreshCalls, chain?.rotations, chain?.duplicates, chain?.forks]).toEqual([2, 1, 1, 0]);
  });
});
