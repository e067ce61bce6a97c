/**
 * End to end, against the real server process over HTTP: who may read what, malformed requests,
 * and no token or key in the server's output.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { type BrokerFixture, call, createBrokerFixture } from './helpers/broker-fixture.js';
import type { ServerProcess } from './helpers/server-process.js';

let f: BrokerFixture;
let server: ServerProcess;
let admin: string;
let reader: string;
let revoked: string;
let unknown: string;
/** Every token the test saw (install answers and broker answers), for the output scan. */
const tokens: string[] = [];

const get = (path: string, key?: string) => call(server.url, 'GET', path, key === undefined ? {} : { key });

beforeAll(async () => {
  f = await createBrokerFixture();
  admin = await f.createKey('*');
  reader = await f.createKey(['T1']);
  revoked = await f.createKey('*', { revoked: true });
  unknown = 'srk_' + 'A'.repeat(43);
  server = await f.start();
  for (const teamId of ['T1', 'T2']) {
    const answer = f.slack.install({ teamId, withUserToken: true });
    tokens.push(answer.access_token, answer.refresh_token);
    const saved = await call(server.url, 'POST', '/v1/installations', {
      key: admin,
      json: { ...answer, bot_id: 'B0BOT' },
    });
    expect(saved.status).toBe(201);
  }
});

afterAll(async () => {
  await f?.close();
});

