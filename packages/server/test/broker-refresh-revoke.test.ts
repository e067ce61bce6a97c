/**
 * End to end: token/expired refreshes once and only while the reported token is still stored;
 * POST registers; DELETE revokes at Slack (auth.revoke), marks the chains revoked, and purges.
 */
import { afterEach, describe, expect, test } from 'vitest';
import { type BrokerFixture, call, createBrokerFixture, refreshCalls } from './helpers/broker-fixture.js';

let f: BrokerFixture | undefined;
afterEach(async () => {
  const leaks = f?.outputLeaks() ?? [];
  await f?.close();
  f = undefined;
  expect(leaks).toEqual([]);
});

describe('POST /v1/installations/{id}/token/expired', () => {
  test('two concurrent reports of the same token: exactly one refresh at Slack; both get the new token', async () => {
    f = await createBrokerFixture({ slack: { latencyMs: 200 } });
    const admin = await f.createKey('*');
    const server = await f.start();
    const registered = await call(server.url, 'POST', '/v1/installations', {
      key: admin,
      json: f.slack.install({ teamId: 'T1' }),
    });
    expect(registered.status).toBe(201);
    expect(registered.body).toEqual({
      installation_id: 'T1',
      chains: [{ chain: 'bot', expires_at: expect.any(String) }],
    });
    const first = await call(server.url, 'GET', '/v1/installations/T1/token', { key: admin });
    const failed = first.body.token as string;
    const report = () =>
      call(server.url, 'POST', '/v1/installations/T1/token/expired', { key: admin, json: { token: failed } });
    const [a, b] = await Promise.all([report(), report()]);
    expect(a.status).toBe(200);
    expect(b.status).toBe(200);
    expect(refreshCalls(f)).toBe(1);
    expect(a.body.token === b.body.token).toBe(true);
    expect(a.body.token === failed).toBe(false);
    expect(f.slack.peekAccessToken(a.body.token)).toBe('active');

    // A late report of the old token changes nothing.
    const late = await report();
    expect(late.status).toBe(200);
    expect(late.body.token === a.body.token).toBe(true);
    expect(refreshCalls(f)).toBe(1);
  });

  test('two server processes on one store, each told the same token expired: one refresh', async () => {
    f = await createBrokerFixture({ slack: { latencyMs: 200 } });
    const admin = await f.createKey('*');
    const one = await f.start();
    const two = await f.start();
    await call(one.url, 'POST', '/v1/installations', { key: admin, json: f.slack.install({ teamId: 'T1' }) });
    const failed = (await call(one.url, 'GET', '/v1/installations/T1/token', { key: admin })).body.token;
    const report = (url: string) =>
      call(url, 'POST', '/v1/installations/T1/token/expired', { key: admin, json: { token: failed } });
    const [a, b] = await Promise.all([report(one.url), report(two.url)]);
    expect([a.status, b.status]).toEqual([200, 200]);
    expect(refreshCalls(f)).toBe(1);
    expect(a.body.token === b.body.token).toBe(true);
  });
});

describe('DELETE /v1/installations/{id}', () => {
  test('revokes every token at Slack, marks the chains revoked and keeps the record', async () => {
    f = await createBrokerFixture();
    const admin = await f.createKey('*');
    const server = await f.start();
    const answer = f.slack.install({ teamId: 'T1', withUserToken: true });
    await call(server.url, 'POST', '/v1/installations', { key: admin, json: answer });
    const bot = (await call(server.url, 'GET', '/v1/installations/T1/token', { key: admin })).body.token;

    const deleted = await call(server.url, 'DELETE', '/v1/installations/T1', { key: admin });
    expect(deleted.status).toBe(200);
    expect(deleted.body.purged).toBe(false);
    expect([...deleted.body.revoked].sort()).toEqual(['bot', `user:${answer.authed_user.id}`].sort());
    expect(f.slack.calls.filter((c) => c.method === 'auth.revoke' && c.outcome === 'ok')).toHaveLength(2);
    expect(f.slack.peekAccessToken(bot)).toBe('revoked');
    expect(f.slack.peekAccessToken(answer.authed_user.access_token as string)).toBe('revoked');

    const after = await call(server.url, 'GET', '/v1/installations/T1/token', { key: admin });
    expect(after.status).toBe(409);
    expect(after.body.error.code).toBe('reauthorization_required');
    const records = await f.backends.store.list({ installationId: 'T1' });
    expect(records.records.map((r) => r.status)).toEqual(['revoked', 'revoked']);

    // Again: idempotent (a dead token counts as revoked).
    expect((await call(server.url, 'DELETE', '/v1/installations/T1', { key: admin })).status).toBe(200);
  });

  test('?purge=true removes the record too; an unknown installation is 404', async () => {
    f = await createBrokerFixture();
    const admin = await f.createKey('*');
    const server = await f.start();
    await call(server.url, 'POST', '/v1/installations', {
      key: admin,
      json: f.slack.install({ teamId: 'T1' }),
    });
    const purged = await call(server.url, 'DELETE', '/v1/installations/T1?purge=true', { key: admin });
    expect(purged.status).toBe(200);
    expect(purged.body).toEqual({ revoked: ['bot'], purged: true });
    expect((await f.backends.store.list({ installationId: 'T1' })).records).toHaveLength(0);
    const after = await call(server.url, 'GET', '/v1/installations/T1/token', { key: admin });
    expect(after.status).toBe(404);
    const again = await call(server.url, 'DELETE', '/v1/installations/T1', { key: admin });
    expect(again.status).toBe(404);
    expect(again.body.error.code).toBe('not_found');
  });

  test('Slack unreachable for auth.revoke → 503 slack_unavailable, and a retry completes', async () => {
    f = await createBrokerFixture();
    const admin = await f.createKey('*');
    const server = await f.start();
    await call(server.url, 'POST', '/v1/installations', {
      key: admin,
      json: f.slack.install({ teamId: 'T1' }),
    });
    const bot = (await call(server.url, 'GET', '/v1/installations/T1/token', { key: admin })).body.token;
    f.slack.injectFault('http_500', { method: 'auth.revoke' });
    const failed = await call(server.url, 'DELETE', '/v1/installations/T1', { key: admin });
    expect(failed.status).toBe(503);
    expect(failed.body.error.code).toBe('slack_unavailable');
    expect(f.slack.peekAccessToken(bot)).toBe('active');
    const retried = await call(server.url, 'DELETE', '/v1/installations/T1', { key: admin });
    expect(retried.status).toBe(200);
    expect(f.slack.peekAccessToken(bot)).toBe('revoked');
  });
});
