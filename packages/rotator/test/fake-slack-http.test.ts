import { once } from 'node:events';
import { Agent, request } from 'node:http';
import type { Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createFakeSlack, type FakeSlack, type FakeSlackOptions } from '../src/testing/fake-slack.js';
import { basicAuth, field, post, read } from './fake-slack-helpers.js';

const open: FakeSlack[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((slack) => slack.close()));
});

async function start(options: FakeSlackOptions = {}) {
  const slack = await createFakeSlack(options);
  open.push(slack);
  return slack;
}

describe('the server', () => {
  it('listens on 127.0.0.1 with a trailing-slash /api/ url', async () => {
    const slack = await start();
    expect(slack.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/api\/$/);
    expect(slack.clientId).toBe('fake-client-id');
    expect(slack.clientSecret).toBe('fake-client-secret');
  });

  it('answers 404 unknown_method for a method it does not imitate', async () => {
    const slack = await start();
    const reply = await post(slack, 'conversations.list', {});
    expect(reply.status).toBe(404);
    expect(reply.body?.error).toBe('unknown_method');
    expect(slack.calls[0]?.outcome).toBe('unknown_method');
  });

  it('close() destroys keep-alive connections and is idempotent', async () => {
    const slack = await start();
    const agent = new Agent({ keepAlive: true });
    try {
      const socket = await new Promise<Socket>((resolve, reject) => {
        const req = request(`${slack.url}auth.test`, { method: 'POST', agent }, (res) => {
          res.resume();
          res.on('end', () => resolve(req.socket as Socket));
        });
        req.on('error', reject);
        req.end();
      });
      expect(socket.destroyed).toBe(false);
      const closed = once(socket, 'close');
      await slack.close();
      await slack.close();
      const timeout = new Promise((resolve) => setTimeout(resolve, 2_000, 'still open'));
      expect(await Promise.race([closed.then(() => 'closed'), timeout])).toBe('closed');
      await expect(fetch(`${slack.url}auth.test`, { method: 'POST' })).rejects.toThrow();
    } finally {
      agent.destroy();
    }
  });

  it('close() ends a call still in flight instead of waiting for it', async () => {
    const slack = await start({ latencyMs: 60_000 });
    const pending = fetch(`${slack.url}auth.test`, { method: 'POST' }).then(
      () => 'answered',
      () => 'failed',
    );
    // Let the request reach the server (a setup wait, not a timing assertion).
    await new Promise((resolve) => setTimeout(resolve, 100));
    const timeout = new Promise((resolve) => setTimeout(resolve, 2_000, 'still open'));
    expect(await Promise.race([slack.close().then(() => 'closed'), timeout])).toBe('closed');
    expect(await pending).toBe('failed');
    expect(slack.calls).toHaveLength(0);
  });

  it('rejects invalid options with a [slack-rotator] TypeError', async () => {
    const cases: FakeSlackOptions[] = [
      { expiresInSeconds: 0 },
      { expiresInSeconds: 1.5 },
      { refreshGraceMs: -1 },
      { maxActiveTokens: 1.5 },
      { siblingSurvivor: 'middle' as 'first' },
      { faults: { http_500: 0.7, html: 0.7 } },
      { faults: { http_500: 2 } },
      { latencyMs: { min: 10, max: 5 } },
      { clientId: '' },
    ];
    for (const options of cases) {
      await expect(createFakeSlack(options)).rejects.toMatchObject({
        name: 'TypeError',
        code: 'ERR_INVALID_ARG_VALUE',
        message: expect.stringMatching(/^\[slack-rotator\]/),
      });
    }
  });
});

