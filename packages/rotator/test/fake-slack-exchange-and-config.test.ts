import { afterEach, describe, expect, it } from 'vitest';
import { createFakeSlack, type FakeSlack, type FakeSlackOptions } from '../src/testing/fake-slack.js';
import { authTest, basicAuth, field, post, refresh, testClock } from './fake-slack-helpers.js';

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

const exchange = (slack: FakeSlack, token: string) =>
  post(slack, 'oauth.v2.exchange', { token }, { authorization: basicAuth(slack) });

const rotate = (slack: FakeSlack, refreshToken: string) =>
  post(slack, 'tooling.tokens.rotate', { refresh_token: refreshToken });

describe('oauth.v2.exchange', () => {
  it('turns a legacy bot token into a rotating chain, once', async () => {
    const { slack } = await start({ expiresInSeconds: 60 });
    const legacy = slack.createLegacyToken({ teamId: 'T1', enterpriseId: 'E1', kind: 'bot' });
    expect(legacy.startsWith('xoxb-')).toBe(true);
    expect(await authTest(slack, legacy)).toBe('ok');

    const reply = await exchange(slack, legacy);
    expect(reply.body?.ok).toBe(true);
    expect(reply.body?.token_type).toBe('bot');
    expect(reply.body?.expires_in).toBe(60);
    expect(reply.body?.app_id).toBe('A0FAKEAPP');
    expect(reply.body?.team).toEqual({ id: 'T1', name: 'Fake Team T1' });
    expect((reply.body?.enterprise as { id?: string }).id).toBe('E1');
    expect(String(reply.body?.bot_user_id)).toMatch(/^U/);
    expect(field(reply, 'access_token').startsWith('xoxe.xoxb-1-')).toBe(true);
    const refreshToken = field(reply, 'refresh_token');
    expect(slack.chainOf(legacy)?.chainId === slack.chainOf(refreshToken)?.chainId).toBe(true);
    expect((await refresh(slack, refreshToken)).body?.ok).toBe(true);

    const twice = await exchange(slack, legacy);
    expect(twice.body?.error).toBe('token_already_exchanged');
  });

  it('exchanges a legacy user token into a user chain', async () => {
    const { slack } = await start();
    const legacy = slack.createLegacyToken({ teamId: 'T1', userId: 'U5', kind: 'user' });
    expect(legacy.startsWith('xoxp-')).toBe(true);
    const reply = await exchange(slack, legacy);
    expect(reply.body?.token_type).toBe('user');
    expect(reply.body?.user_id).toBe('U5');
    expect(field(reply, 'access_token').startsWith('xoxe.xoxp-1-')).toBe(true);
    expect(slack.chainOf(legacy)?.kind).toBe('user');
  });

  it('answers invalid_token for a token that is not a legacy one', async () => {
    const { slack } = await start();
    const install = slack.install({ teamId: 'T1' });
    expect((await exchange(slack, install.access_token)).body?.error).toBe('invalid_token');
    expect((await exchange(slack, 'xoxb-1-2-nope')).body?.error).toBe('invalid_token');
    const missing = await post(slack, 'oauth.v2.exchange', {}, { authorization: basicAuth(slack) });
    expect(missing.body?.error).toBe('invalid_arguments');
  });

  it('needs the client credentials', async () => {
    const { slack } = await start();
    const legacy = slack.createLegacyToken({ teamId: 'T1', kind: 'bot' });
    const reply = await post(slack, 'oauth.v2.exchange', { token: legacy, client_id: slack.clientId });
    expect(reply.body?.error).toBe('bad_client_secret');
    expect(slack.chainOf(legacy)).toBeUndefined();
  });

  it('answers token_rotation_not_enabled when rotation is off', async () => {
    const { slack } = await start({ rotationEnabled: false });
    const legacy = slack.createLegacyToken({ teamId: 'T1', kind: 'bot' });
    expect((await exchange(slack, legacy)).body?.error).toBe('token_rotation_not_enabled');
    expect(slack.chains()).toHaveLength(0);
  });
});

