import { WebClient, WebClientEvent } from '@slack/web-api';
import { afterEach, expect, test } from 'vitest';
import type { Rotator } from '../src/rotator.js';
import { createRotatingClient } from '../src/web-api.js';
import { type Harness, harness, rejection } from './helpers/setup.js';

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

/** A real WebClient on the fake, wrapped for T1, and a count of the calls that went through withToken. */
async function setup() {
  h = await harness();
  await h.installWith({ teamId: 'T1' });
  const rotator = h.rotator;
  const counted = { calls: 0 };
  const countingRotator: Pick<Rotator, 'withToken'> = {
    withToken: (key, fn, options) => {
      counted.calls += 1;
      return rotator.withToken(key, fn, options);
    },
  };
  const client = new WebClient(undefined, { slackApiUrl: h.slack.url, retryConfig: { retries: 0 } });
  const web = createRotatingClient({ client, rotator: countingRotator, key: { teamId: 'T1' } });
  return { h, web, client, counted };
}

test('apiCall, the method tree and paginate all carry the installation token', async () => {
  const { h, web, counted } = await setup();
  expect((await web.apiCall('chat.postMessage', { channel: 'C1', text: 'a' })).ok).toBe(true);
  expect((await web.chat.postMessage({ channel: 'C1', text: 'b' })).ok).toBe(true);
  // paginate calls this.apiCall page by page: it must be the wrapper's.
  const pages = await web.paginate(
    'chat.postMessage',
    { channel: 'C1', text: 'c' },
    () => true,
    (count: number | undefined, page) => (count ?? 0) + (page.ok ? 1 : 0),
  );
  expect(pages).toBe(1);
  expect(counted.calls).toBe(3);
  const posts = h.slack.calls.filter((c) => c.method === 'chat.postMessage');
  expect(posts.map((c) => c.outcome)).toEqual(['ok', 'ok', 'ok']);
});

test('the unwrapped client has no token: the same call is refused (the wrapper is what adds it)', async () => {
  const { client } = await setup();
  const error = (await rejection(client.chat.postMessage({ channel: 'C1', text: 'x' }))) as {
    code: string;
    data: { error: string };
  };
  expect(error.code).toBe('slack_webapi_platform_error');
  expect(error.data.error).toBe('not_authed');
});

test('a call with its own token and the oauth.* methods go to the client untouched', async () => {
  const { h, web, counted } = await setup();
  const own = (await rejection(
    web.chat.postMessage({ token: 'xoxb-not-ours', channel: 'C1', text: 'x' }),
  )) as {
    data: { error: string };
  };
  expect(own.data.error).toBe('invalid_auth');
  const oauth = (await rejection(
    web.oauth.v2.access({ client_id: h.slack.clientId, client_secret: h.slack.clientSecret, code: 'nope' }),
  )) as { data: { error: string } };
  expect(oauth.data.error).toBe('invalid_code');
  expect(counted.calls).toBe(0);
});

test('other Slack errors are the WebClient’s own, thrown once, with no retry', async () => {
  const { h, web } = await setup();
  const error = (await rejection(web.chat.postMessage({ channel: 'C1' } as never))) as {
    code: string;
    data: { error: string };
  };
  expect(error.code).toBe('slack_webapi_platform_error');
  expect(error.data.error).toBe('no_text');
  expect(h.slack.calls.filter((c) => c.method === 'chat.postMessage')).toHaveLength(1);
});

test('the wrapper looks like the client: same class, same settings, stable namespaces', async () => {
  const { h, web, client } = await setup();
  expect(web).toBeInstanceOf(WebClient);
  expect(web.slackApiUrl).toBe(h.slack.url);
  expect(web.chat).toBe(web.chat);
  expect(web.chat.postMessage).toBe(web.chat.postMessage);
  expect(web.admin.users.list).toBe(web.admin.users.list);
  let rateLimited = 0;
  web.on(WebClientEvent.RATE_LIMITED, () => {
    rateLimited += 1;
  });
  client.emit(WebClientEvent.RATE_LIMITED, 1, {});
  expect(rateLimited).toBe(1);
});

test('invalid options are TypeErrors with a Node-style code and the [slack-rotator] prefix', async () => {
  const { h, client } = await setup();
  const cases: unknown[] = [
    undefined,
    { client, key: { teamId: 'T1' } },
    { client, rotator: h.rotator },
    { client, rotator: h.rotator, key: {} },
    { client, rotator: h.rotator, key: { teamId: 'T1', chain: 'user' } },
    { client, rotator: h.rotator, key: { teamId: 'T1' }, minValidityMs: -1 },
    { client: {}, rotator: h.rotator, key: { teamId: 'T1' } },
    { rotator: h.rotator, key: { teamId: 'T1' } },
  ];
  for (const options of cases) {
    let thrown: unknown;
    try {
      createRotatingClient(options as never);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(TypeError);
    expect((thrown as { code: string }).code).toMatch(/^ERR_INVALID_ARG_(VALUE|TYPE)$/);
    expect((thrown as Error).message).toMatch(/^\[slack-rotator\] /);
  }
});
