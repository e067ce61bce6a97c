/**
 * Several Slack apps behind one broker (in process): installation ids carry the app id
 * (`A…:T…`), registering names the app, and keys are limited by the prefixed id.
 */
import { afterEach, expect, test } from 'vitest';
import { createInProcessBroker, type InProcessBroker } from './helpers/in-process-broker.js';

let b: InProcessBroker | undefined;
afterEach(async () => {
  await b?.close();
  b = undefined;
});

const inject = (
  broker: InProcessBroker,
  method: 'GET' | 'POST',
  url: string,
  key: string,
  payload?: unknown,
) =>
  broker.broker.app.inject({
    method,
    url,
    headers: { authorization: `Bearer ${key}` },
    ...(payload === undefined ? {} : { payload: payload as object }),
  });

test('prefixed ids, ?app= on register, answers for another app refused, keys limited by prefixed id', async () => {
  b = await createInProcessBroker({ appIds: ['A1APP', 'A2APP'] });
  const admin = await b.createKey('*');
  const [one, two] = b.slacks as [(typeof b.slacks)[0], (typeof b.slacks)[0]];

  const unnamed = await inject(b, 'POST', '/v1/installations', admin, one.install({ teamId: 'T1' }));
  expect(unnamed.statusCode).toBe(400);
  expect(unnamed.json().error.message).toContain('?app=');

  const saved = await inject(b, 'POST', '/v1/installations?app=A1APP', admin, one.install({ teamId: 'T1' }));
  expect(saved.statusCode).toBe(201);
  expect(saved.json().installation_id).toBe('A1APP:T1');
  expect(
    (await inject(b, 'POST', '/v1/installations?app=A2APP', admin, two.install({ teamId: 'T1' }))).statusCode,
  ).toBe(201);

  const mismatch = await inject(
    b,
    'POST',
    '/v1/installations?app=A2APP',
    admin,
    one.install({ teamId: 'T3' }),
  );
  expect(mismatch.statusCode).toBe(400);
  expect(mismatch.json().error.message).toContain('A1APP');

  const token = await inject(b, 'GET', '/v1/installations/A1APP:T1/token', admin);
  expect(token.statusCode).toBe(200);
  expect(token.json().installation_id).toBe('A1APP:T1');
  expect(one.peekAccessToken(token.json().token)).toBe('active');
  const other = await inject(b, 'GET', '/v1/installations/A2APP:T1/token', admin);
  expect(two.peekAccessToken(other.json().token)).toBe('active');

  const bare = await inject(b, 'GET', '/v1/installations/T1/token', admin);
  expect(bare.statusCode).toBe(400);
  expect(bare.json().error.code).toBe('invalid_installation_id');
  const unknown = await inject(b, 'GET', '/v1/installations/A9NOPE:T1/token', admin);
  expect(unknown.statusCode).toBe(404);
  expect(unknown.json().error.code).toBe('unknown_app');

  const limited = await b.createKey(['A1APP:T1']);
  expect((await inject(b, 'GET', '/v1/installations/A1APP:T1/token', limited)).statusCode).toBe(200);
  const foreign = await inject(b, 'GET', '/v1/installations/A2APP:T1/token', limited);
  expect(foreign.statusCode).toBe(403);
  const missing = await inject(b, 'GET', '/v1/installations/A9NOPE:T1/token', limited);
  expect(missing.statusCode).toBe(403);
  expect(missing.body).toBe(foreign.body);
});
