/**
 * Registering an `oauth.v2.exchange` answer (in process): a user token's chain is keyed by its
 * `user_id`; an answer without one is refused naming the field.
 */
import type { FakeSlack } from 'slack-rotator/testing';
import { afterEach, expect, test } from 'vitest';
import { createInProcessBroker, type InProcessBroker } from './helpers/in-process-broker.js';

let b: InProcessBroker | undefined;
afterEach(async () => {
  await b?.close();
  b = undefined;
});

/** Exchanges a legacy user token at the fake Slack, as an operator's script would. */
async function exchangeAnswer(slack: FakeSlack, userId: string): Promise<Record<string, unknown>> {
  const legacy = slack.createLegacyToken({ teamId: 'T1', userId, kind: 'user' });
  const response = await fetch(`${slack.url}oauth.v2.exchange`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      client_id: slack.clientId,
      client_secret: slack.clientSecret,
      token: legacy,
    }),
  });
  const answer = (await response.json()) as Record<string, unknown>;
  expect(answer.ok).toBe(true);
  return answer;
}

test('an exchanged user token registers on its user chain, and is then served from it', async () => {
  b = await createInProcessBroker();
  const admin = await b.createKey('*');
  const slack = b.slacks[0] as FakeSlack;
  const answer = await exchangeAnswer(slack, 'U1');
  const headers = { authorization: `Bearer ${admin}` };

  const { user_id: _userId, ...anonymous } = answer;
  const post = (payload: unknown) =>
    b?.broker.app.inject({ method: 'POST', url: '/v1/installations', headers, payload: payload as object });
  const unnamed = await post(anonymous);
  expect(unnamed?.statusCode).toBe(400);
  expect(unnamed?.json().error.message).toContain('user_id');

  const saved = await post(answer);
  expect(saved?.statusCode).toBe(201);
  expect(saved?.json().chains).toEqual([{ chain: 'user:U1', expires_at: expect.any(String) }]);
  const token = await b.broker.app.inject({
    method: 'GET',
    url: '/v1/installations/T1/token?chain=user:U1',
    headers,
  });
  expect(token.statusCode).toBe(200);
  expect(slack.peekAccessToken(token.json().token)).toBe('active');
});