describe('tooling.tokens.rotate', () => {
  it('rotates a configuration token without client credentials, answering absolute iat/exp', async () => {
    const { slack, clock } = await start({ expiresInSeconds: 43_200 });
    const config = slack.createConfigToken({ teamId: 'T1', userId: 'U1' });
    expect(config.token.startsWith('xoxe.xoxp-1-')).toBe(true);
    expect(config.refreshToken.startsWith('xoxe-1-')).toBe(true);
    expect(config.iat).toBe(Math.floor(clock.now() / 1000));
    expect(config.exp - config.iat).toBe(43_200);

    clock.advance(10_000);
    const reply = await rotate(slack, config.refreshToken);
    expect(reply.body?.ok).toBe(true);
    expect(Object.keys(reply.body ?? {}).sort()).toEqual(
      ['ok', 'token', 'refresh_token', 'team_id', 'user_id', 'iat', 'exp'].sort(),
    );
    expect(reply.body?.team_id).toBe('T1');
    expect(reply.body?.user_id).toBe('U1');
    expect(reply.body?.iat).toBe(Math.floor(clock.now() / 1000));
    expect(reply.body?.exp).toBe(Math.floor(clock.now() / 1000) + 43_200);
    expect(await authTest(slack, field(reply, 'token'))).toBe('ok');
    expect(slack.calls[0]).toMatchObject({
      method: 'tooling.tokens.rotate',
      clientAuth: 'none',
      outcome: 'ok',
    });
    expect(slack.chainOf(config.token)).toMatchObject({
      kind: 'config',
      rotations: 1,
      teamId: 'T1',
      userId: 'U1',
    });
  });

  it('applies the same single-use and grace rules', async () => {
    const { slack, clock } = await start({ refreshGraceMs: 1_000 });
    const config = slack.createConfigToken({ teamId: 'T1', userId: 'U1' });
    const first = await rotate(slack, config.refreshToken);
    const second = await rotate(slack, config.refreshToken);
    expect(second.body?.ok).toBe(true);
    clock.advance(1_000);
    expect((await rotate(slack, config.refreshToken)).body?.error).toBe('invalid_refresh_token');
    expect(slack.peekRefreshToken(field(first, 'refresh_token'))).toBe('active');
    expect(slack.peekRefreshToken(field(second, 'refresh_token'))).toBe('dead');
    expect(slack.chainOf(config.token)).toMatchObject({
      refreshCalls: 3,
      rotations: 1,
      forks: 1,
      duplicates: 2,
    });
  });

  it('does not mix the endpoints: each refuses the other kind of refresh token', async () => {
    const { slack } = await start();
    const config = slack.createConfigToken({ teamId: 'T1', userId: 'U1' });
    const install = slack.install({ teamId: 'T1' });
    expect((await refresh(slack, config.refreshToken)).body?.error).toBe('invalid_refresh_token');
    expect((await rotate(slack, install.refresh_token)).body?.error).toBe('invalid_refresh_token');
    expect(slack.peekRefreshToken(config.refreshToken)).toBe('active');
    expect(slack.peekRefreshToken(install.refresh_token)).toBe('active');
    expect((await post(slack, 'tooling.tokens.rotate', {})).body?.error).toBe('invalid_arguments');
  });

  it('is subject to faults like the refresh grant', async () => {
    const { slack } = await start();
    const config = slack.createConfigToken({ teamId: 'T1', userId: 'U1' });
    slack.setFaults({ rate_limited: 1 });
    expect((await rotate(slack, config.refreshToken)).status).toBe(429);
    slack.setFaults({});
    slack.injectFault('rotate_then_drop', { method: 'tooling.tokens.rotate' });
    await expect(rotate(slack, config.refreshToken)).rejects.toThrow();
    expect(slack.peekRefreshToken(config.refreshToken)).toBe('grace');
  });
});