describe('client credentials', () => {
  const grant = (slack: FakeSlack) => ({
    grant_type: 'refresh_token',
    refresh_token: slack.install({ teamId: 'T1' }).refresh_token,
  });

  it('accepts HTTP Basic credentials and records clientAuth basic', async () => {
    const slack = await start();
    const reply = await post(slack, 'oauth.v2.access', grant(slack), { authorization: basicAuth(slack) });
    expect(reply.body?.ok).toBe(true);
    expect(slack.calls[0]?.clientAuth).toBe('basic');
  });

  it('accepts client_id/client_secret form fields and records clientAuth form', async () => {
    const slack = await start({ clientId: '111.222', clientSecret: 's3cret' });
    const reply = await post(slack, 'oauth.v2.access', {
      ...grant(slack),
      client_id: '111.222',
      client_secret: 's3cret',
    });
    expect(reply.body?.ok).toBe(true);
    expect(slack.calls[0]?.clientAuth).toBe('form');
  });

  it('answers invalid_client_id for an unknown or missing client id, and spends nothing', async () => {
    const slack = await start();
    const args = grant(slack);
    const unknown = await post(slack, 'oauth.v2.access', {
      ...args,
      client_id: 'other',
      client_secret: slack.clientSecret,
    });
    expect(unknown.status).toBe(200);
    expect(unknown.body?.error).toBe('invalid_client_id');
    const missing = await post(slack, 'oauth.v2.access', args);
    expect(missing.body?.error).toBe('invalid_client_id');
    expect(slack.calls[1]?.clientAuth).toBe('none');
    expect(slack.peekRefreshToken(args.refresh_token)).toBe('active');
  });

  it('answers bad_client_secret for a wrong secret, by Basic or by form', async () => {
    const slack = await start();
    const args = grant(slack);
    const basic = await post(slack, 'oauth.v2.access', args, { authorization: basicAuth(slack, 'wrong') });
    expect(basic.body?.error).toBe('bad_client_secret');
    const form = await post(slack, 'oauth.v2.access', {
      ...args,
      client_id: slack.clientId,
      client_secret: 'x',
    });
    expect(form.body?.error).toBe('bad_client_secret');
    expect(slack.peekRefreshToken(args.refresh_token)).toBe('active');
  });

  it('answers invalid_grant_type for an unknown grant and invalid_arguments for missing arguments', async () => {
    const slack = await start();
    const auth = { authorization: basicAuth(slack) };
    const password = await post(slack, 'oauth.v2.access', { grant_type: 'password' }, auth);
    expect(password.body?.error).toBe('invalid_grant_type');
    const noRefresh = await post(slack, 'oauth.v2.access', { grant_type: 'refresh_token' }, auth);
    expect(noRefresh.body?.error).toBe('invalid_arguments');
    const noCode = await post(slack, 'oauth.v2.access', { grant_type: 'authorization_code' }, auth);
    expect(noCode.body?.error).toBe('invalid_arguments');
    expect(slack.calls.map((call) => call.grantType)).toEqual([
      'password',
      'refresh_token',
      'authorization_code',
    ]);
  });
});

describe('installs', () => {
  it('install() shapes a workspace install as Slack does', async () => {
    const slack = await start({ expiresInSeconds: 600 });
    const install = slack.install({
      teamId: 'T1',
      teamName: 'Acme',
      botScopes: ['chat:write', 'channels:read'],
    });
    expect(Object.keys(install).sort()).toEqual(
      [
        'ok',
        'app_id',
        'authed_user',
        'scope',
        'token_type',
        'access_token',
        'bot_user_id',
        'refresh_token',
        'expires_in',
        'team',
        'enterprise',
        'is_enterprise_install',
      ].sort(),
    );
    expect(install.token_type).toBe('bot');
    expect(install.scope).toBe('chat:write,channels:read');
    expect(install.expires_in).toBe(600);
    expect(install.team).toEqual({ id: 'T1', name: 'Acme' });
    expect(install.enterprise).toBeNull();
    expect(install.is_enterprise_install).toBe(false);
    expect(Object.keys(install.authed_user)).toEqual(['id']);
    expect(install.authed_user.id).toBe('U0INSTALLER');
    expect(install.access_token.startsWith('xoxe.xoxb-1-')).toBe(true);
    expect(install.refresh_token.startsWith('xoxe-1-')).toBe(true);
    expect(install.refresh_token.length).toBeGreaterThanOrEqual('xoxe-1-'.length + 32);
  });

  it('install() creates a user chain under authed_user when asked', async () => {
    const slack = await start();
    const install = slack.install({ teamId: 'T1', userId: 'U9', userScopes: ['search:read', 'users:read'] });
    const user = install.authed_user;
    expect(user.id).toBe('U9');
    expect(user.token_type).toBe('user');
    expect(user.scope).toBe('search:read,users:read');
    expect(user.expires_in).toBe(43_200);
    expect(user.access_token?.startsWith('xoxe.xoxp-1-')).toBe(true);
    expect(user.refresh_token?.startsWith('xoxe-1-')).toBe(true);
    expect(slack.chains().map((chain) => chain.kind)).toEqual(['bot', 'user']);
    expect(slack.install({ teamId: 'T2', withUserToken: true }).authed_user.token_type).toBe('user');
  });

  it('install() shapes an org-wide install with team null', async () => {
    const slack = await start();
    const install = slack.install({ enterpriseId: 'E1', isEnterpriseInstall: true, teamId: 'T-ignored' });
    expect(install.team).toBeNull();
    expect(install.enterprise?.id).toBe('E1');
    expect(install.is_enterprise_install).toBe(true);
    expect(slack.chainOf(install.refresh_token)).toMatchObject({ teamId: null, enterpriseId: 'E1' });
  });

  it('the authorization_code grant returns the registered install, once', async () => {
    const slack = await start();
    const code = slack.createAuthorizationCode({ teamId: 'T7', withUserToken: true });
    const auth = { authorization: basicAuth(slack) };
    const reply = await post(slack, 'oauth.v2.access', { code }, auth);
    expect(reply.body?.ok).toBe(true);
    expect(reply.body?.team).toEqual({ id: 'T7', name: 'Fake Team T7' });
    expect(field(reply, 'refresh_token').startsWith('xoxe-1-')).toBe(true);
    expect((reply.body?.authed_user as { token_type?: string }).token_type).toBe('user');
    expect(slack.peekRefreshToken(field(reply, 'refresh_token'))).toBe('active');
    const again = await post(slack, 'oauth.v2.access', { code, grant_type: 'authorization_code' }, auth);
    expect(again.body?.error).toBe('invalid_code');
  });
});

