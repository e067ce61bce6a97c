import { afterEach, describe, expect, test } from 'vitest';
import { type Harness, harness, refreshCalls } from './helpers/setup.js';

let h: Harness;
afterEach(async () => {
  await h?.close();
});

/** A @slack/web-api style platform error. */
function platformError(error: string): Error {
  return Object.assign(new Error(`An API error occurred: ${error}`), {
    code: 'slack_webapi_platform_error',
    data: { ok: false, error },
  });
}

describe('withToken', () => {
  test('token_expired (thrown platform error): refreshes once and calls again exactly once', async () => {
    h = await harness();
    const [chainKey] = (await h.installWith({ teamId: 'T1' })) as [string];
    const seen: string[] = [];
    const result = await h.rotator.withToken({ teamId: 'T1' }, async (token) => {
      seen.push(token);
      if (seen.length === 1) throw platformError('token_expired');
      return 'done';
    });
    expect(result).toBe('done');
    expect(seen).toHaveLength(2);
    expect(seen[0] === seen[1]).toBe(false);
    expect(refreshCalls(h.slack)).toBe(1);
    expect(seen[1] === (await h.store.get(chainKey))?.accessToken).toBe(true);
  });

  test('token_expired answered as { ok: false } is retried too, and a second failure is returned, not looped', async () => {
    h = await harness();
    await h.installWith({ teamId: 'T1' });
    let calls = 0;
    const result = await h.rotator.withToken({ teamId: 'T1' }, async () => {
      calls++;
      return { ok: false, error: 'token_expired' };
    });
    expect(calls).toBe(2);
    expect(result).toEqual({ ok: false, error: 'token_expired' });
    expect(refreshCalls(h.slack)).toBe(1);
  });

  test('a thrown error with data.error === token_expired is rethrown after the one retry', async () => {
    h = await harness();
    await h.installWith({ teamId: 'T1' });
    let calls = 0;
    await expect(
      h.rotator.withToken({ teamId: 'T1' }, async () => {
        calls++;
        throw Object.assign(new Error('expired'), { data: { error: 'token_expired' } });
      }),
    ).rejects.toThrow('expired');
    expect(calls).toBe(2);
    expect(refreshCalls(h.slack)).toBe(1);
  });

  test('token_expired with a token that is no longer the stored one: no refresh, retry with the stored token', async () => {
    h = await harness();
    await h.installWith({ teamId: 'T1' });
    const peer = h.another();
    const seen: string[] = [];
    await h.rotator.withToken({ teamId: 'T1' }, async (token) => {
      seen.push(token);
      if (seen.length === 1) {
        await peer.refresh({ teamId: 'T1' }, { force: true });
        throw platformError('token_expired');
      }
    });
    expect(seen).toHaveLength(2);
    expect(refreshCalls(h.slack)).toBe(1);
  });

  test('concurrent token_expired failures of one token share a single refresh', async () => {
    h = await harness({ slack: { latencyMs: 20 } });
    await h.installWith({ teamId: 'T1' });
    const run = () =>
      h.rotator.withToken({ teamId: 'T1' }, async (token) => {
        if (h.slack.peekAccessToken(token) === 'active' && refreshCalls(h.slack) === 0) {
          throw platformError('token_expired');
        }
        return token;
      });
    const results = await Promise.all(Array.from({ length: 50 }, run));
    expect(refreshCalls(h.slack)).toBe(1);
    expect(new Set(results).size).toBe(1);
  });

  test.each(['invalid_auth', 'token_revoked', 'account_inactive'])(
    '%s: no retry when the stored token is unchanged',
    async (code) => {
      h = await harness();
      await h.installWith({ teamId: 'T1' });
      let calls = 0;
      await expect(
        h.rotator.withToken({ teamId: 'T1' }, async () => {
          calls++;
          throw platformError(code);
        }),
      ).rejects.toThrow(code);
      expect(calls).toBe(1);
      expect(refreshCalls(h.slack)).toBe(0);
    },
  );

  test('invalid_auth: one retry when the stored token changed meanwhile', async () => {
    h = await harness();
    await h.installWith({ teamId: 'T1' });
    const peer = h.another();
    const seen: string[] = [];
    await expect(
      h.rotator.withToken({ teamId: 'T1' }, async (token) => {
        seen.push(token);
        if (seen.length === 1) await peer.refresh({ teamId: 'T1' }, { force: true });
        throw platformError('invalid_auth');
      }),
    ).rejects.toThrow('invalid_auth');
    expect(seen).toHaveLength(2);
    expect(seen[0] === seen[1]).toBe(false);
  });

  test('other errors pass through untouched after one call', async () => {
    h = await harness();
    await h.installWith({ teamId: 'T1' });
    let calls = 0;
    const failure = new Error('channel_not_found');
    await expect(
      h.rotator.withToken({ teamId: 'T1' }, async () => {
        calls++;
        throw failure;
      }),
    ).rejects.toBe(failure);
    expect(calls).toBe(1);
  });

  test('works with a real call to Slack across an expired token', async () => {
    // Slack kills tokens after 300 ms while reporting a minute (clock skew, in effect).
    h = await harness({ lifetimeMs: 60_000, slack: { accessTokenLifetimeMs: 300 } });
    await h.installWith({ teamId: 'T1' });
    await new Promise((resolve) => setTimeout(resolve, 350));
    // The store says the token is fresh (cache), Slack says it expired: withToken recovers.
    const post = (token: string) =>
      fetch(`${h.slack.url}chat.postMessage`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}` },
        body: new URLSearchParams({ channel: 'C1', text: 'hi' }),
      }).then((r) => r.json() as Promise<{ ok: boolean; error?: string }>);
    const answers: { ok: boolean; error?: string }[] = [];
    const answer = await h.rotator.withToken({ teamId: 'T1' }, async (token) => {
      answers.push(await post(token));
      return answers.at(-1) as { ok: boolean };
    });
    expect(answers.map((a) => a.error ?? 'ok')).toEqual(['token_expired', 'ok']);
    expect(answer.ok).toBe(true);
    expect(refreshCalls(h.slack)).toBe(1);
  });
});
