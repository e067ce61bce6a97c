import type { FakeSlack } from '../src/testing/fake-slack.js';

/** A clock the test moves by hand. */
export interface TestClock {
  now: () => number;
  advance(ms: number): void;
}

export function testClock(start = 1_700_000_000_000): TestClock {
  let t = start;
  return {
    now: () => t,
    advance(ms) {
      t += ms;
    },
  };
}

/** What one call answered. `body` is `undefined` when the answer was not JSON. */
export interface Reply {
  status: number;
  headers: Headers;
  body: Record<string, unknown> | undefined;
  text: string;
}

export function basicAuth(slack: Pick<FakeSlack, 'clientId' | 'clientSecret'>, secret = slack.clientSecret) {
  return `Basic ${Buffer.from(`${slack.clientId}:${secret}`).toString('base64')}`;
}

/** POSTs form arguments to `method`; headers are added as given. */
export async function post(
  slack: FakeSlack,
  method: string,
  params: Record<string, string>,
  headers: Record<string, string> = {},
): Promise<Reply> {
  const response = await fetch(`${slack.url}${method}`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    body: new URLSearchParams(params),
  });
  return read(response);
}

export async function read(response: Response): Promise<Reply> {
  const text = await response.text();
  let body: Record<string, unknown> | undefined;
  if ((response.headers.get('content-type') ?? '').startsWith('application/json')) {
    body = JSON.parse(text) as Record<string, unknown>;
  }
  return { status: response.status, headers: response.headers, body, text };
}

/** The refresh grant of `oauth.v2.access`, with HTTP Basic client credentials. */
export function refresh(slack: FakeSlack, refreshToken: string): Promise<Reply> {
  return post(
    slack,
    'oauth.v2.access',
    { grant_type: 'refresh_token', refresh_token: refreshToken },
    { authorization: basicAuth(slack) },
  );
}

/** A string field of an answer (throws when absent, without printing the answer). */
export function field(reply: Reply, name: string): string {
  const value = reply.body?.[name];
  if (typeof value !== 'string') throw new Error(`the answer has no string field ${name}`);
  return value;
}

/** `auth.test` with a bearer token; returns `'ok'`, Slack's `error`, or `http_<status>` when not JSON. */
export async function authTest(slack: FakeSlack, token: string): Promise<string> {
  const reply = await post(slack, 'auth.test', {}, { authorization: `Bearer ${token}` });
  if (reply.body === undefined) return `http_${reply.status}`;
  return reply.body.ok === true ? 'ok' : String(reply.body.error);
}
