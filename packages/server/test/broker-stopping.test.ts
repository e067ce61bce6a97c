/**
 * While the broker stops (in process): new requests — readiness probes included, so a load
 * balancer drains the instance — get 503 backend_unavailable, and the answer closes its connection.
 */
import { afterEach, expect, test } from 'vitest';
import { createInProcessBroker, type InProcessBroker } from './helpers/in-process-broker.js';

let b: InProcessBroker | undefined;
afterEach(async () => {
  await b?.close();
  b = undefined;
});

test('after beginClosing, every request is 503 backend_unavailable with Connection: close', async () => {
  b = await createInProcessBroker();
  const key = await b.createKey('*');
  expect((await b.broker.app.inject({ method: 'GET', url: '/readyz' })).statusCode).toBe(200);
  b.broker.beginClosing();
  for (const request of [
    { method: 'GET' as const, url: '/readyz' },
    {
      method: 'GET' as const,
      url: '/v1/installations/T1/token',
      headers: { authorization: `Bearer ${key}` },
    },
  ]) {
    const answer = await b.broker.app.inject(request);
    expect(answer.statusCode).toBe(503);
    expect(answer.json()).toEqual({
      error: { code: 'backend_unavailable', message: 'the server is stopping' },
    });
    expect(answer.headers.connection).toBe('close');
  }
});