describe('Web API calls', () => {
  it('auth.test accepts a Bearer header, a form token, a JSON body and a GET query', async () => {
    const slack = await start();
    const { access_token: token, bot_user_id } = slack.install({ teamId: 'T1', teamName: 'Acme' });
    const bearer = await post(slack, 'auth.test', {}, { authorization: `Bearer ${token}` });
    expect(bearer.body).toMatchObject({ ok: true, team: 'Acme', team_id: 'T1', user_id: bot_user_id });
    expect(String(bearer.body?.bot_id)).toMatch(/^B/);
    expect(bearer.body?.is_enterprise_install).toBe(false);
    expect(bearer.body?.url).toBe('https://acme.slack.com/');
    expect((await post(slack, 'auth.test', { token })).body?.ok).toBe(true);
    const json = await fetch(`${slack.url}auth.test`, {
      method: 'POST',
      headers: { 'content-type': 'application/json; charset=utf-8' },
      body: JSON.stringify({ token }),
    });
    expect((await read(json)).body?.ok).toBe(true);
    const query = await fetch(`${slack.url}auth.test?${new URLSearchParams({ token })}`);
    expect((await read(query)).body?.ok).toBe(true);
  });

  it('auth.test tells a user token and an enterprise apart', async () => {
    const slack = await start();
    const install = slack.install({
      enterpriseId: 'E1',
      isEnterpriseInstall: true,
      userId: 'W1',
      withUserToken: true,
    });
    const reply = await post(
      slack,
      'auth.test',
      {},
      { authorization: `Bearer ${install.authed_user.access_token}` },
    );
    expect(reply.body).toMatchObject({
      ok: true,
      user_id: 'W1',
      enterprise_id: 'E1',
      is_enterprise_install: true,
    });
    expect(reply.body?.bot_id).toBeUndefined();
  });

  it('answers not_authed without a token and invalid_auth for an unknown or refresh token', async () => {
    const slack = await start();
    const install = slack.install({ teamId: 'T1' });
    expect((await post(slack, 'auth.test', {})).body?.error).toBe('not_authed');
    expect((await post(slack, 'auth.test', { token: 'xoxe.xoxb-1-nope' })).body?.error).toBe('invalid_auth');
    expect((await post(slack, 'auth.test', { token: install.refresh_token })).body?.error).toBe(
      'invalid_auth',
    );
  });

  it('answers invalid_json for a malformed JSON body', async () => {
    const slack = await start();
    const response = await fetch(`${slack.url}auth.test`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{not json',
    });
    expect((await read(response)).body?.error).toBe('invalid_json');
  });

  it('chat.postMessage posts with a channel and answers channel, ts and the message', async () => {
    const slack = await start();
    const { access_token: token } = slack.install({ teamId: 'T1' });
    const reply = await fetch(`${slack.url}chat.postMessage`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ channel: 'C1', text: 'hello' }),
    }).then(read);
    expect(reply.body?.ok).toBe(true);
    expect(reply.body?.channel).toBe('C1');
    expect(String(reply.body?.ts)).toMatch(/^\d+\.\d{6}$/);
    expect((reply.body?.message as { text?: string }).text).toBe('hello');
    const noChannel = await post(slack, 'chat.postMessage', { token, text: 'x' });
    expect(noChannel.body?.error).toBe('invalid_arguments');
    const noText = await post(slack, 'chat.postMessage', { token, channel: 'C1' });
    expect(noText.body?.error).toBe('no_text');
  });
});
