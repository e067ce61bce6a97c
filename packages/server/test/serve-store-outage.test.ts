/**
 * End to end: the PostgreSQL store goes down (a TCP proxy the test cuts) and comes back. The broker
 * answers 503 backend_unavailable (readyz too) while it is down, and recovers by itself.
 */
import { afterAll, beforeAll, expect, test } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../../rotator/test/helpers/postgres.js';
import { type BrokerFixture, call, createBrokerFixture } from './helpers/broker-fixture.js';
import { createTcpProxy, type TcpProxy } from './helpers/tcp-proxy.js';

let db: TestDatabase;
let proxy: TcpProxy;
let f: BrokerFixture;

beforeAll(async () => {
  db = await createTestDatabase('broker_outage');
  proxy = await createTcpProxy({ host: '127.0.0.1', port: 5432 });
  f = await createBrokerFixture({ storeUrl: `postgres://postgres@127.0.0.1:5432/${db.name}` });
});

afterAll(async () => {
  await f?.close();
  await proxy?.close();
  await db?.drop();
});

async function until(what: string, check: () => Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

test('store down → 503 backend_unavailable (readyz and cold reads); back → 200 again', async () => {
  const admin = await f.createKey('*');
  const server = await f.start({
    SLACK_ROTATOR_STORE: `postgres://postgres@127.0.0.1:${proxy.port}/${db.name}`,
  });
  const registered = await call(server.url, 'POST', '/v1/installations', {
    key: admin,
    json: f.slack.install({ teamId: 'T1' }),
  });
  expect(registered.status).toBe(201);
  // T2 is saved behind the server's back, so the server has never read it: a read needs the store.
  await f.backends.apps[0]?.rotator.saveInstallation(f.slack.install({ teamId: 'T2' }));
  const fresh = await f.createKey('*');
  expect((await call(server.url, 'GET', '/readyz')).status).toBe(200);

  proxy.cut();
  const ready = await call(server.url, 'GET', '/readyz');
  expect(ready.status).toBe(503);
  expect(ready.body.error.code).toBe('backend_unavailable');
  const cold = await call(server.url, 'GET', '/v1/installations/T2/token', { key: admin });
  expect(cold.status).toBe(503);
  expect(cold.body.error.code).toBe('backend_unavailable');
  const newKey = await call(server.url, 'GET', '/v1/installations/T1/token', { key: fresh });
  expect(newKey.status).toBe(503);
  expect(newKey.body.error.code).toBe('backend_unavailable');
  expect((await call(server.url, 'GET', '/healthz')).status).toBe(200);

  proxy.restore();
  await until('readyz to answer 200', async () => (await call(server.url, 'GET', '/readyz')).status === 200);
  const back = await call(server.url, 'GET', '/v1/installations/T2/token', { key: fresh });
  expect(back.status).toBe(200);
  expect(f.slack.peekAccessToken(back.body.token)).toBe('active');
  expect(server.output()).not.toMatch(/xox[a-z]?[.-]|srk_/);
});