describe('authentication', () => {
  test('/healthz, /readyz, /metrics and the dashboard need no key', async () => {
    expect(await get('/healthz')).toMatchObject({ status: 200, body: { ok: true } });
    expect(await get('/readyz')).toMatchObject({ status: 200, body: { ok: true } });
    const metrics = await get('/metrics');
    expect(metrics.status).toBe(200);
    expect(metrics.text).toMatch(/^# HELP /m);
    const dashboard = await get('/');
    expect(dashboard.status).toBe(200);
    expect(dashboard.text).toMatch(/<html/i);
  });

  test.each([
    ['no key', undefined, {}],
    ['a malformed header', undefined, { authorization: 'Basic abc' }],
    ['a key of the wrong shape', undefined, { authorization: 'Bearer srk_short' }],
  ])('%s → 401 unauthorized', async (_name, _key, headers) => {
    const answer = await call(server.url, 'GET', '/v1/installations/T1/token', { headers });
    expect(answer.status).toBe(401);
    expect(answer.body.error.code).toBe('unauthorized');
  });

  test('an unknown key and a revoked key → 401', async () => {
    for (const key of [unknown, revoked]) {
      const answer = await get('/v1/installations/T1/token', key);
      expect(answer.status).toBe(401);
      expect(answer.body).toEqual({ error: { code: 'unauthorized', message: 'unknown or revoked API key' } });
    }
  });

  test('a key limited to T1 reads T1: a token that works at Slack, with its expiry and ids', async () => {
    const answer = await get('/v1/installations/T1/token?min_validity=300', reader);
    expect(answer.status).toBe(200);
    tokens.push(answer.body.token);
    expect(f.slack.peekAccessToken(answer.body.token)).toBe('active');
    expect(answer.body).toMatchObject({
      installation_id: 'T1',
      chain: 'bot',
      bot_id: 'B0BOT',
      scopes: expect.any(Array),
    });
    expect(answer.body.expires_in).toBeGreaterThan(300);
    expect(Date.parse(answer.body.expires_at)).toBeGreaterThan(Date.now());
  });

  test('a user chain is read with chain=user:U…', async () => {
    const chains = f.slack.chains().filter((c) => c.teamId === 'T1' && c.kind === 'user');
    const userId = chains[0]?.userId as string;
    const answer = await get(`/v1/installations/T1/token?chain=user:${userId}`, reader);
    expect(answer.status).toBe(200);
    tokens.push(answer.body.token);
    expect(answer.body).toMatchObject({ chain: `user:${userId}`, user_id: userId });
    expect(f.slack.peekAccessToken(answer.body.token)).toBe('active');
  });

  test('a foreign installation → 403, the same answer whether it exists or not', async () => {
    const existing = await get('/v1/installations/T2/token', reader);
    const missing = await get('/v1/installations/T9NOTHERE/token', reader);
    expect(existing.status).toBe(403);
    expect(existing.body.error.code).toBe('forbidden');
    expect(missing.status).toBe(403);
    expect(missing.text).toBe(existing.text);
  });

  test('registering or deleting installations needs a "*" key', async () => {
    const answer = f.slack.install({ teamId: 'T3' });
    tokens.push(answer.access_token, answer.refresh_token);
    const post = await call(server.url, 'POST', '/v1/installations', { key: reader, json: answer });
    expect(post.status).toBe(403);
    const del = await call(server.url, 'DELETE', '/v1/installations/T1', { key: reader });
    expect(del.status).toBe(403);
    expect((await get('/v1/installations/T1/token', reader)).status).toBe(200);
  });

  test('an unknown installation, asked by a "*" key → 404 not_found', async () => {
    const answer = await get('/v1/installations/T9NOTHERE/token', admin);
    expect(answer.status).toBe(404);
    expect(answer.body.error.code).toBe('not_found');
  });
});

describe('malformed requests', () => {
  test.each(['t1', 'X123', 'T1:T2', 'A1:', 'T%20'])(
    'installation id %s → 400 invalid_installation_id',
    async (id) => {
      const answer = await get(`/v1/installations/${id}/token`, admin);
      expect(answer.status).toBe(400);
      expect(answer.body.error.code).toBe('invalid_installation_id');
    },
  );

  test.each([
    ['chain=robot', 'query.chain'],
    ['min_validity=-1', 'query.min_validity'],
    ['min_validity=soon', 'query.min_validity'],
    ['colour=blue', 'query.colour'],
  ])('?%s → 400 invalid_request naming %s', async (query, field) => {
    const answer = await get(`/v1/installations/T1/token?${query}`, admin);
    expect(answer.status).toBe(400);
    expect(answer.body.error.code).toBe('invalid_request');
    expect(answer.body.error.message).toContain(field);
  });

  test('min_validity larger than a token can ever have → 400 min_validity_too_large naming the maximum', async () => {
    const answer = await get('/v1/installations/T1/token?min_validity=43200', admin);
    expect(answer.status).toBe(400);
    expect(answer.body.error.code).toBe('min_validity_too_large');
    // 12 h lifetime minus the default 1 h refresh window.
    expect(answer.body.error.message).toContain('39600');
    expect((await get('/v1/installations/T1/token?min_validity=39600', admin)).status).toBe(200);
  });

  test('token/expired bodies: missing token, wrong type, unknown field, not JSON', async () => {
    const path = '/v1/installations/T1/token/expired';
    const cases: [unknown, string][] = [
      [{}, 'body.token'],
      [{ token: 42 }, 'body.token'],
      [{ token: 'x', extra: 1 }, 'body.extra'],
      [{ token: 'x', chain: 'everything' }, 'body.chain'],
    ];
    for (const [json, field] of cases) {
      const answer = await call(server.url, 'POST', path, { key: admin, json });
      expect(answer.status).toBe(400);
      expect(answer.body.error.code).toBe('invalid_request');
      expect(answer.body.error.message).toContain(field);
    }
    const secretish = '{"token": "xoxe.xoxb-SECRET-BITS", oops}';
    const broken = await call(server.url, 'POST', path, { key: admin, rawBody: secretish });
    expect(broken.status).toBe(400);
    expect(broken.body.error.code).toBe('invalid_request');
    expect(broken.text).not.toContain('SECRET');
  });

  test('a body that is too large → 400 JSON error', async () => {
    const answer = await call(server.url, 'POST', '/v1/installations', {
      key: admin,
      rawBody: JSON.stringify({ ok: true, padding: 'x'.repeat(200_000) }),
    });
    expect(answer.status).toBe(400);
    expect(answer.body.error.code).toBe('invalid_request');
    expect(answer.body.error.message).toMatch(/too large/);
  });

  test('an install answer the library refuses → 400 naming the field', async () => {
    const answer = await call(server.url, 'POST', '/v1/installations', {
      key: admin,
      json: { ok: true, team: { id: 'T5' }, token_type: 'bot', access_token: 'not-real', expires_in: 60 },
    });
    expect(answer.status).toBe(400);
    expect(answer.body.error.code).toBe('invalid_request');
    expect(answer.body.error.message).toContain('refresh_token');
  });

  test('an unknown route → 404 JSON not_found', async () => {
    const answer = await get('/v2/nothing?x=1');
    expect(answer.status).toBe(404);
    expect(answer.body).toEqual({ error: { code: 'not_found', message: 'no route GET /v2/nothing' } });
  });
});

describe('the server output', () => {
  test('holds no token and no API key, though it logged every request', async () => {
    const output = server.output();
    expect(server.logs().filter((l) => l.msg === 'request completed').length).toBeGreaterThan(20);
    const secrets = [...tokens, ...f.secrets];
    expect(secrets.length).toBeGreaterThan(8);
    const leaked = secrets.filter((s) => output.includes(s)).length;
    expect(leaked).toBe(0);
    expect(/xox[a-z]?[.-]|srk_/.test(output)).toBe(false);
  });
});
