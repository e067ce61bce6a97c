import { afterEach, describe, expect, it } from 'vitest';
import { createFakeSlack, type FakeSlack, type FakeSlackOptions } from '../src/testing/fake-slack.js';
import { authTest, field, post, refresh, testClock } from './fake-slack-helpers.js';

const open: FakeSlack[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((slack) => slack.close()));
});

async function start(options: FakeSlackOptions = {}) {
  const clock = testClock();
  const slack = await createFakeSlack({ now: clock.now, ...options });
  open.push(slack);
  return { slack, clock };
}

describe('access token expiry (compressed time)', () => {
  it('answers token_expired once the real lifetime has passed', async () => {
    const { slack, clock } = await start({ expiresInSeconds: 2 });
    const install = slack.install({ teamId: 'T1' });
    expect(install.expires_in).toBe(2);
    clock.advance(1_999);
    expect(await authTest(slack, install.access_token)).toBe('ok');
    expect(slack.peekAccessToken(install.access_token)).toBe('active');
    clock.advance(1);
    expect(await authTest(slack, install.access_token)).toBe('token_expired');
    expect(slack.peekAccessToken(install.access_token)).toBe('expired');
    const post1 = await post(slack, 'chat.postMessage', {
      token: install.access_token,
      channel: 'C',
      text: 'x',
    });
    expect(post1.body?.error).toBe('token_expired');
  });

  it('kills tokens after accessTokenLifetimeMs even when expires_in reports longer', async () => {
    const { slack, clock } = await start({ expiresInSeconds: 10, accessTokenLifetimeMs: 3_000 });
    const install = slack.install({ teamId: 'T1' });
    expect(install.expires_in).toBe(10);
    clock.advance(3_000);
    expect(await authTest(slack, install.access_token)).toBe('token_expired');
  });

  it('reports in auth.test the seconds left of the reported lifetime', async () => {
    const { slack, clock } = await start({ expiresInSeconds: 100 });
    const install = slack.install({ teamId: 'T1' });
    clock.advance(40_000);
    const reply = await post(slack, 'auth.test', { token: install.access_token });
    expect(reply.body?.expires_in).toBe(60);
  });

  it('a refresh does not kill the previous access token', async () => {
    const { slack } = await start();
    const install = slack.install({ teamId: 'T1' });
    const reply = await refresh(slack, install.refresh_token);
    expect(await authTest(slack, install.access_token)).toBe('ok');
    expect(await authTest(slack, field(reply, 'access_token'))).toBe('ok');
    expect(slack.chainOf(install.access_token)?.activeAccessTokens).toBe(2);
  });

  it('an expired token does not count against the active-token limit', async () => {
    const { slack, clock } = await start({ expiresInSeconds: 2 });
    const install = slack.install({ teamId: 'T1' });
    clock.advance(2_500);
    const first = await refresh(slack, install.refresh_token);
    const second = await refresh(slack, field(first, 'refresh_token'));
    expect(await authTest(slack, field(first, 'access_token'))).toBe('ok');
    expect(await authTest(slack, field(second, 'access_token'))).toBe('ok');
    expect(slack.peekAccessToken(install.access_token)).toBe('expired');
  });
});

describe('at most maxActiveTokens active access tokens per chain', () => {
  it('issuing a third token revokes the oldest (default limit 2)', async () => {
    const { slack } = await start();
    const install = slack.install({ teamId: 'T1' });
    const first = await refresh(slack, install.refresh_token);
    const second = await refresh(slack, field(first, 'refresh_token'));
    expect(await authTest(slack, install.access_token)).toBe('token_revoked');
    expect(slack.peekAccessToken(install.access_token)).toBe('revoked');
    expect(await authTest(slack, field(first, 'access_token'))).toBe('ok');
    expect(await authTest(slack, field(second, 'access_token'))).toBe('ok');
    expect(slack.chainOf(install.access_token)?.activeAccessTokens).toBe(2);
  });

  it('counts per chain: another chain is not affected', async () => {
    const { slack } = await start();
    const a = slack.install({ teamId: 'T1', withUserToken: true });
    const first = await refresh(slack, a.refresh_token);
    await refresh(slack, field(first, 'refresh_token'));
    expect(await authTest(slack, a.authed_user.access_token ?? '')).toBe('ok');
  });

  it('honours a custom limit, and 0 means unlimited', async () => {
    const one = (await start({ maxActiveTokens: 1 })).slack;
    const install = one.install({ teamId: 'T1' });
    await refresh(one, install.refresh_token);
    expect(one.peekAccessToken(install.access_token)).toBe('revoked');

    const unlimited = (await start({ maxActiveTokens: 0 })).slack;
    const chain = unlimited.install({ teamId: 'T1' });
    let refreshToken = chain.refresh_token;
    for (let i = 0; i < 5; i += 1)
      refreshToken = field(await refresh(unlimited, refreshToken), 'refresh_token');
    expect(unlimited.peekAccessToken(chain.access_token)).toBe('active');
    expect(unlimited.chainOf(refreshToken)?.activeAccessTokens).toBe(6);
  });
});

describe('revocation', () => {
  it('revokeChain revokes every access and refresh token of the chain, and only that chain', async () => {
    const { slack } = await start();
    const install = slack.install({ teamId: 'T1', withUserToken: true });
    const next = await refresh(slack, install.refresh_token);
    slack.revokeChain(field(next, 'refresh_token'));
    expect(await authTest(slack, install.access_token)).toBe('token_revoked');
    expect(await authTest(slack, field(next, 'access_token'))).toBe('token_revoked');
    expect(slack.peekRefreshToken(field(next, 'refresh_token'))).toBe('dead');
    expect(await authTest(slack, install.authed_user.access_token ?? '')).toBe('ok');
    expect(() => slack.revokeChain('xoxe-1-unknown')).toThrow(TypeError);
  });

  it('auth.revoke revokes the presented token only; test=1 revokes nothing', async () => {
    const { slack } = await start();
    const install = slack.install({ teamId: 'T1' });
    const next = await refresh(slack, install.refresh_token);
    const dry = await post(
      slack,
      'auth.revoke',
      { test: '1' },
      { authorization: `Bearer ${install.access_token}` },
    );
    expect(dry.body).toEqual({ ok: true, revoked: false });
    expect(await authTest(slack, install.access_token)).toBe('ok');

    const real = await post(slack, 'auth.revoke', { token: install.access_token });
    expect(real.body).toEqual({ ok: true, revoked: true });
    expect(await authTest(slack, install.access_token)).toBe('token_revoked');
    expect(await authTest(slack, field(next, 'access_token'))).toBe('ok');
    expect(slack.chainOf(install.access_token)?.revoked).toBe(false);
  });
});
